// Which base model a file belongs to. Checkpoints say it through their keys (core/formats's
// detection); LoRAs and embeddings through the width of what they adapt: the UNet's
// cross-attention context is 768 (SD1.x, CLIP ViT-L), 1024 (SD2.x, OpenCLIP ViT-H) or 2048
// (SDXL, both encoders concatenated). Training tools also record it in metadata (kohya
// `ss_base_model_version`, Stability's `modelspec.architecture`), used when the shapes cannot tell.
import type { CheckpointKind, ShapeMap } from '../formats/index.js';

export type ModelFamilyId = 'sd15' | 'sd2' | 'sdxl' | 'sd3' | 'flux' | 'unknown';

export interface FamilyGuess {
  family: ModelFamilyId;
  reason: string;
}

const BY_CONTEXT: Readonly<Record<number, ModelFamilyId>> = {
  768: 'sd15',
  1024: 'sd2',
  2048: 'sdxl',
};
/** A low-rank factor whose second dim is the adapted layer's input width. */
const DOWN_FACTOR = /(lora_down|lora_A|lora\.down|hada_w[12]_b)(\.[\w-]+)?(\.weight)?$/;
const CROSS_KV = /attn2[._]to_[kv]/;
const TE_LAYER = /^(lora_te_|text_encoder\.).*(mlp[._]fc1|self_attn[._][qkv]_proj)/;

function unknown(reason: string): FamilyGuess {
  return { family: 'unknown', reason };
}

function inputWidth(shapes: ShapeMap, test: (k: string) => boolean): [string, number] | undefined {
  for (const [k, s] of shapes) {
    if (test(k) && DOWN_FACTOR.test(k) && s.length >= 2) return [k, s[1]];
  }
  return undefined;
}

function adapterFamily(shapes: ShapeMap): FamilyGuess {
  const keys = [...shapes.keys()];
  const named = (re: RegExp) => keys.find((k) => re.test(k));
  let k: string | undefined;
  if ((k = named(/double_blocks|single_blocks|single_transformer_blocks/))) {
    return { family: 'flux', reason: `Flux block "${k}"` };
  }
  if ((k = named(/joint_blocks/))) return { family: 'sd3', reason: `SD3 block "${k}"` };
  const cross = inputWidth(shapes, (key) => CROSS_KV.test(key));
  if (cross && BY_CONTEXT[cross[1]]) {
    return {
      family: BY_CONTEXT[cross[1]],
      reason: `cross-attention input ${cross[1]} ("${cross[0]}")`,
    };
  }
  if ((k = named(/^lora_te[12]_|^text_encoder_2\./))) {
    return { family: 'sdxl', reason: `second text encoder "${k}"` };
  }
  const te = inputWidth(shapes, (key) => TE_LAYER.test(key));
  if (te && (te[1] === 768 || te[1] === 1024)) {
    return { family: BY_CONTEXT[te[1]], reason: `text-encoder width ${te[1]} ("${te[0]}")` };
  }
  return unknown(
    cross
      ? `cross-attention input ${cross[1]} matches no known family (768 SD1.x, 1024 SD2.x, 2048 SDXL)`
      : 'no cross-attention or text-encoder layer to measure',
  );
}

function embeddingFamily(shapes: ShapeMap): FamilyGuess {
  if (shapes.has('clip_g')) return { family: 'sdxl', reason: 'clip_l + clip_g vectors' };
  for (const [k, s] of shapes) {
    const width = s[s.length - 1];
    if (/^(emb_params|string_to_param\.|clip_l$)/.test(k) && BY_CONTEXT[width]) {
      if (width === 2048) break;
      return { family: BY_CONTEXT[width], reason: `vector width ${width} ("${k}")` };
    }
  }
  return unknown('vector width matches no known text encoder');
}

/** The family told by tensor names and shapes. */
export function familyFromShapes(kind: CheckpointKind, shapes: ShapeMap): FamilyGuess {
  switch (kind) {
    case 'sd1':
      return { family: 'sd15', reason: 'SD1.x checkpoint keys' };
    case 'sd2':
    case 'sdxl':
    case 'sd3':
    case 'flux':
      return { family: kind, reason: `${kind.toUpperCase()} checkpoint keys` };
    case 'lora':
    case 'lycoris':
      return adapterFamily(shapes);
    case 'embedding':
      return embeddingFamily(shapes);
    case 'vae':
      return unknown(
        'SD1.x, SD2.x and SDXL VAEs share one architecture; the header does not tell them apart',
      );
    default:
      return unknown('not a model kind with a family');
  }
}

const META_RULES: [string, RegExp, ModelFamilyId][] = [
  ['ss_base_model_version', /^sdxl/i, 'sdxl'],
  ['ss_base_model_version', /^sd_v2/i, 'sd2'],
  ['ss_base_model_version', /^sd_v1/i, 'sd15'],
  ['ss_base_model_version', /^sd3/i, 'sd3'],
  ['ss_base_model_version', /^flux/i, 'flux'],
  ['modelspec.architecture', /^stable-diffusion-xl/i, 'sdxl'],
  ['modelspec.architecture', /^stable-diffusion-v2/i, 'sd2'],
  ['modelspec.architecture', /^stable-diffusion-v1/i, 'sd15'],
  ['modelspec.architecture', /^stable-diffusion-v3/i, 'sd3'],
  ['modelspec.architecture', /^flux/i, 'flux'],
  ['ss_v2', /^true$/i, 'sd2'],
];

/** The family a training tool recorded in `__metadata__`. */
export function familyFromMetadata(meta: Readonly<Record<string, string>>): FamilyGuess {
  for (const [key, re, family] of META_RULES) {
    const v = meta[key];
    if (v !== undefined && re.test(v)) return { family, reason: `${key} = "${v}"` };
  }
  return unknown('no base-model entry in the metadata');
}
