// Captioning: WD14-style tagging and BLIP natural-language captions, plus how their output
// merges with the captions a dataset already has.
export {
  KAOMOJI,
  DEFAULT_TAG_RULES,
  decideTags,
  displayTag,
  type ScoredTag,
  type TagDecision,
  type TagRuleOptions,
} from './tag-rules.js';
export {
  TAG_CATEGORIES,
  kindOfCategory,
  parseTagsCsv,
  type TagKind,
  type TagLabel,
} from './tags-csv.js';
export {
  WD14_DEFAULT_SIZE,
  WdTagger,
  taggerInput,
  type TaggedImage,
  type TaggerOptions,
} from './tagger.js';
export { WordPieceTokenizer, type WordPieceOptions } from './wordpiece.js';
export {
  BLIP_IMAGE_SIZE,
  BlipCaptioner,
  CLIP_MEAN,
  CLIP_STD,
  DEFAULT_MAX_TOKENS,
  argmaxLastRow,
  blipPixelValues,
  type BlipCaption,
  type BlipCaptionOptions,
  type BlipCaptionerOptions,
} from './blip.js';
export { CAPTION_MODES, mergeCaption, type CaptionMode, type MergeOptions } from './merge.js';
