// loadModelSessions on the tiny SD checkpoint: weights straight from the user's file, the
// optimized-model cache, an external VAE, a diffusers folder, and a truncated file.
import { existsSync, readdirSync } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TruncatedFileError } from '../../core/formats/index.js';
import {
  loadModelSessions,
  MODEL_GRAPHS,
  type ModelGraphName,
  type ModelSessions,
} from '../../core/models/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  TINY_CONFIGS,
  TINY_LDM_PATH,
  directOutput,
  relDiff,
  removeTempDirs,
  runLoaded,
  tempDir,
  writeConvertedCopy,
} from './model-loader-helpers.js';
import { fixturePath, loadRefs, maxAbsDiff, ref, unetFeeds } from './model-fixtures.js';

const cacheDir = tempDir('loader');
const first: Partial<Record<ModelGraphName, HostTensor>> = {};
let cold: ModelSessions;

beforeAll(async () => {
  cold = await loadModelSessions(TINY_LDM_PATH, { cacheDir, configs: TINY_CONFIGS });
  for (const name of MODEL_GRAPHS) first[name] = await runLoaded(cold, name);
});
afterAll(async () => {
  await cold?.release();
  removeTempDirs();
});

describe('loadModelSessions: fp32 single-file checkpoint on the CPU', () => {
  it('points every initializer into the user’s file and converts nothing', () => {
    const r = cold.report;
    expect(Object.keys(r.graphs)).toEqual([...MODEL_GRAPHS]);
    for (const w of Object.values(r.weights)) {
      expect(w.mode).toBe('checkpoint');
      expect(w.cache).toBe('not-needed');
      expect(w.file).toBe(TINY_LDM_PATH);
      expect(w.modelDir).toBe(fixturePath('tiny_sd').replace(/\/$/, ''));
      expect([w.convertedTensors, w.copiedTensors]).toEqual([0, 0]);
    }
    expect(r.convertedTensors).toBe(0);
    // Hashed once for the three components of the one file.
    expect(Object.values(r.weights).filter((w) => w.hashed)).toHaveLength(1);
    expect(existsSync(join(cacheDir, 'weights'))).toBe(false);
    for (const g of Object.values(r.graphs)) expect(g.session.cache).toBe('miss');
    expect(r.graphs.unet!.initializers).toBeGreaterThanOrEqual(684);
    expect(cold.configs.unet.normNumGroups).toBe(8);
  });

  it('gives the outputs of the direct-load path for all four graphs', async () => {
    for (const name of MODEL_GRAPHS) {
      const err = relDiff(first[name]!, await directOutput(TINY_LDM_PATH, name));
      expect(err, name).toBeLessThan(1e-5);
    }
  });

  it('matches the diffusers reference (UNet out_a)', async () => {
    const refs = await loadRefs('unet/unet_ref.safetensors');
    const out = (await cold.session('unet').run(unetFeeds(refs, 'a'))).noise_pred;
    expect(maxAbsDiff(out, ref(refs, 'out_a'))).toBeLessThan(1e-4);
  });

  it('second load: no hashing, no conversion, every optimized model from the cache, same outputs', async () => {
    const warm = await loadModelSessions(TINY_LDM_PATH, { cacheDir, configs: TINY_CONFIGS });
    try {
      expect(warm.report.convertedTensors).toBe(0);
      for (const w of Object.values(warm.report.weights)) expect(w.hashed).toBe(false);
      for (const g of Object.values(warm.report.graphs)) expect(g.session.cache).toBe('hit');
      for (const name of MODEL_GRAPHS)
        expect(relDiff(await runLoaded(warm, name), first[name]!), name).toBeLessThan(1e-6);
    } finally {
      await warm.release();
    }
  });

  it('lowMemory sessions (weights left mapped, no prepacking) compute the same', async () => {
    const create = vi.spyOn(Session, 'create');
    const lean = await loadModelSessions(TINY_LDM_PATH, {
      cacheDir,
      configs: TINY_CONFIGS,
      components: ['unet'],
      lowMemory: true,
      optimizedModelCache: false,
    });
    try {
      expect(create).toHaveBeenCalledTimes(1);
      expect(lean.report.graphs.unet!.session.cache).toBe('off');
      expect(relDiff(await runLoaded(lean, 'unet'), first.unet!)).toBeLessThan(1e-5);
      expect(() => lean.session('textEncoder')).toThrow(
        /'textEncoder' was not loaded; loaded: unet/,
      );
    } finally {
      create.mockRestore();
      await lean.release();
    }
  });
});

describe('loadModelSessions: other sources', () => {
  it('an external VAE replaces the checkpoint’s', async () => {
    const dir = tempDir('vae');
    const vaePath = join(dir, 'my-vae.safetensors');
    // The tiny VAE in diffusers naming, with the decoder's output bias shifted by +0.5.
    await writeConvertedCopy(
      fixturePath('tiny_sd/vae/diffusion_pytorch_model.safetensors'),
      vaePath,
      'float32',
      (name, v) => {
        if (name === 'decoder.conv_out.bias') v.forEach((x, i) => (v[i] = x + 0.5));
      },
    );
    const m = await loadModelSessions(TINY_LDM_PATH, {
      cacheDir,
      configs: TINY_CONFIGS,
      vae: vaePath,
      components: ['vaeDecoder'],
    });
    try {
      expect(m.report.weights.vae!.file).toBe(vaePath);
      expect(m.report.weights.vae!.mode).toBe('checkpoint');
      const out = await runLoaded(m, 'vaeDecoder');
      const base = first.vaeDecoder!.data as Float32Array;
      const got = out.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < base.length; i++)
        worst = Math.max(worst, Math.abs(got[i] - base[i] - 0.5));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await m.release();
    }
  });

  it('a diffusers folder: each component straight from its own file', async () => {
    const m = await loadModelSessions(fixturePath('tiny_sd'), {
      cacheDir,
      components: ['textEncoder', 'unet'],
    });
    try {
      expect(m.report.weights.unet!.file).toMatch(/unet\/diffusion_pytorch_model\.safetensors$/);
      expect(m.report.weights.textEncoder!.file).toMatch(/text_encoder\/model\.safetensors$/);
      expect(m.report.weights.unet!.modelDir).toMatch(/tiny_sd\/unet$/);
      expect(m.checkpoint.tokenizerDir).toMatch(/tiny_sd\/tokenizer$/);
      for (const name of ['textEncoder', 'unet'] as const)
        expect(relDiff(await runLoaded(m, name), first[name]!), name).toBeLessThan(1e-5);
    } finally {
      await m.release();
    }
  });

  it('a truncated checkpoint fails with TruncatedFileError before any session is built', async () => {
    const dir = tempDir('trunc');
    const path = join(dir, 'half.safetensors');
    const bytes = await readFile(TINY_LDM_PATH);
    await writeFile(path, bytes.subarray(0, Math.floor(bytes.byteLength * 0.6)));
    const emptyCache = join(dir, 'cache');
    const create = vi.spyOn(Session, 'create');
    try {
      await expect(
        loadModelSessions(path, { cacheDir: emptyCache, configs: TINY_CONFIGS }),
      ).rejects.toBeInstanceOf(TruncatedFileError);
      expect(create).not.toHaveBeenCalled();
      expect(existsSync(emptyCache) ? readdirSync(emptyCache) : []).toEqual([]);
    } finally {
      create.mockRestore();
    }
  });

  it('a checkpoint reached through a symlink is used from its real directory', async () => {
    const dir = tempDir('link');
    const link = join(dir, 'linked.safetensors');
    await symlink(TINY_LDM_PATH, link);
    const m = await loadModelSessions(link, {
      cacheDir,
      configs: TINY_CONFIGS,
      components: ['textEncoder'],
    });
    try {
      expect(m.report.weights.textEncoder!.file).toBe(TINY_LDM_PATH);
      expect(m.report.weights.textEncoder!.hashed).toBe(false); // same file, same hash entry
      expect(relDiff(await runLoaded(m, 'textEncoder'), first.textEncoder!)).toBeLessThan(1e-6);
    } finally {
      await m.release();
    }
  });

  it('refuses unknown components and dtypes, naming the valid ones', async () => {
    await expect(
      loadModelSessions(TINY_LDM_PATH, {
        cacheDir,
        components: ['unet', 'vae' as ModelGraphName],
      }),
    ).rejects.toThrow(
      'unknown model component(s) vae; valid: textEncoder, unet, vaeEncoder, vaeDecoder',
    );
    await expect(
      loadModelSessions(TINY_LDM_PATH, { cacheDir, dtype: 'bfloat16' as 'float16' }),
    ).rejects.toThrow("dtype 'bfloat16' is not supported; valid: float32, float16");
  });
});
