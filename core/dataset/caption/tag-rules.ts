// Turning a tagger's probabilities into a caption: per-kind thresholds, ratings reported but
// not written by default, underscores to spaces (kaomoji kept as they are), a blacklist, a
// tag limit, most confident first.
import type { TagKind, TagLabel } from './tags-csv.js';

/** Tags whose underscores are the face itself (the WD14 webui extension's list). */
export const KAOMOJI: ReadonlySet<string> = new Set([
  '0_0',
  '(o)_(o)',
  '+_+',
  '+_-',
  '._.',
  '<o>_<o>',
  '<|>_<|>',
  '=_=',
  '>_<',
  '3_3',
  '6_9',
  '>_o',
  '@_@',
  '^_^',
  'o_o',
  'u_u',
  'x_x',
  '|_|',
  '||_||',
]);

export interface TagRuleOptions {
  /** Least probability of a general tag (default 0.35). */
  generalThreshold?: number;
  /** Least probability of a character tag (default 0.85). */
  characterThreshold?: number;
  /** Write the most likely rating as a tag too (default false: only reported). */
  includeRating?: boolean;
  /** `long_hair` → `long hair` (default true; kaomoji never change). */
  replaceUnderscores?: boolean;
  /** Tags never written; matched with or without underscores, ignoring case. */
  blacklist?: readonly string[];
  /** Most tags written (default: no limit); the least confident are dropped. */
  maxTags?: number;
}

export const DEFAULT_TAG_RULES = Object.freeze({
  generalThreshold: 0.35,
  characterThreshold: 0.85,
  includeRating: false,
  replaceUnderscores: true,
  maxTags: Infinity,
});

export interface ScoredTag {
  /** As written in the caption (underscores replaced when asked). */
  tag: string;
  /** As in the CSV. */
  name: string;
  kind: TagKind;
  score: number;
}

export interface TagDecision {
  /** What goes into the caption, most confident first. */
  tags: ScoredTag[];
  /** Every rating with its probability, most likely first. */
  ratings: ScoredTag[];
  /** Tags over their threshold that the blacklist or the limit removed. */
  dropped: ScoredTag[];
}

export function displayTag(name: string, replaceUnderscores = true): string {
  return replaceUnderscores && !KAOMOJI.has(name) ? name.replace(/_/g, ' ') : name;
}

const norm = (t: string) => t.trim().toLowerCase().replace(/_/g, ' ');

function checkThreshold(name: string, v: number): number {
  if (!(v >= 0 && v <= 1)) throw new Error(`${name} is ${v}; it must be a probability in 0…1`);
  return v;
}

/** Applies the rules to one image's probabilities (one per label, in label order). */
export function decideTags(
  labels: readonly TagLabel[],
  probs: ArrayLike<number>,
  opts: TagRuleOptions = {},
): TagDecision {
  if (probs.length !== labels.length) {
    throw new Error(`the model gave ${probs.length} probabilities for ${labels.length} tags`);
  }
  // Field by field: an explicit `undefined` (an optional API field) means the default too.
  const d = DEFAULT_TAG_RULES;
  const o = {
    generalThreshold: opts.generalThreshold ?? d.generalThreshold,
    characterThreshold: opts.characterThreshold ?? d.characterThreshold,
    includeRating: opts.includeRating ?? d.includeRating,
    replaceUnderscores: opts.replaceUnderscores ?? d.replaceUnderscores,
    maxTags: opts.maxTags ?? d.maxTags,
    blacklist: opts.blacklist ?? [],
  };
  const threshold: Record<TagKind, number> = {
    general: checkThreshold('generalThreshold', o.generalThreshold),
    character: checkThreshold('characterThreshold', o.characterThreshold),
    rating: Infinity,
  };
  const blocked = new Set(o.blacklist.map(norm).filter(Boolean));
  const byScore = (a: ScoredTag, b: ScoredTag) =>
    b.score - a.score || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
  const ratings: ScoredTag[] = [];
  const passed: ScoredTag[] = [];
  for (let i = 0; i < labels.length; i++) {
    const { name, kind } = labels[i];
    const scored = { tag: displayTag(name, o.replaceUnderscores), name, kind, score: probs[i] };
    if (kind === 'rating') ratings.push(scored);
    else if (probs[i] >= threshold[kind]) passed.push(scored);
  }
  ratings.sort(byScore);
  if (o.includeRating && ratings.length) passed.push(ratings[0]);
  passed.sort(byScore);
  const tags: ScoredTag[] = [];
  const dropped: ScoredTag[] = [];
  for (const t of passed) {
    const keep = !blocked.has(norm(t.name)) && tags.length < o.maxTags;
    (keep ? tags : dropped).push(t);
  }
  return { tags, ratings, dropped };
}
