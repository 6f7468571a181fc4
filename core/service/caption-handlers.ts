// Captioning over the contract: the model list, the captioning job (WD14-style tagger or BLIP,
// registry models downloaded first) and the bulk caption write the editor's undo uses.
import path from 'node:path';
import type { ApiParsedInput, CaptionChange, DatasetImage } from '../api.js';
import { BlipCaptioner, WdTagger, mergeCaption } from '../dataset/index.js';
import {
  CAPTION_MODELS,
  captionModelDir,
  captionModelEntry,
  ensureCaptionModel,
  localCaptionModel,
  type CaptionModelPaths,
} from '../hub/index.js';
import { badRequest, notFound } from './errors.js';
import type { JobHandle } from './jobs.js';
import type { Handlers, ServiceContext } from './context.js';

type CaptionInput = ApiParsedInput<'datasets.caption'>;

/** Where registry caption models are downloaded. */
export function captionModelsRoot(dataDir: string): string {
  return path.join(dataDir, 'models', 'captioning');
}

interface OpenedCaptioner {
  caption(file: string): Promise<string>;
  release(): Promise<void>;
}

function need(paths: CaptionModelPaths, role: keyof CaptionModelPaths): string {
  const p = paths[role];
  if (!p) throw new Error(`the model has no ${role} file`);
  return p;
}

async function openCaptioner(
  input: CaptionInput,
  paths: CaptionModelPaths,
  kind: 'tagger' | 'captioner',
): Promise<OpenedCaptioner> {
  if (kind === 'tagger') {
    const tagger = await WdTagger.create({
      modelPath: need(paths, 'model'),
      tagsPath: need(paths, 'tags'),
    });
    return {
      caption: async (file) => (await tagger.tag([file], input.tagger))[0].caption,
      release: () => tagger.release(),
    };
  }
  const blip = await BlipCaptioner.create({
    visionModelPath: need(paths, 'vision'),
    decoderModelPath: need(paths, 'decoder'),
    tokenizerPath: need(paths, 'tokenizer'),
  });
  return {
    caption: async (file) => (await blip.caption(file, input.captioner)).text,
    release: () => blip.release(),
  };
}

/** The model's local files (downloading a registry model's missing ones) and its kind. */
async function resolveModel(
  input: CaptionInput,
  ctx: ServiceContext,
  handle: JobHandle,
  share: number,
): Promise<{ paths: CaptionModelPaths; kind: 'tagger' | 'captioner' }> {
  const m = input.model;
  if (m.source === 'tagger-files') {
    return { paths: { model: m.modelPath, tags: m.tagsPath }, kind: 'tagger' };
  }
  if (m.source === 'blip-files') {
    const { visionModelPath: vision, decoderModelPath: decoder, tokenizerPath: tokenizer } = m;
    return { paths: { vision, decoder, tokenizer }, kind: 'captioner' };
  }
  const entry = captionModelEntry(m.id);
  const settings = ctx.store.settings.getAll();
  const paths = await ensureCaptionModel(captionModelsRoot(ctx.dataDir), entry, {
    endpoint: settings.huggingFaceEndpoint,
    token: settings.huggingFaceToken ?? undefined,
    signal: handle.signal,
    onEvent: (e, i, n) => {
      if (e.status !== 'progress') return;
      handle.report({
        progress: (share * (i + (e.progress ?? 0) / 100)) / n,
        message: `Downloading ${e.file} (${i + 1}/${n})`,
      });
    },
  });
  return { paths, kind: entry.kind };
}

function pickImages(ctx: ServiceContext, input: CaptionInput): DatasetImage[] {
  const all = ctx.store.images.list(input.datasetId).items;
  if (!input.imageIds) return all;
  const byId = new Map(all.map((i) => [i.id, i]));
  const foreign = input.imageIds.filter((id) => !byId.has(id));
  if (foreign.length) {
    throw badRequest(
      `imageIds: ${foreign.slice(0, 5).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not ` +
        `in dataset #${input.datasetId}`,
    );
  }
  return [...new Set(input.imageIds)].map((id) => byId.get(id)!);
}

/** Writes captions in one transaction; returns the real changes. */
function writeCaptions(
  ctx: ServiceContext,
  datasetId: number,
  captions: readonly { id: number; caption: string }[],
): CaptionChange[] {
  const changes: CaptionChange[] = [];
  ctx.store.db.transaction(() => {
    for (const c of captions) {
      const image = ctx.store.images.get(c.id);
      if (!image || image.datasetId !== datasetId) continue;
      if (image.caption === c.caption) continue;
      ctx.store.images.update(c.id, { caption: c.caption });
      changes.push({ id: c.id, before: image.caption, after: c.caption });
    }
  })();
  if (changes.length) {
    ctx.changed(
      'images',
      changes.map((c) => c.id),
    );
    ctx.changed('datasets', [datasetId]);
  }
  return changes;
}

export const captionHandlers: Pick<
  Handlers,
  'datasets.captionModels' | 'datasets.caption' | 'datasets.setCaptions'
> = {
  'datasets.captionModels': async (_input, ctx) => {
    const root = captionModelsRoot(ctx.dataDir);
    return Promise.all(
      CAPTION_MODELS.map(async (e) => ({
        id: e.id,
        kind: e.kind,
        label: e.label,
        repo: e.repo,
        files: e.files.map((f) => f.file),
        downloaded: (await localCaptionModel(root, e)).missing.length === 0,
        dir: captionModelDir(root, e),
      })),
    );
  },

  'datasets.caption': (input, ctx) => {
    const dataset = ctx.store.datasets.get(input.datasetId);
    if (!dataset) throw notFound(`dataset #${input.datasetId} does not exist`);
    if (input.model.source === 'registry') {
      const id = input.model.id;
      if (!CAPTION_MODELS.some((m) => m.id === id)) {
        throw badRequest(
          `model.id: "${id}" is not a caption model; known: ${CAPTION_MODELS.map((m) => m.id).join(', ')}`,
        );
      }
    }
    const images = pickImages(ctx, input);
    const job = ctx.jobs.enqueue({
      kind: 'caption',
      label: `Caption “${dataset.name}”`,
      run: async (handle) => {
        const download = input.model.source === 'registry' ? 0.2 : 0;
        const { paths, kind } = await resolveModel(input, ctx, handle, download);
        handle.signal.throwIfAborted();
        const captioner = await openCaptioner(input, paths, kind);
        const planned: { id: number; caption: string }[] = [];
        let skipped = 0;
        try {
          for (const [k, image] of images.entries()) {
            handle.signal.throwIfAborted();
            // only-empty never runs the model on a captioned image.
            if (input.mode === 'only-empty' && image.caption.trim()) {
              skipped++;
            } else {
              const generated = await captioner.caption(image.workPath ?? image.path);
              const merged = mergeCaption(image.caption, generated, {
                mode: input.mode,
                trigger: input.triggerWord,
              });
              if (merged === null) skipped++;
              else planned.push({ id: image.id, caption: merged });
            }
            handle.report({
              progress: download + ((1 - download) * (k + 1)) / images.length,
              step: k + 1,
              total: images.length,
              message: image.relPath ?? path.basename(image.path),
            });
          }
        } finally {
          await captioner.release();
        }
        handle.signal.throwIfAborted();
        const changes = writeCaptions(ctx, dataset.id, planned);
        return {
          result: {
            datasetId: dataset.id,
            model: kind,
            captioned: changes.length,
            unchanged: planned.length - changes.length,
            skipped,
            changes,
          },
        };
      },
    });
    return { jobId: job.id };
  },

  'datasets.setCaptions': (input, ctx) => {
    if (!ctx.store.datasets.get(input.datasetId)) {
      throw notFound(`dataset #${input.datasetId} does not exist`);
    }
    const foreign = input.captions
      .map((c) => c.id)
      .filter((id) => ctx.store.images.get(id)?.datasetId !== input.datasetId);
    if (foreign.length) {
      throw badRequest(
        `captions: image(s) ${foreign.slice(0, 5).join(', ')} not in dataset #${input.datasetId}`,
      );
    }
    const changes = writeCaptions(ctx, input.datasetId, input.captions);
    return { updated: changes.length, changes };
  },
};
