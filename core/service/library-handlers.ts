// System, settings, models, datasets and images.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelKind } from '../api.js';
import { collectSystemInfo } from './system-info.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';

type LibraryMethods =
  | 'system.info'
  | 'settings.get'
  | 'settings.set'
  | 'models.list'
  | 'models.add'
  | 'models.remove'
  | 'datasets.list'
  | 'datasets.create'
  | 'datasets.get'
  | 'datasets.remove'
  | 'images.list'
  | 'images.update';

// Pickle-based formats can execute code when loaded; DESIGN.md: refuse them.
const PICKLE_EXTENSIONS = ['.ckpt', '.pt', '.pth', '.bin', '.pkl'];
const MODEL_FILE_EXTENSIONS = ['.safetensors'];
// A diffusers folder is recognised by the file its loader reads first.
const FOLDER_MARKER: Readonly<Record<ModelKind, string | null>> = Object.freeze({
  checkpoint: 'model_index.json',
  vae: 'config.json',
  lora: null,
});

async function folderSize(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  let total = 0;
  for (const e of entries) {
    if (e.isFile()) total += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

/** Checks that `file` is a model we can load safely and returns its size on disk. */
async function inspectModelPath(file: string, kind: ModelKind): Promise<number> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat) throw badRequest(`path: no such file or folder "${file}"`);
  if (stat.isDirectory()) {
    const marker = FOLDER_MARKER[kind];
    if (!marker) {
      throw badRequest(`path: a ${kind} must be a .safetensors file, not a folder ("${file}")`);
    }
    const hasMarker = await fs.stat(path.join(file, marker)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!hasMarker) {
      throw badRequest(
        `path: "${file}" is not a diffusers ${kind} folder (no ${marker}); ` +
          `give a .safetensors file or a diffusers folder`,
      );
    }
    return folderSize(file);
  }
  const ext = path.extname(file).toLowerCase();
  if (PICKLE_EXTENSIONS.includes(ext)) {
    throw badRequest(
      `path: "${file}" is a pickled checkpoint (${ext}); these are refused because loading ` +
        `them can run code. Convert it to ${MODEL_FILE_EXTENSIONS.join('/')} first`,
    );
  }
  if (!MODEL_FILE_EXTENSIONS.includes(ext)) {
    throw badRequest(
      `path: unsupported model file extension "${ext || '(none)'}" ` +
        `(valid: ${MODEL_FILE_EXTENSIONS.join(', ')} or a diffusers folder)`,
    );
  }
  return stat.size;
}

function requireDataset(ctx: ServiceContext, id: number) {
  const dataset = ctx.store.datasets.get(id);
  if (!dataset) throw notFound(`dataset #${id} does not exist`);
  return dataset;
}

export const libraryHandlers: Pick<Handlers, LibraryMethods> = {
  'system.info': (_input, ctx) =>
    collectSystemInfo({
      dataDir: ctx.dataDir,
      appVersion: ctx.appVersion,
      electronVersion: ctx.electronVersion,
    }),

  'settings.get': (_input, ctx) => ctx.store.settings.getAll(),

  'settings.set': (input, ctx) => {
    const settings = ctx.store.settings.update(input);
    ctx.changed('settings', []);
    return settings;
  },

  'models.list': (input, ctx) => ctx.store.models.list(input),

  'models.add': async (input, ctx) => {
    const file = path.resolve(input.path);
    const existing = ctx.store.models.getByPath(file);
    if (existing) throw conflict(`path: "${file}" is already registered as model #${existing.id}`);
    const sizeBytes = await inspectModelPath(file, input.kind);
    const model = ctx.store.models.add({
      kind: input.kind,
      family: input.family,
      name: input.name ?? path.basename(file, path.extname(file)),
      path: file,
      sizeBytes,
      metadata: input.metadata,
    });
    ctx.changed('models', [model.id]);
    return model;
  },

  'models.remove': (input, ctx) => {
    if (!ctx.store.models.remove(input.id)) throw notFound(`model #${input.id} does not exist`);
    ctx.changed('models', [input.id]);
    return { id: input.id };
  },

  'datasets.list': (_input, ctx) => ctx.store.datasets.list(),

  'datasets.create': (input, ctx) => {
    const existing = ctx.store.datasets.getByName(input.name);
    if (existing) throw conflict(`name: a dataset named "${input.name}" exists (#${existing.id})`);
    const dataset = ctx.store.datasets.create(input);
    ctx.changed('datasets', [dataset.id]);
    return dataset;
  },

  'datasets.get': (input, ctx) => requireDataset(ctx, input.id),

  'datasets.remove': (input, ctx) => {
    if (!ctx.store.datasets.remove(input.id)) {
      throw notFound(`dataset #${input.id} does not exist`);
    }
    ctx.changed('datasets', [input.id]);
    return { id: input.id };
  },

  'images.list': (input, ctx) => {
    requireDataset(ctx, input.datasetId);
    return ctx.store.images.list(input.datasetId, input);
  },

  'images.update': (input, ctx) => {
    const image = ctx.store.images.update(input.id, { caption: input.caption, flags: input.flags });
    if (!image) throw notFound(`image #${input.id} does not exist`);
    ctx.changed('images', [image.id]);
    return image;
  },
};
