// LDM text encoder names (`cond_stage_model.transformer.*`) → transformers CLIPTextModel names
// (`text_model.*`). Checkpoints saved with transformers < 4.x lack the `text_model.` level; both
// spellings occur in the wild. `position_ids` is a constant buffer, not a weight.
import { convertKeys, type ConvertedKeys, type ShapeMap } from './key-map.js';

export const LDM_CLIP_PREFIX = 'cond_stage_model.transformer.';

const CLIP_KEY =
  /^(embeddings\.(token_embedding|position_embedding)\.weight|encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|layer_norm1|layer_norm2|mlp\.fc1|mlp\.fc2)\.(weight|bias)|final_layer_norm\.(weight|bias))$/;

/** Map one text-encoder key (prefix stripped). */
export function mapLdmClipKey(key: string): { name: string } | 'ignore' | undefined {
  const rest = key.startsWith('text_model.') ? key.slice('text_model.'.length) : key;
  if (rest === 'embeddings.position_ids') return 'ignore';
  return CLIP_KEY.test(rest) ? { name: `text_model.${rest}` } : undefined;
}

export function convertLdmClip(shapes: ShapeMap, prefix = LDM_CLIP_PREFIX): ConvertedKeys {
  return convertKeys('text encoder', shapes, prefix, (key) => mapLdmClipKey(key));
}
