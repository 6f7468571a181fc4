// Header-only classification: kind, family, size, dtype, metadata, preview, support — on the
// tiny fixtures and on full-size synthetic files (real headers, sparse data).
import { copyFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPreview, inspectModelFile, MAX_METADATA_VALUE } from '../../core/hub/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { writeKind, writeSynthetic } from './synthetic.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
let dir: string;

beforeAll(() => {
  dir = makeTempDir('hub-registry-');
});
afterAll(() => removeDir(dir));

describe('inspectModelFile on fixtures', () => {
  it('classifies the tiny LDM single file as a supported SD1.x checkpoint', async () => {
    const path = join(FIX, 'tiny_sd', 'tiny_sd_ldm.safetensors');
    const info = await inspectModelFile(path);
    expect(info).toMatchObject({
      kind: 'checkpoint',
      family: 'sd15',
      format: 'safetensors',
      supported: true,
      dtype: 'float32',
      tensorCount: 1012,
      sizeBytes: statSync(path).size,
      store: { kind: 'checkpoint', family: 'sd15' },
    });
    expect(info.detected?.kind).toBe('sd1');
    expect(info.parameterCount).toBeGreaterThan(1_000_000);
  });

  it('classifies the diffusers VAE as a VAE', async () => {
    const info = await inspectModelFile(
      join(FIX, 'tiny_sd', 'vae', 'diffusion_pytorch_model.safetensors'),
    );
    expect(info).toMatchObject({ kind: 'vae', family: 'unknown', supported: true });
    expect(info.detected?.naming).toBe('diffusers');
    expect(info.metadata).toEqual({ format: 'pt' });
    expect(info.familyReason).toMatch(/share one architecture/);
  });

  it('classifies the kohya and PEFT LoRA fixtures as LoRAs', async () => {
    const kohya = await inspectModelFile(join(FIX, 'lora', 'lora_kohya.safetensors'));
    expect(kohya).toMatchObject({ kind: 'lora', loraFormat: 'kohya', supported: true });
    expect(kohya.metadata.ss_network_dim).toBe('4');
    // The tiny model's cross-attention width (32) matches no real family.
    expect(kohya.family).toBe('unknown');
    expect(kohya.familyReason).toMatch(/cross-attention input 32/);
    const peft = await inspectModelFile(
      join(FIX, 'lora', 'diffusers_format', 'pytorch_lora_weights.safetensors'),
    );
    expect(peft).toMatchObject({ kind: 'lora', loraFormat: 'peft', store: { kind: 'lora' } });
    const ref = await inspectModelFile(join(FIX, 'lora', 'lora_ref.safetensors'));
    expect(ref).toMatchObject({ kind: 'unknown', supported: false });
    expect(ref.reason).toMatch(/not a Stable Diffusion checkpoint we recognise/);
    expect(ref.store).toBeUndefined();
  });
});

describe('inspectModelFile on full-size synthetic headers', () => {
  const cases = [
    ['sd15', 'checkpoint', 'sd15', true, 'float16', /SD1\.x checkpoint keys/],
    ['sd2', 'checkpoint', 'sd2', false, 'float32', /SD2/],
    ['sdxl', 'checkpoint', 'sdxl', false, 'float16', /SDXL/],
    ['vae', 'vae', 'unknown', true, 'float32', /share one architecture/],
    ['lora15', 'lora', 'sd15', true, 'float16', /cross-attention input 768/],
    ['loraXl', 'lora', 'sdxl', false, 'float16', /cross-attention input 2048/],
    ['lycoris', 'lycoris', 'sd15', false, 'float16', /cross-attention input 768/],
    ['embedding', 'embedding', 'sd15', false, 'float32', /vector width 768/],
    ['embeddingXl', 'embedding', 'sdxl', false, 'float32', /clip_l \+ clip_g/],
  ] as const;

  it.each(cases)('%s → %s / %s', async (name, kind, family, supported, dtype, why) => {
    const path = join(dir, `${name}.safetensors`);
    const size = writeKind(path, name);
    const t0 = performance.now();
    const info = await inspectModelFile(path);
    const ms = performance.now() - t0;
    expect(info).toMatchObject({ kind, family, supported, dtype, sizeBytes: size });
    expect(info.familyReason).toMatch(why);
    if (supported) expect(info.reason).toBeUndefined();
    else expect(info.reason).toMatch(/not supported|only SD1\.x/i);
    expect(ms).toBeLessThan(1000); // header only: a 6.9 GB file takes as long as a 5 KB one
  });

  it('sizes are the real ones (sparse files)', () => {
    expect(statSync(join(dir, 'sdxl.safetensors')).size).toBeGreaterThan(6.9e9);
    expect(statSync(join(dir, 'sd15.safetensors')).size).toBeGreaterThan(2.1e9);
  });

  it('keeps ss_*, sshs_*, modelspec.* metadata and sets long values aside', async () => {
    const lora = await inspectModelFile(join(dir, 'lora15.safetensors'));
    expect(lora.metadata).toMatchObject({
      ss_network_module: 'networks.lora',
      ss_network_dim: '128',
      ss_base_model_version: 'sd_v1',
      sshs_model_hash: 'a'.repeat(64),
    });
    expect(lora.metadata['other.key']).toBeUndefined();
    expect(lora.largeMetadataKeys).toEqual(['ss_tag_frequency']);
    expect(lora.metadata.ss_tag_frequency).toBeUndefined();
    expect(MAX_METADATA_VALUE).toBe(8192);
    const xl = await inspectModelFile(join(dir, 'sdxl.safetensors'));
    expect(xl.metadata['modelspec.architecture']).toBe('stable-diffusion-xl-v1-base');
    expect(xl.reason).toMatch(/this is an SDXL checkpoint/);
    expect(xl.store).toEqual({ kind: 'checkpoint', family: 'sdxl' });
  });

  it('falls back to metadata when shapes cannot tell the family', async () => {
    const path = join(dir, 'tiny-sd2-lora.safetensors');
    writeSynthetic(
      path,
      [['lora_unet_mid_block_attentions_0_proj_in.lora_down.weight', 'F32', [4, 32]]],
      { metadata: { ss_base_model_version: 'sd_v2' } },
    );
    const info = await inspectModelFile(path);
    expect(info).toMatchObject({ kind: 'lora', family: 'sd2', supported: false });
    expect(info.familyReason).toBe('ss_base_model_version = "sd_v2"');
    expect(info.reason).toMatch(/a LoRA for SD2\.x; only SD1\.x models are supported/);
  });

  it('refuses pickles by extension and reports unreadable headers without throwing', async () => {
    const ckpt = join(dir, 'old.ckpt');
    writeFileSync(ckpt, Buffer.from([0x80, 0x02, 0x7d, 0x71]));
    const p = await inspectModelFile(ckpt);
    expect(p).toMatchObject({ format: 'pickle', supported: false, kind: 'unknown' });
    expect(p.reason).toMatch(/refusing to load a pickled PyTorch file/);

    const cut = join(dir, 'cut.safetensors');
    copyFileSync(join(FIX, 'lora', 'lora_kohya.safetensors'), cut);
    truncateSync(cut, statSync(cut).size - 1000); // an interrupted copy
    const t = await inspectModelFile(cut);
    expect(t).toMatchObject({ supported: false, kind: 'unknown' });
    expect(t.reason).toMatch(/truncated file/);
  });
});

describe('findPreview', () => {
  it('follows A1111 order (name.png, name.preview.png, then jpg/jpeg/webp/gif) ignoring case', async () => {
    const model = join(dir, 'Style.safetensors');
    writeFileSync(model, '');
    expect(await findPreview(model)).toBeUndefined();
    writeFileSync(join(dir, 'style.preview.WEBP'), '');
    expect(await findPreview(model)).toBe(join(dir, 'style.preview.WEBP'));
    writeFileSync(join(dir, 'Style.preview.png'), '');
    expect(await findPreview(model)).toBe(join(dir, 'Style.preview.png'));
    writeFileSync(join(dir, 'Style.png'), '');
    expect(await findPreview(model)).toBe(join(dir, 'Style.png'));
    // Given sibling names, no directory read is needed.
    expect(await findPreview(model, ['style.jpg'])).toBe(join(dir, 'style.jpg'));
  });
});
