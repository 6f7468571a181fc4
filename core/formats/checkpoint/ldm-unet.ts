// LDM / A1111 single-file UNet names (`model.diffusion_model.*`) → diffusers UNet2DConditionModel
// names. The block arithmetic follows the SD1.x/2.x layout: input_blocks.0 is conv_in, then per
// level `layers` resnet(+attention) blocks and a downsampler (not on the last level); output
// blocks hold `layers + 1` resnet(+attention) blocks per level and an upsampler (not on the
// last). Level and layer counts are read from the keys, so they are not hard-coded to 4 and 2.
import { CheckpointError } from './errors.js';
import { convertKeys, indicesOf, type ConvertedKeys, type ShapeMap } from './key-map.js';

export const LDM_UNET_PREFIX = 'model.diffusion_model.';

const PARAM = /^(weight|bias)$/;
const RESNET: readonly (readonly [string, string])[] = [
  ['in_layers.0.', 'norm1.'],
  ['in_layers.2.', 'conv1.'],
  ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'],
  ['out_layers.3.', 'conv2.'],
  ['skip_connection.', 'conv_shortcut.'],
];
// Attention internals keep their names in both formats; anything else is a leftover.
const ATTENTION =
  /^(norm|proj_in|proj_out|transformer_blocks\.\d+\.(norm[123]|attn[12]\.to_(q|k|v|out\.0)|ff\.net\.0\.proj|ff\.net\.2))\.(weight|bias)$/;

function resnet(rest: string): string | undefined {
  for (const [ldm, diffusers] of RESNET) {
    if (rest.startsWith(ldm) && PARAM.test(rest.slice(ldm.length)))
      return diffusers + rest.slice(ldm.length);
  }
  return undefined;
}

const attention = (rest: string): string | undefined => (ATTENTION.test(rest) ? rest : undefined);
const sampler = (rest: string): string | undefined => {
  const m = /^(?:conv|op)\.(weight|bias)$/.exec(rest);
  return m ? `conv.${m[1]}` : undefined;
};

const pre = (p: string, rest: string | undefined): string | undefined =>
  rest === undefined ? undefined : p + rest;

export interface UnetLayout {
  /** Resolution levels (len(block_out_channels)). */
  readonly levels: number;
  /** Resnets per down block (up blocks have one more). */
  readonly layersPerBlock: number;
}

/** Read levels and layers per block from the input_blocks numbering (keys without prefix). */
export function ldmUnetLayout(keys: Iterable<string>): UnetLayout {
  const all = [...keys];
  const inputs = indicesOf(all, /^input_blocks\.(\d+)\./);
  const downs = indicesOf(all, /^input_blocks\.(\d+)\.0\.op\./);
  if (inputs.length === 0) throw new CheckpointError('UNet has no input_blocks.* keys');
  const last = inputs[inputs.length - 1];
  const layersPerBlock = downs.length ? downs[0] - 1 : last;
  const levels = downs.length + 1;
  const stride = layersPerBlock + 1;
  const expectedDowns = Array.from({ length: levels - 1 }, (_, i) => stride * (i + 1));
  if (layersPerBlock < 1 || last !== levels * stride - 1 || downs.join() !== expectedDowns.join()) {
    throw new CheckpointError(
      `UNet input_blocks 0..${last} with downsamplers at [${downs.join(', ')}] do not form an SD-style layout ` +
        `(expected ${levels} levels × ${layersPerBlock} layers, downsamplers at [${expectedDowns.join(', ')}])`,
    );
  }
  return { levels, layersPerBlock };
}

/** Map one UNet key (prefix stripped) to its diffusers name, or undefined when no rule fits. */
export function mapLdmUnetKey(key: string, layout: UnetLayout): string | undefined {
  const { levels, layersPerBlock: lpb } = layout;
  let m: RegExpExecArray | null;
  if ((m = /^time_embed\.([02])\.(weight|bias)$/.exec(key))) {
    return `time_embedding.linear_${m[1] === '0' ? 1 : 2}.${m[2]}`;
  }
  if ((m = /^input_blocks\.0\.0\.(weight|bias)$/.exec(key))) return `conv_in.${m[1]}`;
  if ((m = /^out\.([02])\.(weight|bias)$/.exec(key)))
    return `${m[1] === '0' ? 'conv_norm_out' : 'conv_out'}.${m[2]}`;
  if ((m = /^middle_block\.([012])\.(.+)$/.exec(key))) {
    const rest = m[2];
    if (m[1] === '1') return pre('mid_block.attentions.0.', attention(rest));
    return pre(`mid_block.resnets.${m[1] === '0' ? 0 : 1}.`, resnet(rest));
  }
  if ((m = /^input_blocks\.(\d+)\.([01])\.(.+)$/.exec(key))) {
    const n = Number(m[1]);
    if (n < 1) return undefined;
    const i = Math.floor((n - 1) / (lpb + 1));
    const j = (n - 1) % (lpb + 1);
    if (i >= levels) return undefined;
    if (j === lpb) {
      if (m[2] !== '0' || i === levels - 1 || !m[3].startsWith('op.')) return undefined;
      return pre(`down_blocks.${i}.downsamplers.0.`, sampler(m[3]));
    }
    if (m[2] === '0') return pre(`down_blocks.${i}.resnets.${j}.`, resnet(m[3]));
    return pre(`down_blocks.${i}.attentions.${j}.`, attention(m[3]));
  }
  if ((m = /^output_blocks\.(\d+)\.([012])\.(.+)$/.exec(key))) {
    const n = Number(m[1]);
    const i = Math.floor(n / (lpb + 1));
    const j = n % (lpb + 1);
    if (i >= levels) return undefined;
    const rest = m[3];
    const upsampler = j === lpb && i < levels - 1;
    if (m[2] === '0') return pre(`up_blocks.${i}.resnets.${j}.`, resnet(rest));
    // Sub-module 1 is the attention, or the upsampler in a block without attention.
    if (m[2] === '1' && !rest.startsWith('conv.'))
      return pre(`up_blocks.${i}.attentions.${j}.`, attention(rest));
    if (!upsampler || !rest.startsWith('conv.')) return undefined;
    return pre(`up_blocks.${i}.upsamplers.0.`, sampler(rest));
  }
  return undefined;
}

/** Convert every `model.diffusion_model.*` key; throws listing any key without a rule. */
export function convertLdmUnet(shapes: ShapeMap, prefix = LDM_UNET_PREFIX): ConvertedKeys {
  const keys = [...shapes.keys()]
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  const layout = ldmUnetLayout(keys);
  return convertKeys('UNet', shapes, prefix, (key) => {
    const name = mapLdmUnetKey(key, layout);
    return name === undefined ? undefined : { name };
  });
}
