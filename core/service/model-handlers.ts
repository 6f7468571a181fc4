// The model registry's methods: add (classified from the file's header), remove (library only
// unless the file's name is confirmed), folder suggestions, defaults, and the long ones as jobs
// (scan, hashes, download — core/service/model-jobs.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Model, ModelKind } from '../api.js';
import {
  inspectModelFile,
  isPicklePath,
  isSafetensorsPath,
  SAFETENSORS_EXTENSIONS,
  suggestModelFolders,
} from '../hub/index.js';
import { assertFiniteLora, readLoraFile } from '../formats/index.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';
import { publicSettings } from './settings-handlers.js';
import { startDownloadJob, startHashJob, startScanJob } from './model-jobs.js';
import { rowFromInfo } from './model-rows.js';

type ModelMethods =
  | 'models.add'
  | 'models.remove'
  | 'models.scan'
  | 'models.suggestFolders'
  | 'models.hashes'
  | 'models.download'
  | 'models.setDefault';

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

async function checkDiffusersFolder(dir: string, kind: ModelKind | undefined): Promise<number> {
  if (!kind) {
    throw badRequest(`kind: "${dir}" is a folder; say which kind it is (valid: checkpoint, vae)`);
  }
  const marker = FOLDER_MARKER[kind];
  if (!marker)
    throw badRequest(`path: a ${kind} must be a .safetensors file, not a folder ("${dir}")`);
  const hasMarker = await fs.stat(path.join(dir, marker)).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!hasMarker) {
    throw badRequest(
      `path: "${dir}" is not a diffusers ${kind} folder (no ${marker}); ` +
        `give a .safetensors file or a diffusers folder`,
    );
  }
  return folderSize(dir);
}

function requireModel(ctx: ServiceContext, id: number): Model {
  const model = ctx.store.models.get(id);
  if (!model) throw notFound(`model #${id} does not exist`);
  return model;
}

function clearDefaultsFor(ctx: ServiceContext, id: number): void {
  const s = ctx.store.settings.getAll();
  if (s.defaultCheckpointId === id) ctx.store.settings.update({ defaultCheckpointId: null });
  if (s.defaultVaeId === id) ctx.store.settings.update({ defaultVaeId: null });
}

export const modelHandlers: Pick<Handlers, ModelMethods> = {
  'models.add': async (input, ctx) => {
    const file = path.resolve(input.path);
    const existing = ctx.store.models.getByPath(file);
    if (existing) throw conflict(`path: "${file}" is already registered as model #${existing.id}`);
    const stat = await fs.stat(file).catch(() => null);
    if (!stat) throw badRequest(`path: no such file or folder "${file}"`);
    const name = input.name ?? path.basename(file, path.extname(file));
    if (stat.isDirectory()) {
      const sizeBytes = await checkDiffusersFolder(file, input.kind);
      const model = ctx.store.models.add({
        kind: input.kind!,
        family: input.family ?? 'unknown',
        name,
        path: file,
        sizeBytes,
        metadata: input.metadata,
      });
      ctx.changed('models', [model.id]);
      return model;
    }
    if (!isSafetensorsPath(file) && !isPicklePath(file)) {
      throw badRequest(
        `path: unsupported model file extension "${path.extname(file) || '(none)'}" ` +
          `(valid: ${SAFETENSORS_EXTENSIONS.join(', ')} or a diffusers folder)`,
      );
    }
    const info = await inspectModelFile(file);
    if (!info.store) {
      throw badRequest(`path: "${file}" cannot be registered: ${info.reason ?? info.kind}`);
    }
    if (info.store.kind === 'lora') {
      // LoRAs are small: read the weights once so a damaged (NaN/Inf) one is refused up front.
      try {
        assertFiniteLora(await readLoraFile(file));
      } catch (e) {
        throw badRequest(`path: "${file}" cannot be registered: ${(e as Error).message}`);
      }
    }
    if (input.kind && input.kind !== info.store.kind) {
      throw badRequest(
        `kind: "${file}" is a ${info.store.kind} by its header (${info.detected?.reason ?? ''}), ` +
          `not a ${input.kind}`,
      );
    }
    const fields = rowFromInfo(info);
    const model = ctx.store.models.add({
      ...fields,
      // The header wins; a family the header cannot tell may be given by the caller.
      family: fields.family === 'unknown' ? (input.family ?? 'unknown') : fields.family,
      metadata: { ...fields.metadata, ...input.metadata },
      name,
      path: file,
    });
    ctx.changed('models', [model.id]);
    return model;
  },

  'models.remove': async (input, ctx) => {
    const model = requireModel(ctx, input.id);
    let fileDeleted = false;
    if (input.deleteFile) {
      const fileName = path.basename(model.path);
      if (input.confirm !== fileName) {
        throw badRequest(
          `confirm: deleting the file needs its name repeated as confirm ("${fileName}"; ` +
            `got ${input.confirm === undefined ? 'nothing' : JSON.stringify(input.confirm)})`,
        );
      }
      const stat = await fs.stat(model.path).catch(() => null);
      if (stat?.isDirectory()) {
        throw badRequest(
          `deleteFile: "${model.path}" is a folder; delete it yourself if you mean to`,
        );
      }
      if (stat) {
        await fs.rm(model.path);
        fileDeleted = true;
      }
    }
    ctx.store.models.remove(model.id);
    clearDefaultsFor(ctx, model.id);
    ctx.changed('models', [model.id]);
    return { id: model.id, fileDeleted };
  },

  'models.scan': (input, ctx) => {
    const folders = input.folders ?? ctx.store.settings.getAll().modelDirs;
    if (folders.length === 0) {
      throw badRequest(
        'folders: no model folders are configured; add some in Settings (modelDirs) or pass folders',
      );
    }
    return {
      jobId: startScanJob(
        ctx,
        folders.map((f) => path.resolve(f)),
      ),
    };
  },

  'models.suggestFolders': async (input) => {
    const stat = await fs.stat(input.root).catch(() => null);
    if (!stat?.isDirectory()) throw badRequest(`root: "${input.root}" is not a folder`);
    return suggestModelFolders(input.root);
  },

  'models.hashes': (input, ctx) => ({ jobId: startHashJob(ctx, requireModel(ctx, input.id)) }),

  'models.download': (input, ctx) => ({ jobId: startDownloadJob(ctx, input) }),

  'models.setDefault': (input, ctx) => {
    const model = requireModel(ctx, input.id);
    if (model.kind === 'lora') {
      throw badRequest(
        `id: model #${model.id} is a LoRA; a default is set for a checkpoint or a vae`,
      );
    }
    const key = model.kind === 'checkpoint' ? 'defaultCheckpointId' : 'defaultVaeId';
    const settings = ctx.store.settings.update({ [key]: model.id });
    ctx.changed('settings', []);
    return publicSettings(settings);
  },
};
