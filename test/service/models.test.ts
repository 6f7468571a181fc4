// The model registry through the service: folder scans of an A1111-style tree (full-size
// synthetic headers, sparse data), hashes as jobs (checked against node:crypto), downloads from
// a loopback Hub, settings validation and token masking, and removal with/without confirmation.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../core/api.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { sha256, startCdn, startHub, testBytes, type TestServer } from '../hub/hub-server.js';
import { writeKind, writeSynthetic } from '../hub/synthetic.js';
import { fakeGenerate } from './fake-generate.js';

const LORA_FIXTURE = path.resolve('test/fixtures/lora/lora_kohya.safetensors');

let dir: string;
let service: ApiService;

beforeEach(() => {
  dir = makeTempDir('svc-models-');
  service = createApiService({ dataDir: dir, generate: fakeGenerate().fn });
});
afterEach(() => {
  service.close();
  removeDir(dir);
});

async function settle(jobId: string): Promise<Job> {
  return service.call('jobs.get', { jobId }).then(async (j) => {
    for (let job = j; ; job = await service.call('jobs.get', { jobId })) {
      if (['done', 'error', 'cancelled'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 5));
    }
  });
}

function doneResult<T>(jobId: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const off = service.onEvent((e) => {
      if (!('jobId' in e) || e.jobId !== jobId) return;
      if (e.status === 'done') resolve(e.result as T);
      if (e.status === 'error' || e.status === 'cancelled') reject(new Error(JSON.stringify(e)));
      if (e.status === 'done' || e.status === 'error' || e.status === 'cancelled') off();
    });
  });
}

describe('models.scan', () => {
  it('registers an A1111 tree, lists the unusable files with why, marks removed files missing', async () => {
    const root = path.join(dir, 'webui');
    const sd = path.join(root, 'models', 'Stable-diffusion');
    const lora = path.join(root, 'models', 'Lora');
    for (const d of [sd, lora, path.join(root, 'embeddings')]) fs.mkdirSync(d, { recursive: true });
    writeKind(path.join(sd, 'v1-5.safetensors'), 'sd15');
    writeKind(path.join(sd, 'sdxl_base.safetensors'), 'sdxl');
    writeKind(path.join(lora, 'style.safetensors'), 'lora15');
    writeKind(path.join(root, 'embeddings', 'bad-hands.safetensors'), 'embedding');
    fs.writeFileSync(path.join(sd, 'old.ckpt'), Buffer.alloc(16));
    fs.writeFileSync(path.join(lora, 'style.png'), Buffer.from('png'));

    const suggested = await service.call('models.suggestFolders', { root });
    expect(suggested.map((s) => [s.role, s.layout])).toEqual(
      expect.arrayContaining([
        ['checkpoint', 'a1111'],
        ['lora', 'a1111'],
      ]),
    );
    await service.call('settings.set', { modelDirs: suggested.map((s) => s.path) });

    const { jobId } = await service.call('models.scan', {});
    const result = await doneResult<{
      added: number[];
      skipped: { path: string; reason: string }[];
    }>(jobId);
    expect(result.added).toHaveLength(3);
    const byName = new Map(service.store.models.list().map((m) => [m.name, m]));
    expect(byName.get('v1-5')).toMatchObject({
      kind: 'checkpoint',
      family: 'sd15',
      supported: true,
    });
    expect(byName.get('sdxl_base')).toMatchObject({ family: 'sdxl', supported: false });
    expect(byName.get('sdxl_base')?.reason).toMatch(/SDXL/);
    expect(byName.get('style')).toMatchObject({ kind: 'lora', family: 'sd15' });
    expect(byName.get('style')?.preview).toBe(path.join(lora, 'style.png'));
    expect(byName.get('style')?.metadata.ss_network_module).toBe('networks.lora');
    const skipped = new Map(result.skipped.map((s) => [path.basename(s.path), s.reason]));
    expect(skipped.get('old.ckpt')).toMatch(/pickle/i);
    expect(skipped.get('bad-hands.safetensors')).toMatch(/embedding/);

    // Rescan after a file is gone: its row stays, marked missing; the others are updated.
    fs.rmSync(path.join(sd, 'v1-5.safetensors'));
    const again = await doneResult<{ added: number[]; updated: number[]; missing: number[] }>(
      (await service.call('models.scan', {})).jobId,
    );
    expect(again).toMatchObject({ added: [], missing: [byName.get('v1-5')!.id] });
    expect(again.updated).toHaveLength(2);
    expect(service.store.models.get(byName.get('v1-5')!.id)?.missing).toBe(true);
  });

  it('refuses a scan with no folders configured, naming the setting', async () => {
    await expect(service.call('models.scan', {})).rejects.toThrow(/modelDirs/);
  });
});

describe('models.hashes', () => {
  it('stores sha256/AutoV2/legacy/AutoV3 equal to node:crypto, cached the second time', async () => {
    const file = path.join(dir, 'big-lora.safetensors');
    // Past 1 MiB + 64 KiB, so the legacy hash reads real (zero) bytes.
    writeSynthetic(
      file,
      [['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', 'F16', [4, 320]]],
      { metadata: { ss_network_dim: '4' }, targetBytes: 1_500_000 },
    );
    // Random bytes over the zero tail, so the hashes see varied data.
    const size = fs.statSync(file).size;
    const head = fs.readFileSync(file).subarray(0, 1_200_000);
    fs.writeFileSync(file, Buffer.concat([head, testBytes(size - head.length)]));
    const bytes = fs.readFileSync(file);
    const model = await service.call('models.add', { path: file });
    expect(model.kind).toBe('lora');

    const events: number[] = [];
    service.onEvent((e) => {
      if (e.status === 'progress' && e.kind === 'hash') events.push(e.progress);
    });
    const first = await doneResult<{ hashes: Record<string, string>; cached: boolean }>(
      (await service.call('models.hashes', { id: model.id })).jobId,
    );
    const whole = createHash('sha256').update(bytes).digest('hex');
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const addnet = createHash('sha256').update(bytes.subarray(headerEnd)).digest('hex');
    const legacy = createHash('sha256').update(bytes.subarray(0x100000, 0x110000)).digest('hex');
    expect(first).toMatchObject({ cached: false });
    expect(first.hashes).toEqual({
      sha256: whole,
      autov2: whole.slice(0, 10),
      legacy: legacy.slice(0, 8),
      addnet,
      autov3: addnet.slice(0, 12),
    });
    expect(service.store.models.get(model.id)?.hashes).toEqual(first.hashes);
    expect(events.at(-1)).toBe(1);

    const second = await doneResult<{ hashes: Record<string, string>; cached: boolean }>(
      (await service.call('models.hashes', { id: model.id })).jobId,
    );
    expect(second).toEqual({ id: model.id, hashes: first.hashes, cached: true });
  });
});

describe('models.download', () => {
  const repo = 'someone/tiny-lora';
  const body = fs.readFileSync(LORA_FIXTURE);
  let cdn: TestServer;
  let hub: TestServer;
  beforeAll(async () => {
    const files = new Map([['lora.safetensors', body]]);
    cdn = await startCdn(files, { chunk: 2048, delayMs: 5 });
    hub = await startHub(repo, files, cdn.url);
  });
  afterAll(async () => {
    await cdn.close();
    await hub.close();
  });

  it('downloads from the Hub with progress, verifies and registers the LoRA', async () => {
    await service.call('settings.set', { huggingFaceEndpoint: hub.url });
    const progress: { step?: number; total?: number; message?: string }[] = [];
    service.onEvent((e) => {
      if (e.status === 'progress' && e.kind === 'download' && e.step) progress.push(e);
    });
    const { jobId } = await service.call('models.download', {
      source: { kind: 'hf', repo, file: 'lora.safetensors' },
      sha256: sha256(body),
      kind: 'lora',
    });
    const result = await doneResult<{ path: string; modelId: number }>(jobId);
    expect(result.path).toBe(path.join(dir, 'models', 'loras', 'lora.safetensors'));
    expect(fs.readFileSync(result.path).equals(body)).toBe(true);
    expect(service.store.models.get(result.modelId)).toMatchObject({ kind: 'lora' });
    expect(progress.at(-1)).toMatchObject({ step: body.length, total: body.length });
    expect(progress.some((p) => /\/s/.test(p.message ?? ''))).toBe(true);
  });

  it('ends in a checksum error and registers nothing when the bytes do not match', async () => {
    await service.call('settings.set', { huggingFaceEndpoint: hub.url });
    const { jobId } = await service.call('models.download', {
      source: { kind: 'hf', repo, file: 'lora.safetensors' },
      sha256: 'ab'.repeat(32),
    });
    const job = await settle(jobId);
    expect(job.status).toBe('error');
    expect(job.error?.message).toMatch(/checksum/);
    expect(service.store.models.list()).toHaveLength(0);
    expect(fs.existsSync(path.join(dir, 'models', 'lora.safetensors'))).toBe(false);
  });

  it('cancels a running download', async () => {
    const slow = await startCdn(new Map([['big.safetensors', testBytes(400_000)]]), {
      chunk: 1024,
      delayMs: 20,
    });
    try {
      const { jobId } = await service.call('models.download', {
        source: { kind: 'url', url: `${slow.url}/files/big.safetensors` },
      });
      await new Promise<void>((resolve) => {
        const off = service.onEvent((e) => {
          if (e.status === 'progress' && e.jobId === jobId && (e.step ?? 0) > 0) {
            off();
            resolve();
          }
        });
      });
      await service.call('jobs.cancel', { jobId });
      expect((await settle(jobId)).status).toBe('cancelled');
      expect(service.store.models.list()).toHaveLength(0);
    } finally {
      await slow.close();
    }
  });

  it('refuses pickled files before starting', async () => {
    await expect(
      service.call('models.download', {
        source: { kind: 'url', url: 'http://127.0.0.1:1/model.ckpt' },
      }),
    ).rejects.toThrow(/not a \.safetensors file/);
  });
});

describe('settings', () => {
  it('masks the Hugging Face token and keeps it when the mask is sent back', async () => {
    const token = 'hf_abcdefghijklmnopqrstuvwxyz123456';
    const out = await service.call('settings.set', { huggingFaceToken: token });
    expect(out.huggingFaceToken).not.toContain('abcdefghijklmnop');
    expect(out.huggingFaceToken).toMatch(/3456$/);
    const shown = await service.call('settings.get', {});
    expect(JSON.stringify(shown)).not.toContain(token);
    await service.call('settings.set', { huggingFaceToken: shown.huggingFaceToken });
    expect(service.store.settings.getAll().huggingFaceToken).toBe(token);
    await service.call('settings.set', { huggingFaceToken: '' });
    expect(service.store.settings.getAll().huggingFaceToken).toBeNull();
  });

  it('refuses invalid values with a message naming the valid ones', async () => {
    await expect(
      service.call('settings.set', { defaultOutputFormat: 'bmp' as never }),
    ).rejects.toThrow(/png.*jpeg.*webp/);
    await expect(service.call('settings.set', { cpuThreads: -1 })).rejects.toThrow(/cpuThreads/);
    // This machine has no CUDA: refused, with what it needs and what is valid here.
    await expect(service.call('settings.set', { executionProvider: 'cuda' })).rejects.toThrow(
      /cuda.*valid here: auto.*cpu/,
    );
    const ok = await service.call('settings.set', { cpuThreads: 2, keepModelWarm: false });
    expect(ok).toMatchObject({ cpuThreads: 2, keepModelWarm: false });
  });

  it('sets default models by kind and refuses a LoRA', async () => {
    const file = path.join(dir, 'l.safetensors');
    fs.copyFileSync(LORA_FIXTURE, file);
    const lora = await service.call('models.add', { path: file });
    await expect(service.call('models.setDefault', { id: lora.id })).rejects.toThrow(/LoRA/);
    const vae = await service.call('models.add', {
      path: path.resolve('test/fixtures/tiny_sd/vae/diffusion_pytorch_model.safetensors'),
    });
    expect((await service.call('models.setDefault', { id: vae.id })).defaultVaeId).toBe(vae.id);
  });
});

describe('models.remove', () => {
  it('forgets the row only, unless the file name is confirmed', async () => {
    const file = path.join(dir, 'keep.safetensors');
    fs.copyFileSync(LORA_FIXTURE, file);
    const a = await service.call('models.add', { path: file });
    expect(await service.call('models.remove', { id: a.id })).toEqual({
      id: a.id,
      fileDeleted: false,
    });
    expect(fs.existsSync(file)).toBe(true);

    const b = await service.call('models.add', { path: file });
    await expect(service.call('models.remove', { id: b.id, deleteFile: true })).rejects.toThrow(
      /keep\.safetensors/,
    );
    await expect(
      service.call('models.remove', { id: b.id, deleteFile: true, confirm: 'other.safetensors' }),
    ).rejects.toThrow(/confirm/);
    expect(service.store.models.get(b.id)).toBeDefined();
    const out = await service.call('models.remove', {
      id: b.id,
      deleteFile: true,
      confirm: 'keep.safetensors',
    });
    expect(out).toEqual({ id: b.id, fileDeleted: true });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reads kind and family from the header and refuses a kind the header contradicts', async () => {
    const file = path.join(dir, 'x.safetensors');
    fs.copyFileSync(LORA_FIXTURE, file);
    await expect(service.call('models.add', { path: file, kind: 'checkpoint' })).rejects.toThrow(
      /is a lora by its header/,
    );
    const junk = path.join(dir, 'junk.safetensors');
    fs.writeFileSync(junk, Buffer.alloc(64));
    await expect(service.call('models.add', { path: junk })).rejects.toThrow(
      /cannot be registered/,
    );
  });
});
