// The registry's long work, run on the job queue: folder scans, hashing, downloads. Each reports
// progress through its job and tells UIs which model rows changed.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ApiParsedInput, Model, ModelKind } from '../api.js';
import {
  DownloadError,
  downloadFile,
  HashCache,
  inspectModelFile,
  isSafetensorsPath,
  scanModelFolders,
  type DownloadErrorCode,
  type DownloadSource,
  type ProgressFigures,
} from '../hub/index.js';
import { badRequest, conflict, ServiceError } from './errors.js';
import type { ServiceContext } from './context.js';
import { upsertFromInfo } from './model-rows.js';

// One hash cache per data dir, opened on first use and shared by every job.
const hashCaches = new Map<string, Promise<HashCache>>();

function hashCache(dataDir: string): Promise<HashCache> {
  let cache = hashCaches.get(dataDir);
  if (!cache) {
    cache = HashCache.open(dataDir);
    hashCaches.set(dataDir, cache);
  }
  return cache;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** `12.3 MB / 50.0 MB · 4.1 MB/s · 9 s left` */
export function describeTransfer(p: ProgressFigures): string {
  const parts = [
    p.total ? `${formatBytes(p.loaded)} / ${formatBytes(p.total)}` : formatBytes(p.loaded),
  ];
  if (p.speed > 0) parts.push(`${formatBytes(p.speed)}/s`);
  if (p.eta !== undefined) parts.push(`${Math.ceil(p.eta)} s left`);
  return parts.join(' · ');
}

function isInside(file: string, folder: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export function startScanJob(ctx: ServiceContext, folders: string[]): string {
  const job = ctx.jobs.enqueue({
    kind: 'scan',
    label: `Scan ${folders.length === 1 ? folders[0] : `${folders.length} folders`}`,
    run: async (handle) => {
      const { entries, problems } = await scanModelFolders(folders, {
        signal: handle.signal,
        onProgress: ({ done, found, path: file }) =>
          handle.report({
            progress: found ? (done / found) * 0.95 : 0,
            step: done,
            total: found,
            message: `classified ${path.basename(file)}`,
          }),
      });
      const added: number[] = [];
      const updated: number[] = [];
      const skipped: { path: string; reason: string }[] = [];
      const seen = new Set<string>();
      for (const info of entries) {
        seen.add(info.path);
        if (!info.store) {
          skipped.push({ path: info.path, reason: info.reason ?? `a ${info.kind} file` });
          continue;
        }
        const before = ctx.store.models.getByPath(info.path);
        const row = upsertFromInfo(ctx, info);
        (before ? updated : added).push(row.id);
      }
      // Rows under a scanned folder whose file is gone: kept (the user decides), marked missing.
      const missing: number[] = [];
      for (const row of ctx.store.models.list()) {
        if (seen.has(row.path) || !folders.some((f) => isInside(row.path, f))) continue;
        const exists = await fs.stat(row.path).then(
          () => true,
          () => false,
        );
        if (exists) continue; // a diffusers folder or a file the scan does not list
        if (!row.missing) ctx.store.models.update(row.id, { missing: true });
        missing.push(row.id);
      }
      const ids = [...added, ...updated, ...missing];
      if (ids.length) ctx.changed('models', ids);
      return { result: { added, updated, missing, skipped, problems } };
    },
  });
  return job.id;
}

export function startHashJob(ctx: ServiceContext, model: Model): string {
  const job = ctx.jobs.enqueue({
    kind: 'hash',
    label: `Hashes of ${model.name}`,
    run: async (handle) => {
      const stat = await fs.stat(model.path).catch(() => null);
      if (!stat) throw badRequest(`model #${model.id}: its file "${model.path}" is missing`);
      if (!stat.isFile()) {
        throw badRequest(`model #${model.id}: hashes are computed for single files, not folders`);
      }
      const cache = await hashCache(ctx.dataDir);
      // LoRAs also get the metadata-independent hash A1111 writes in "Lora hashes" (AutoV3).
      const addnet = model.kind === 'lora';
      const cached = (await cache.peek(model.path, addnet)) !== undefined;
      const h = await cache.get(model.path, {
        addnet,
        signal: handle.signal,
        onProgress: (p) =>
          handle.report({
            progress: p.total ? p.bytes / p.total : 0,
            step: p.bytes,
            total: p.total,
            message: `hashing ${formatBytes(p.bytes)} / ${formatBytes(p.total)}`,
          }),
      });
      const hashes: Record<string, string> = {
        sha256: h.sha256,
        autov2: h.autov2,
        legacy: h.legacy,
      };
      if (addnet && h.addnet && h.autov3)
        Object.assign(hashes, { addnet: h.addnet, autov3: h.autov3 });
      const row = ctx.store.models.update(model.id, { hashes });
      if (row) ctx.changed('models', [model.id]);
      return { result: { id: model.id, hashes, cached } };
    },
  });
  return job.id;
}

// Folder names A1111/Forge and ComfyUI use per kind: a configured model folder with one of these
// names is where a download of that kind goes.
const KIND_FOLDER_NAMES: Readonly<Record<ModelKind, readonly string[]>> = {
  checkpoint: ['stable-diffusion', 'checkpoints'],
  lora: ['lora', 'loras'],
  vae: ['vae'],
};
const DATA_DIR_FOLDER: Readonly<Record<ModelKind, string>> = {
  checkpoint: 'checkpoints',
  lora: 'loras',
  vae: 'vae',
};

export function downloadFolder(ctx: ServiceContext, kind: ModelKind | undefined): string {
  if (!kind) return path.join(ctx.dataDir, 'models');
  const configured = ctx.store.settings
    .getAll()
    .modelDirs.find((d) => KIND_FOLDER_NAMES[kind].includes(path.basename(d).toLowerCase()));
  return configured ?? path.join(ctx.dataDir, 'models', DATA_DIR_FOLDER[kind]);
}

function remoteFileName(source: ApiParsedInput<'models.download'>['source']): string {
  const raw =
    source.kind === 'hf'
      ? source.file.split('/').pop()!
      : decodeURIComponent(new URL(source.url).pathname.split('/').pop() ?? '');
  if (!raw || raw.startsWith('.') || !/^[\w .()+,=@-]+$/.test(raw)) {
    throw badRequest(`source: cannot take a file name from ${JSON.stringify(raw)}`);
  }
  if (!isSafetensorsPath(raw)) {
    throw badRequest(
      `source: "${raw}" is not a .safetensors file; only safetensors models are downloaded ` +
        `(pickled .ckpt/.pt files can run code when loaded)`,
    );
  }
  return raw;
}

const DOWNLOAD_CODES: Partial<Record<DownloadErrorCode, ServiceError['code']>> = {
  'invalid-source': 'bad_request',
  exists: 'conflict',
  busy: 'conflict',
  'not-found': 'not_found',
  unauthorized: 'forbidden',
  checksum: 'bad_request',
};

export function startDownloadJob(
  ctx: ServiceContext,
  input: ApiParsedInput<'models.download'>,
): string {
  const fileName = remoteFileName(input.source);
  const dest = path.join(downloadFolder(ctx, input.kind), fileName);
  const known = ctx.store.models.getByPath(dest);
  if (known) throw conflict(`"${dest}" is already registered as model #${known.id}`);
  const settings = ctx.store.settings.getAll();
  const token = settings.huggingFaceToken ?? undefined;
  const source: DownloadSource =
    input.source.kind === 'hf'
      ? { ...input.source, endpoint: settings.huggingFaceEndpoint, token }
      : { kind: 'url', url: input.source.url };
  const what = input.source.kind === 'hf' ? `${input.source.repo}/${input.source.file}` : fileName;
  const job = ctx.jobs.enqueue({
    kind: 'download',
    label: `Download ${what}`,
    run: async (handle) => {
      await fs.mkdir(path.dirname(dest), { recursive: true });
      try {
        await downloadFile(source, {
          dest,
          sha256: input.sha256?.toLowerCase(),
          signal: handle.signal,
          onEvent: (e) => {
            if (e.status !== 'progress') return;
            handle.report({
              progress: e.progress !== undefined ? (e.progress / 100) * 0.99 : 0,
              step: e.loaded,
              ...(e.total !== undefined && { total: e.total }),
              message: describeTransfer(e),
            });
          },
        });
      } catch (err) {
        if (err instanceof DownloadError && err.code !== 'cancelled') {
          throw new ServiceError(
            DOWNLOAD_CODES[err.code] ?? 'internal',
            `download of ${what} failed (${err.code}): ${err.message}`,
          );
        }
        throw err;
      }
      const info = await inspectModelFile(dest);
      if (!info.store) {
        return { result: { path: dest, modelId: null, reason: info.reason ?? info.kind } };
      }
      const row = upsertFromInfo(ctx, info);
      ctx.changed('models', [row.id]);
      return { result: { path: dest, modelId: row.id } };
    },
  });
  return job.id;
}
