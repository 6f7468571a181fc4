// Folder scans over fake A1111 and ComfyUI installs, and the standard-folder suggestions.
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ScanCancelledError,
  scanModelFolders,
  suggestModelFolders,
  type ModelFileInfo,
} from '../../core/hub/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { writeKind } from './synthetic.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
let dir: string;
let a1111: string;
let comfy: string;

function mk(...parts: string[]): string {
  const p = join(...parts);
  mkdirSync(p, { recursive: true });
  return p;
}

beforeAll(() => {
  dir = makeTempDir('hub-scan-');
  a1111 = mk(dir, 'stable-diffusion-webui');
  const ckpt = mk(a1111, 'models', 'Stable-diffusion');
  const sub = mk(ckpt, 'XL');
  const lora = mk(a1111, 'models', 'Lora');
  const vae = mk(a1111, 'models', 'VAE');
  const emb = mk(a1111, 'embeddings');
  mk(a1111, 'models', 'ESRGAN'); // not a model folder we list
  copyFileSync(join(FIX, 'tiny_sd', 'tiny_sd_ldm.safetensors'), join(ckpt, 'tiny.safetensors'));
  writeKind(join(ckpt, 'v1-5-pruned-emaonly.safetensors'), 'sd15');
  writeKind(join(sub, 'sd_xl_base_1.0.safetensors'), 'sdxl');
  writeFileSync(join(ckpt, 'old-model.ckpt'), Buffer.from([0x80, 0x02]));
  writeFileSync(join(ckpt, 'Put Stable Diffusion checkpoints here.txt'), '');
  copyFileSync(join(FIX, 'lora', 'lora_kohya.safetensors'), join(lora, 'style.safetensors'));
  writeFileSync(join(lora, 'style.preview.png'), '');
  writeKind(join(lora, 'loha.safetensors'), 'lycoris');
  writeKind(join(lora, '.hidden.safetensors'), 'lora15');
  symlinkSync(lora, join(lora, 'loop')); // a symlink cycle must not hang the scan
  symlinkSync(join(lora, 'style.safetensors'), join(lora, 'style-link.safetensors'));
  writeKind(join(vae, 'vae-ft-mse-840000-ema-pruned.safetensors'), 'vae');
  writeKind(join(emb, 'bad-hands.safetensors'), 'embedding');

  comfy = mk(dir, 'ComfyUI_windows_portable', 'ComfyUI');
  writeKind(join(mk(comfy, 'models', 'checkpoints'), 'sd15.safetensors'), 'sd15');
  writeKind(join(mk(comfy, 'models', 'loras'), 'xl-lora.safetensors'), 'loraXl');
  mk(comfy, 'models', 'vae');
});
afterAll(() => removeDir(dir));

const byName = (entries: ModelFileInfo[]) => new Map(entries.map((e) => [e.name, e]));

describe('suggestModelFolders', () => {
  it('finds the A1111/Forge folders of an install root', async () => {
    const got = await suggestModelFolders(a1111);
    expect(got).toEqual([
      { path: join(a1111, 'models', 'Stable-diffusion'), role: 'checkpoint', layout: 'a1111' },
      { path: join(a1111, 'models', 'Lora'), role: 'lora', layout: 'a1111' },
      { path: join(a1111, 'models', 'VAE'), role: 'vae', layout: 'a1111' },
      { path: join(a1111, 'embeddings'), role: 'embedding', layout: 'a1111' },
    ]);
  });

  it('finds ComfyUI folders below a portable root, or from its models folder', async () => {
    const want = [
      { path: join(comfy, 'models', 'checkpoints'), role: 'checkpoint', layout: 'comfyui' },
      { path: join(comfy, 'models', 'loras'), role: 'lora', layout: 'comfyui' },
      { path: join(comfy, 'models', 'vae'), role: 'vae', layout: 'comfyui' },
    ];
    expect(await suggestModelFolders(join(dir, 'ComfyUI_windows_portable'))).toEqual(want);
    const fromModels = await suggestModelFolders(join(comfy, 'models'));
    expect(fromModels.map((f) => f.role)).toEqual(['checkpoint', 'lora', 'vae']);
    expect(await suggestModelFolders(join(dir, 'nowhere'))).toEqual([]);
  });
});

describe('scanModelFolders', () => {
  it('lists and classifies a fake A1111 tree', async () => {
    const folders = (await suggestModelFolders(a1111)).map((f) => f.path);
    const progress: number[] = [];
    const { entries, problems } = await scanModelFolders(
      [...folders, join(a1111, 'models', 'missing')],
      { onProgress: (p) => progress.push(p.done) },
    );
    const m = byName(entries);
    expect([...m.keys()].sort()).toEqual(
      [
        'bad-hands',
        'loha',
        'old-model',
        'sd_xl_base_1.0',
        'style',
        'tiny',
        'v1-5-pruned-emaonly',
        'vae-ft-mse-840000-ema-pruned',
      ].sort(),
    );
    expect(entries).toHaveLength(8); // the symlinked duplicate and the hidden file are skipped
    expect(m.get('tiny')).toMatchObject({ kind: 'checkpoint', family: 'sd15', supported: true });
    expect(m.get('v1-5-pruned-emaonly')).toMatchObject({ kind: 'checkpoint', family: 'sd15' });
    expect(m.get('sd_xl_base_1.0')).toMatchObject({
      kind: 'checkpoint',
      family: 'sdxl',
      supported: false,
    });
    expect(m.get('old-model')).toMatchObject({ format: 'pickle', supported: false });
    expect(m.get('old-model')!.reason).toMatch(/pickle/i);
    expect(m.get('style')).toMatchObject({ kind: 'lora', supported: true });
    expect(m.get('style')!.preview).toBe(join(a1111, 'models', 'Lora', 'style.preview.png'));
    expect(m.get('loha')).toMatchObject({ kind: 'lycoris', supported: false });
    expect(m.get('vae-ft-mse-840000-ema-pruned')).toMatchObject({ kind: 'vae', supported: true });
    expect(m.get('bad-hands')).toMatchObject({ kind: 'embedding', family: 'sd15' });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toBe(join(a1111, 'models', 'missing'));
    expect(problems[0].message).toMatch(/ENOENT/);
  });

  it('respects recursive: false and includePickles: false, and can be cancelled', async () => {
    const ckpt = join(a1111, 'models', 'Stable-diffusion');
    const flat = await scanModelFolders([ckpt], { recursive: false, includePickles: false });
    expect(flat.entries.map((e) => e.name).sort()).toEqual(['tiny', 'v1-5-pruned-emaonly']);
    const ac = new AbortController();
    ac.abort();
    await expect(scanModelFolders([ckpt], { signal: ac.signal })).rejects.toBeInstanceOf(
      ScanCancelledError,
    );
  });

  it('classifies a ComfyUI tree', async () => {
    const folders = (await suggestModelFolders(comfy)).map((f) => f.path);
    const m = byName((await scanModelFolders(folders)).entries);
    expect(m.get('sd15')).toMatchObject({ kind: 'checkpoint', family: 'sd15', supported: true });
    expect(m.get('xl-lora')).toMatchObject({ kind: 'lora', family: 'sdxl', supported: false });
  });
});
