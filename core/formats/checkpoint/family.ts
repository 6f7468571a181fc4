// What kind of file is this? Decided from tensor names (and a few shapes) alone, so a header
// read is enough: SD1.x checkpoints load; SD2.x, SDXL and newer families, LoRA/LyCORIS files
// and embeddings are recognised and refused with a message that says what they are.
import { UnsupportedCheckpointError } from './errors.js';
import type { ShapeMap } from './key-map.js';

export type CheckpointKind =
  | 'sd1'
  | 'sd2'
  | 'sdxl'
  | 'sd3'
  | 'flux'
  | 'vae'
  | 'lora'
  | 'lycoris'
  | 'embedding'
  | 'diffusers-unet'
  | 'unknown';

export interface Detection {
  readonly kind: CheckpointKind;
  /** Key naming of the file: single-file LDM/A1111, or diffusers/transformers names. */
  readonly naming: 'ldm' | 'diffusers' | 'other';
  /** For 'vae' files: the prefix in front of `encoder.*` ('' or 'first_stage_model.'). */
  readonly prefix: string;
  /** Why: the evidence, for messages and logs. */
  readonly reason: string;
}

const LORA =
  /(^lora_(unet|te\d?)_)|\.lora_(down|up)\.weight$|\.lora_[AB](\.[\w-]+)?\.weight$|\.lora\.(down|up)\.weight$/;
const LYCORIS =
  /\.(hada_w[12]_[ab]|hada_t[12]|lokr_w[12](_[ab])?|lokr_t2|oft_blocks|oft_diag|b_norm|w_norm)$/;

function some(keys: readonly string[], test: (k: string) => boolean): string | undefined {
  return keys.find(test);
}

function crossAttentionDim(shapes: ShapeMap): number | undefined {
  for (const [k, s] of shapes) {
    if (/^model\.diffusion_model\..*\.attn2\.to_k\.weight$/.test(k)) return s[1];
  }
  return undefined;
}

/** Classify a file from its tensor names and shapes. */
export function detectCheckpoint(shapes: ShapeMap): Detection {
  const keys = [...shapes.keys()];
  const found = (re: RegExp) => some(keys, (k) => re.test(k));
  let k: string | undefined;
  if ((k = found(LYCORIS)))
    return { kind: 'lycoris', naming: 'other', prefix: '', reason: `LyCORIS key "${k}"` };
  if ((k = found(LORA)))
    return { kind: 'lora', naming: 'other', prefix: '', reason: `LoRA key "${k}"` };
  if (
    (k = found(/^(emb_params|string_to_param\.|string_to_token$|clip_[lg]$)/)) &&
    keys.length <= 8
  ) {
    return { kind: 'embedding', naming: 'other', prefix: '', reason: `embedding key "${k}"` };
  }
  if ((k = found(/^conditioner\.embedders\.|^model\.diffusion_model\.label_emb\./))) {
    return { kind: 'sdxl', naming: 'ldm', prefix: '', reason: `SDXL key "${k}"` };
  }
  if ((k = found(/^model\.diffusion_model\.joint_blocks\./))) {
    return { kind: 'sd3', naming: 'ldm', prefix: '', reason: `SD3 key "${k}"` };
  }
  if ((k = found(/^(model\.diffusion_model\.)?double_blocks\./))) {
    return { kind: 'flux', naming: 'ldm', prefix: '', reason: `Flux key "${k}"` };
  }
  const unet = found(/^model\.diffusion_model\./);
  if ((k = found(/^cond_stage_model\.model\./))) {
    return { kind: 'sd2', naming: 'ldm', prefix: '', reason: `OpenCLIP text encoder key "${k}"` };
  }
  if (unet) {
    const dim = crossAttentionDim(shapes);
    const te = found(/^cond_stage_model\.transformer\./);
    if (dim === 1024)
      return { kind: 'sd2', naming: 'ldm', prefix: '', reason: 'UNet cross-attention dim 1024' };
    if (te) {
      return {
        kind: 'sd1',
        naming: 'ldm',
        prefix: '',
        reason: `CLIP text encoder "${te}", cross-attention dim ${dim}`,
      };
    }
    return {
      kind: 'unknown',
      naming: 'ldm',
      prefix: '',
      reason: 'an LDM UNet without a text encoder we know',
    };
  }
  for (const prefix of ['', 'first_stage_model.', 'vae.']) {
    if (found(new RegExp(`^${prefix.replace('.', '\\.')}(encoder\\.down\\.|decoder\\.up\\.)`))) {
      return {
        kind: 'vae',
        naming: 'ldm',
        prefix,
        reason: 'LDM VAE keys (encoder.down.*, decoder.up.*)',
      };
    }
    if (
      found(
        new RegExp(
          `^${prefix.replace('.', '\\.')}(encoder\\.down_blocks\\.|decoder\\.up_blocks\\.)`,
        ),
      )
    ) {
      return {
        kind: 'vae',
        naming: 'diffusers',
        prefix,
        reason: 'diffusers VAE keys (encoder.down_blocks.*)',
      };
    }
  }
  if (found(/^down_blocks\.\d+\.resnets\./) && found(/^conv_in\./)) {
    return {
      kind: 'diffusers-unet',
      naming: 'diffusers',
      prefix: '',
      reason: 'diffusers UNet keys without a pipeline',
    };
  }
  const sample = keys.slice(0, 5).join(', ');
  return {
    kind: 'unknown',
    naming: 'other',
    prefix: '',
    reason: keys.length ? `keys like ${sample}` : 'no tensors',
  };
}

/** The error to raise for a detection we do not load as a checkpoint (undefined for SD1.x). */
export function refusal(d: Detection, file: string): UnsupportedCheckpointError | undefined {
  const say = (msg: string) => new UnsupportedCheckpointError(d.kind, `${file}: ${msg}`);
  switch (d.kind) {
    case 'sd1':
      return undefined;
    case 'sd2':
      return say(
        `this is a Stable Diffusion 2.x checkpoint (${d.reason}; OpenCLIP ViT-H text encoder, 1024-d, often v-prediction). ` +
          'Only SD1.x checkpoints are supported for now.',
      );
    case 'sdxl':
      return say(
        `this is an SDXL checkpoint (${d.reason}). Only SD1.x checkpoints are supported for now.`,
      );
    case 'sd3':
    case 'flux':
      return say(
        `this is a ${d.kind === 'sd3' ? 'Stable Diffusion 3' : 'Flux'} model (${d.reason}); only SD1.x checkpoints are supported.`,
      );
    case 'lora':
    case 'lycoris':
      return say(
        `this is a ${d.kind === 'lora' ? 'LoRA' : 'LyCORIS'} file (${d.reason}), not a checkpoint. ` +
          'Pick a base model (an SD1.x checkpoint) here, and add this file as a LoRA when generating.',
      );
    case 'embedding':
      return say(`this is a textual-inversion embedding (${d.reason}), not a checkpoint.`);
    case 'vae':
      return say(
        'this is a VAE on its own, not a full checkpoint. Choose it as the external VAE of a checkpoint instead.',
      );
    case 'diffusers-unet':
      return say(
        'this is a bare diffusers UNet file. Open the whole diffusers folder (the one with model_index.json) instead.',
      );
    case 'unknown':
      return say(`not a Stable Diffusion checkpoint we recognise (${d.reason}).`);
  }
}
