// LDM VAE names (`first_stage_model.*` in a checkpoint, bare `encoder.*`/`decoder.*` in an
// external VAE file such as vae-ft-mse-840000) → diffusers AutoencoderKL names. LDM numbers the
// decoder levels from the shallowest (up.0) while diffusers runs up_blocks from the deepest, so
// the level index is reversed. The mid-block attention is a 1×1 conv in LDM and a Linear in
// diffusers: same bytes, shape [C, C, 1, 1] → [C, C].
import { CheckpointError } from './errors.js';
import { convertKeys, indicesOf, type ConvertedKeys, type ShapeMap } from './key-map.js';

export const LDM_VAE_PREFIX = 'first_stage_model.';

const RESNET = /^(norm1|conv1|norm2|conv2|nin_shortcut)\.(weight|bias)$/;
const ATTN: Readonly<Record<string, string>> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};
// Training-only leftovers found in some original VAE files (the LPIPS/discriminator loss).
const IGNORED = /^loss\./;

function resnet(rest: string): string | undefined {
  const m = RESNET.exec(rest);
  if (!m) return undefined;
  return `${m[1] === 'nin_shortcut' ? 'conv_shortcut' : m[1]}.${m[2]}`;
}

/** Map one VAE key (prefix stripped). `levels` = number of encoder levels. */
export function mapLdmVaeKey(
  key: string,
  shape: readonly number[],
  levels: number,
): { name: string; shape?: readonly number[] } | 'ignore' | undefined {
  if (IGNORED.test(key)) return 'ignore';
  let m: RegExpExecArray | null;
  if (/^(quant_conv|post_quant_conv)\.(weight|bias)$/.test(key)) return { name: key };
  if ((m = /^(encoder|decoder)\.(conv_in|conv_out|norm_out)\.(weight|bias)$/.exec(key))) {
    return { name: `${m[1]}.${m[2] === 'norm_out' ? 'conv_norm_out' : m[2]}.${m[3]}` };
  }
  if ((m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(key))) {
    const r = resnet(m[3]);
    return r ? { name: `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${r}` } : undefined;
  }
  if ((m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(key))) {
    const name = `${m[1]}.mid_block.attentions.0.${ATTN[m[2]]}.${m[3]}`;
    if (m[2] !== 'norm' && m[3] === 'weight' && shape.length === 4) {
      if (shape[2] !== 1 || shape[3] !== 1) return undefined;
      return { name, shape: [shape[0], shape[1]] };
    }
    return { name };
  }
  if ((m = /^encoder\.down\.(\d+)\.(block\.(\d+)|downsample)\.(.+)$/.exec(key))) {
    const i = Number(m[1]);
    if (i >= levels) return undefined;
    if (m[3] !== undefined) {
      const r = resnet(m[4]);
      return r ? { name: `encoder.down_blocks.${i}.resnets.${m[3]}.${r}` } : undefined;
    }
    const c = /^conv\.(weight|bias)$/.exec(m[4]);
    return c && i < levels - 1
      ? { name: `encoder.down_blocks.${i}.downsamplers.0.conv.${c[1]}` }
      : undefined;
  }
  if ((m = /^decoder\.up\.(\d+)\.(block\.(\d+)|upsample)\.(.+)$/.exec(key))) {
    const k = Number(m[1]);
    if (k >= levels) return undefined;
    const i = levels - 1 - k;
    if (m[3] !== undefined) {
      const r = resnet(m[4]);
      return r ? { name: `decoder.up_blocks.${i}.resnets.${m[3]}.${r}` } : undefined;
    }
    const c = /^conv\.(weight|bias)$/.exec(m[4]);
    return c && k > 0 ? { name: `decoder.up_blocks.${i}.upsamplers.0.conv.${c[1]}` } : undefined;
  }
  return undefined;
}

/** Number of resolution levels, from the encoder's `down.N` indices (checked against the decoder's). */
export function ldmVaeLevels(keys: Iterable<string>): number {
  const all = [...keys];
  const down = indicesOf(all, /^encoder\.down\.(\d+)\./);
  const up = indicesOf(all, /^decoder\.up\.(\d+)\./);
  if (down.length === 0) throw new CheckpointError('VAE has no encoder.down.* keys');
  const contiguous = (xs: number[]) => xs.every((x, i) => x === i);
  if (!contiguous(down) || !contiguous(up) || (up.length && up.length !== down.length)) {
    throw new CheckpointError(
      `VAE levels do not line up: encoder.down.[${down.join(', ')}], decoder.up.[${up.join(', ')}]`,
    );
  }
  return down.length;
}

/** Convert every VAE key under `prefix` ('first_stage_model.' in a checkpoint, '' in a VAE file). */
export function convertLdmVae(shapes: ShapeMap, prefix = LDM_VAE_PREFIX): ConvertedKeys {
  const keys = [...shapes.keys()]
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  const levels = ldmVaeLevels(keys);
  return convertKeys('VAE', shapes, prefix, (key, shape) => mapLdmVaeKey(key, shape, levels));
}

// Attention names of diffusers < 0.14, still found in older diffusers-format VAE files.
const LEGACY_ATTN: Readonly<Record<string, string>> = {
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
};

/**
 * Diffusers-named VAE keys (a `vae/` folder or a diffusers-format VAE file), accepting the
 * legacy attention names and 1×1-conv attention weights; throws listing any other key.
 */
export function convertDiffusersVae(shapes: ShapeMap, prefix = ''): ConvertedKeys {
  const KNOWN =
    /^(quant_conv|post_quant_conv|(encoder|decoder)\.(conv_in|conv_out|conv_norm_out|mid_block\.(resnets\.\d+\.(norm1|conv1|norm2|conv2|conv_shortcut)|attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0))|(down_blocks|up_blocks)\.\d+\.(resnets\.\d+\.(norm1|conv1|norm2|conv2|conv_shortcut)|(downsamplers|upsamplers)\.0\.conv)))\.(weight|bias)$/;
  return convertKeys('VAE', shapes, prefix, (key, shape) => {
    const name = key.replace(
      /(mid_block\.attentions\.0\.)(query|key|value|proj_attn)\./,
      (_, p: string, a: string) => `${p}${LEGACY_ATTN[a]}.`,
    );
    if (!KNOWN.test(name)) return undefined;
    if (/attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name) && shape.length === 4) {
      return { name, shape: [shape[0], shape[1]] };
    }
    return { name };
  });
}
