// Loading the tiny SD1.5-topology pipeline from its single-file LDM checkpoint and its
// diffusers folder: same weights, same bytes, same configs.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inspectCheckpoint,
  loadCheckpoint,
  openSafetensors,
  parseSafetensors,
  PickleRefusedError,
  UnmappedKeysError,
  UnsupportedCheckpointError,
  writeSafetensors,
  type ConfigOverrides,
  type LoadedCheckpoint,
  type TensorToWrite,
} from '../../core/formats/index.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'tiny_sd');
const LDM = join(FIX, 'tiny_sd_ldm.safetensors');
// What the tiny weights cannot show (SD1.5 has 32 groups, 12 heads, sample 64/512).
const TINY: ConfigOverrides = {
  unet: { norm_num_groups: 8, sample_size: 8 },
  vae: { norm_num_groups: 8, sample_size: 64 },
  textEncoder: { num_attention_heads: 4 },
};
const configOf = async (dir: string) =>
  JSON.parse(await readFile(join(FIX, dir, 'config.json'), 'utf8')) as Record<string, unknown>;

let dir: string;
let single: LoadedCheckpoint;
let folder: LoadedCheckpoint;
let ldmTensors: Map<string, TensorToWrite>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ckpt-test-'));
  single = await loadCheckpoint(LDM, { configs: TINY });
  folder = await loadCheckpoint(FIX);
  const mem = parseSafetensors(new Uint8Array(await readFile(LDM)));
  ldmTensors = new Map();
  for (const t of mem.tensors.values())
    ldmTensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: await mem.read(t.name) });
});
afterAll(async () => {
  await single?.close();
  await folder?.close();
  await rm(dir, { recursive: true, force: true });
});

async function ldmWith(
  name: string,
  change: (m: Map<string, TensorToWrite>) => void,
): Promise<string> {
  const m = new Map(ldmTensors);
  change(m);
  const path = join(dir, name);
  await writeSafetensors(path, m);
  return path;
}

describe('loadCheckpoint', () => {
  it('single-file LDM and diffusers folder give the same weights, byte for byte', async () => {
    expect(single.family).toBe('sd1');
    expect(single.format).toBe('single-file');
    expect(folder.format).toBe('diffusers');
    for (const c of ['unet', 'vae', 'textEncoder'] as const) {
      const a = single.components[c];
      const b = folder.components[c];
      expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
      for (const [name, t] of a.tensors) {
        const u = b.tensors.get(name)!;
        expect([name, t.shape]).toEqual([name, u.shape]);
        const [x, y] = [await a.readTensor(name), await b.readTensor(name)];
        expect(Buffer.compare(Buffer.from(x.bytes), Buffer.from(y.bytes))).toBe(0);
      }
    }
  });

  it('describes weights by file/offset/length without reading them (external-data ready)', async () => {
    const w = single.components.vae.tensors.get('decoder.mid_block.attentions.0.to_q.weight')!;
    expect(w).toMatchObject({
      file: LDM,
      dtype: 'float32',
      shape: [32, 32],
      storedShape: [32, 32, 1, 1],
      transform: 'reshape-linear',
    });
    expect(w.source).toBe('first_stage_model.decoder.mid.attn_1.q.weight');
    expect(w.length).toBe(32 * 32 * 4);
    const f = await openSafetensors(LDM);
    expect(f.info(w.source).offset).toBe(w.offset);
    await f.close();
    const c = single.components.unet.tensors.get('conv_in.weight')!;
    expect(c.transform).toBeUndefined();
    expect(Array.from(await single.components.unet.readFloat32('conv_in.weight')).length).toBe(
      16 * 4 * 9,
    );
  });

  it('derives the tiny configs for the single file and reads config.json for the folder', async () => {
    for (const [c, file] of [
      ['unet', 'unet'],
      ['vae', 'vae'],
      ['textEncoder', 'text_encoder'],
    ] as const) {
      const ref = await configOf(file);
      expect(folder.configs[c]).toEqual(ref);
      const derived = single.configs[c] as Record<string, unknown>;
      for (const k of Object.keys(derived).filter((k) => k in ref))
        expect([k, derived[k]]).toEqual([k, ref[k]]);
    }
    expect(folder.tokenizerDir).toBe(join(FIX, 'tokenizer'));
    expect(single.tokenizerDir).toBeUndefined();
  });

  it('without overrides, says which config field the tiny weights cannot show', async () => {
    await expect(loadCheckpoint(LDM)).rejects.toThrow(
      /norm_num_groups = 32 does not divide the channel count 16/,
    );
  });

  it('ignores DDPM buffers, EMA copies and position_ids, but refuses unknown keys', async () => {
    const scalar = (v: number): TensorToWrite => ({
      dtype: 'float32',
      shape: [1],
      data: new Float32Array([v]),
    });
    const extra = await ldmWith('extra.safetensors', (m) => {
      m.set('alphas_cumprod', { dtype: 'float32', shape: [1000], data: new Float32Array(1000) });
      m.set('model_ema.decay', scalar(0.9999));
      m.set('cond_stage_model.transformer.text_model.embeddings.position_ids', {
        dtype: 'int64',
        shape: [1, 77],
        data: new BigInt64Array(77),
      });
    });
    const c = await loadCheckpoint(extra, { configs: TINY });
    expect([...c.ignoredKeys].sort()).toEqual(
      [
        'alphas_cumprod',
        'cond_stage_model.transformer.text_model.embeddings.position_ids',
        'model_ema.decay',
      ].sort(),
    );
    expect(c.components.textEncoder.tensors.size).toBe(84);
    await c.close();
    const stray = await ldmWith('stray.safetensors', (m) =>
      m.set('embedding_manager.foo', scalar(1)),
    );
    await expect(loadCheckpoint(stray, { configs: TINY })).rejects.toThrow(UnmappedKeysError);
    await expect(loadCheckpoint(stray, { configs: TINY })).rejects.toThrow(
      /embedding_manager\.foo/,
    );
  });

  it('replaces the VAE with an external one (LDM naming, bare or prefixed)', async () => {
    const bare = new Map<string, TensorToWrite>();
    for (const [k, t] of ldmTensors)
      if (k.startsWith('first_stage_model.')) bare.set(k.slice(18), t);
    bare.set('loss.logvar', { dtype: 'float32', shape: [], data: new Float32Array([0]) }); // training leftover
    const vaePath = join(dir, 'vae-ft-mse.safetensors');
    await writeSafetensors(vaePath, bare);
    const noVae = await ldmWith('no-vae.safetensors', (m) => {
      for (const k of [...m.keys()]) if (k.startsWith('first_stage_model.')) m.delete(k);
    });
    await expect(loadCheckpoint(noVae, { configs: TINY })).rejects.toThrow(
      /has no VAE.*external VAE/,
    );
    const c = await loadCheckpoint(noVae, { configs: TINY, vae: vaePath });
    expect(c.components.vae.file).toBe(vaePath);
    expect(c.components.vae.tensors.size).toBe(244);
    expect(c.configs.vae.block_out_channels).toEqual([16, 32, 32, 32]);
    const name = 'decoder.up_blocks.0.resnets.2.conv2.weight';
    const a = await c.components.vae.readTensor(name);
    const b = await folder.components.vae.readTensor(name);
    expect(Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes))).toBe(0);
    await c.close();

    const prefixedPath = join(dir, 'vae-prefixed.safetensors');
    await writeSafetensors(
      prefixedPath,
      new Map([...ldmTensors].filter(([k]) => k.startsWith('first_stage_model.'))),
    );
    const d = await loadCheckpoint(LDM, { configs: TINY, vae: prefixedPath });
    expect(d.components.vae.file).toBe(prefixedPath);
    expect(d.components.unet.file).toBe(LDM);
    await d.close();
    await expect(loadCheckpoint(LDM, { configs: TINY, vae: LDM })).rejects.toThrow(
      /not a VAE file/,
    );
  });

  it('refuses pickles by extension and by content, explaining the risk and the fix', async () => {
    const ckpt = join(dir, 'model.ckpt');
    await writeFile(ckpt, new Uint8Array([0x80, 0x02, 0x7d, 0x71]));
    await expect(loadCheckpoint(ckpt)).rejects.toThrow(PickleRefusedError);
    await expect(loadCheckpoint(ckpt)).rejects.toThrow(
      /can run arbitrary code.*\.safetensors version.*convert/,
    );
    const renamed = join(dir, 'renamed.safetensors');
    await writeFile(renamed, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
    await expect(loadCheckpoint(renamed)).rejects.toThrow(PickleRefusedError);
    await expect(inspectCheckpoint(renamed)).rejects.toThrow(PickleRefusedError);
    // A safetensors header of 640 bytes starts with 0x80 0x02, like a pickle: not refused as one.
    const header = JSON.stringify({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }).padEnd(
      640,
      ' ',
    );
    const st = Buffer.concat([
      Buffer.from([0x80, 0x02, 0, 0, 0, 0, 0, 0]),
      Buffer.from(header),
      Buffer.from([7]),
    ]);
    const lookalike = join(dir, 'lookalike.safetensors');
    await writeFile(lookalike, st);
    expect(await inspectCheckpoint(lookalike)).toMatchObject({
      kind: 'unknown',
      reason: 'keys like x',
    });
  });

  it('refuses a LoRA and an SDXL file with a message saying what they are', async () => {
    const lora = join(dir, 'lora.safetensors');
    await writeSafetensors(lora, {
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
        dtype: 'float16',
        shape: [4, 16],
        data: new Uint16Array(64),
      },
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': {
        dtype: 'float16',
        shape: [16, 4],
        data: new Uint16Array(64),
      },
    });
    await expect(loadCheckpoint(lora)).rejects.toThrow(UnsupportedCheckpointError);
    await expect(loadCheckpoint(lora)).rejects.toThrow(/LoRA file .* not a checkpoint/);
    expect((await inspectCheckpoint(lora)).kind).toBe('lora');
    const xl = await ldmWith('xl.safetensors', (m) =>
      m.set('conditioner.embedders.1.model.text_projection', {
        dtype: 'float32',
        shape: [1],
        data: new Float32Array(1),
      }),
    );
    await expect(loadCheckpoint(xl)).rejects.toThrow(/SDXL checkpoint/);
    expect(await inspectCheckpoint(FIX)).toMatchObject({ kind: 'sd1', format: 'diffusers' });
    expect(await inspectCheckpoint(LDM)).toMatchObject({ kind: 'sd1', format: 'single-file' });
  });
});
