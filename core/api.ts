// CONTRACT-READY
// The typed contract between the UI and the core. One table (`apiMethods`) names every
// method with a zod schema for its input and output; the service validates inputs with
// it, the transports (Electron IPC, loopback HTTP + WebSocket) carry it, and the renderer
// derives its types from it. No node imports here: the renderer's build includes this file
// for its types (zod is bundler-safe).
//
// HTTP transport (serve mode), shared by every client:
//   POST /api/<method>   body: JSON input   header: Authorization: Bearer <token>
//     200 { ok: true, result }   4xx/5xx { ok: false, error: { code, message } }
//   WS   /events?token=<token>   server → client: one ApiEvent JSON per message
import { z } from 'zod';

// ---------------------------------------------------------------------------------------
// Shared building blocks

const id = z.int().positive();
const timestamp = z.iso.datetime();
const jsonObject = z.record(z.string(), z.unknown());
/** Absolute path on the machine that runs the core (POSIX, `C:\…` or UNC). */
const absolutePath = z
  .string()
  .min(1)
  .refine((p) => /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p), 'must be an absolute path');
const byId = z.strictObject({ id });
const removed = z.object({ id });
const noInput = z.strictObject({});
const paging = {
  offset: z.int().min(0).default(0),
  limit: z.int().min(1).max(1000).default(200),
};

export const API_ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'internal',
] as const;

export const apiErrorSchema = z.object({ code: z.enum(API_ERROR_CODES), message: z.string() });

export const EXECUTION_PROVIDERS = ['cuda', 'dml', 'webgpu', 'cpu'] as const;
const executionProviderChoice = z.enum(['auto', ...EXECUTION_PROVIDERS]);

// ---------------------------------------------------------------------------------------
// Entities

export const MODEL_KINDS = ['checkpoint', 'vae', 'lora'] as const;
export const MODEL_FAMILIES = ['sd15', 'sd2', 'sdxl', 'unknown'] as const;

const modelSchema = z.object({
  id,
  kind: z.enum(MODEL_KINDS),
  family: z.enum(MODEL_FAMILIES),
  name: z.string(),
  path: z.string(),
  sizeBytes: z.int().min(0),
  /** Filled by the hub/registry when known; keys like `sha256`, `autov2`. */
  hashes: z.record(z.string(), z.string()),
  metadata: jsonObject,
  addedAt: timestamp,
  /** The file was not found by the last scan of its folder (the row is kept until removed). */
  missing: z.boolean(),
  /** A preview image beside the file (`name.png`, `name.preview.png`, …), if any. */
  preview: z.string().nullable(),
  /** Whether this app can use the file as what it is; `reason` says why not. */
  supported: z.boolean(),
  reason: z.string().nullable(),
});

export const IMPORT_SKIP_REASONS = [
  'empty',
  'unsupported',
  'corrupt',
  'too-large',
  'unreadable',
  'orphan-caption',
] as const;

const skippedFileSchema = z.object({
  relPath: z.string(),
  reason: z.enum(IMPORT_SKIP_REASONS),
  message: z.string(),
});

const datasetSchema = z.object({
  id,
  name: z.string(),
  description: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  imageCount: z.int().min(0),
  excludedCount: z.int().min(0),
  captionedCount: z.int().min(0),
  /** The folder the last datasets.import read (never modified); null before any import. */
  sourceDir: z.string().nullable(),
  /** `<dataDir>/datasets/<id>`: working copies and thumbnails. */
  workDir: z.string().nullable(),
  /** Files the last import left out, with why. */
  skipped: z.array(skippedFileSchema),
  /** Images the OCR scan flagged (and the user did not keep): left out of training. */
  flaggedCount: z.int().min(0),
});

const imageFlagsSchema = z.object({
  /** Left out of training. */
  excluded: z.boolean(),
  /** Pinned by the user: automatic filters (dedup, OCR) never exclude it. */
  keep: z.boolean(),
});

const imageSchema = z.object({
  id,
  datasetId: id,
  path: z.string(),
  caption: z.string(),
  flags: imageFlagsSchema,
  width: z.int().positive().nullable(),
  height: z.int().positive().nullable(),
  /** sha256 (hex) of the source file's bytes, set by datasets.import (same as `sha256`). */
  hash: z.string().nullable(),
  addedAt: timestamp,
  updatedAt: timestamp,
  /** From an import: path inside the source folder ('/'-separated). */
  relPath: z.string().nullable(),
  /** From an import: the working copy (what training reads) and the WebP thumbnail. */
  workPath: z.string().nullable(),
  thumbPath: z.string().nullable(),
  format: z.string().nullable(),
  /** kohya `N_name` folder: N (1 elsewhere) and name (the class / trigger words). */
  repeats: z.int().min(1),
  className: z.string().nullable(),
  /** sha256 of the source file's bytes (hex). */
  sha256: z.string().nullable(),
  /** Share of the image covered by text (OCR scan), 0…1; null until scanned. */
  textRatio: z.number().min(0).max(1).nullable(),
  /** textRatio ≥ the scan's threshold; a flagged image trains only when `keep` is set. */
  textFlagged: z.boolean().nullable(),
});

/** How a generated caption meets an image's caption (datasets.caption). */
export const CAPTION_MODES = ['overwrite', 'append', 'only-empty'] as const;

const captionModelChoice = z.discriminatedUnion('source', [
  /** A datasets.captionModels entry, downloaded into the data dir when missing. */
  z.strictObject({ source: z.literal('registry'), id: z.string().min(1).max(100) }),
  /** A WD14-style tagger on disk: model.onnx + selected_tags.csv. */
  z.strictObject({
    source: z.literal('tagger-files'),
    modelPath: absolutePath,
    tagsPath: absolutePath,
  }),
  /** BLIP on disk: vision model, text decoder and tokenizer.json / vocab.txt. */
  z.strictObject({
    source: z.literal('blip-files'),
    visionModelPath: absolutePath,
    decoderModelPath: absolutePath,
    tokenizerPath: absolutePath,
  }),
]);

const captionChangeSchema = z.object({ id, before: z.string(), after: z.string() });

const textBoxSchema = z.object({
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  score: z.number(),
  text: z.string().optional(),
});

export const RUN_STATUSES = [
  'draft',
  'queued',
  'running',
  'paused',
  'completed',
  'failed',
  'cancelled',
  // Was running (or queued) when the process that owned it died; resumable from its checkpoint.
  'interrupted',
] as const;

export const LR_SCHEDULERS = ['constant', 'constant_with_warmup', 'linear', 'cosine'] as const;

/** Training hyper-parameters (kohya names in comments where they differ). */
export const trainingConfigSchema = z.strictObject({
  // Bounds follow core/train's run config (kohya names), so a run's view is never clamped.
  resolution: z
    .int()
    .min(64)
    .max(2048)
    .refine((n) => n % 64 === 0, 'must be a multiple of 64')
    .default(512),
  batchSize: z.int().min(1).max(64).default(1),
  maxSteps: z.int().min(1).max(1_000_000).default(1000), // max_train_steps
  rank: z.int().min(1).max(1024).default(16), // network_dim
  alpha: z.number().positive().max(1024).default(16), // network_alpha
  learningRate: z.number().positive().max(1).default(1e-4), // unet_lr
  trainTextEncoder: z.boolean().default(false),
  textEncoderLearningRate: z.number().positive().max(1).default(5e-5), // text_encoder_lr
  lrScheduler: z.enum(LR_SCHEDULERS).default('constant'),
  warmupSteps: z.int().min(0).default(0),
  optimizer: z.enum(['adamw']).default('adamw'),
  weightDecay: z.number().min(0).max(1).default(0.01),
  seed: z.int().min(0).max(0xffff_ffff).default(42),
  precision: z.enum(['auto', 'fp16', 'fp32']).default('auto'),
  clipSkip: z.int().min(1).max(12).default(1),
  captionDropoutRate: z.number().min(0).max(1).default(0),
  shuffleCaptionTags: z.boolean().default(false),
  saveEverySteps: z.int().min(0).default(0), // 0: only at the end
  sampleEverySteps: z.int().min(0).default(0), // 0: no samples during training
  samplePrompts: z.array(z.string().max(2000)).max(8).default([]),
  executionProvider: executionProviderChoice.default('auto'),
});

const runSchema = z.object({
  id,
  name: z.string(),
  datasetId: id.nullable(),
  baseModelId: id.nullable(),
  status: z.enum(RUN_STATUSES),
  config: trainingConfigSchema,
  error: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  lastStep: z.int().min(0).nullable(),
  lastLoss: z.number().nullable(),
});

const runStepSchema = z.object({
  step: z.int().min(0),
  loss: z.number(),
  lr: z.number(),
  at: timestamp,
});

const runSampleSchema = z.object({
  step: z.int().min(0),
  path: z.string(),
  prompt: z.string().optional(),
});

const artifactSchema = z.object({
  id,
  runId: id.nullable(),
  name: z.string(),
  path: z.string(),
  sizeBytes: z.int().min(0),
  metadata: jsonObject,
  createdAt: timestamp,
});

export const SAMPLERS = ['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'dpmpp_2m_karras'] as const;
export type Sampler = (typeof SAMPLERS)[number];
/** The names A1111 gives the samplers: what its infotext carries and what the UI shows. */
export const SAMPLER_LABELS: Readonly<Record<Sampler, string>> = Object.freeze({
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
});

export const generationParamsSchema = z.object({
  prompt: z.string(),
  negativePrompt: z.string().default(''),
  sampler: z.enum(SAMPLERS),
  steps: z.int().min(1).max(1000),
  cfgScale: z.number().min(0).max(50),
  width: z.int().positive(),
  height: z.int().positive(),
  // A1111 offers 1…12 (the CLIP text encoder's layer count).
  clipSkip: z.int().min(1).max(12).default(1),
  loras: z
    .array(z.object({ path: z.string(), strength: z.number(), artifactId: id.optional() }))
    .default([]),
  modelPath: z.string().optional(),
  vaePath: z.string().optional(),
  denoisingStrength: z.number().min(0).max(1).optional(),
  /** The A1111 `parameters` text written into the PNG. */
  infotext: z.string().optional(),
});

const generationSchema = z.object({
  id,
  modelId: id.nullable(),
  filePath: z.string(),
  seed: z.int().min(0),
  params: generationParamsSchema,
  createdAt: timestamp,
});

// Jobs: long work (generation now; training, caching, captioning later) queued in the core.
export const JOB_KINDS = [
  'import',
  'caption',
  'cache',
  'train',
  'export',
  'generate',
  'download',
  'eval',
  'scan',
  'hash',
  'demo',
] as const;
export const JOB_STATUSES = ['queued', 'running', 'done', 'error', 'cancelled'] as const;

const jobId = z.string().min(1).max(100);

const jobSchema = z.object({
  id: jobId,
  kind: z.enum(JOB_KINDS),
  label: z.string(),
  status: z.enum(JOB_STATUSES),
  /** 0…1, never decreasing; 1 once done. */
  progress: z.number().min(0).max(1),
  step: z.int().min(0).nullable(),
  total: z.int().min(0).nullable(),
  message: z.string().nullable(),
  /** jobs.cancel was called while it ran; it stops at the next step. */
  cancelRequested: z.boolean(),
  error: apiErrorSchema.nullable(),
  createdAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  /** Rows a generate job wrote: all when done, those finished before a cancel otherwise. */
  generationIds: z.array(id),
});

/** Image dimensions: SD works on 8× smaller latents. */
const imageSide = z
  .int()
  .min(64)
  .max(2048)
  .refine((n) => n % 8 === 0, 'must be a multiple of 8');
/** Bytes as base64 (a `data:…;base64,` prefix is accepted too). */
const base64Bytes = z
  .string()
  .min(1)
  .regex(/^(data:[\w/+.-]+;base64,)?[A-Za-z0-9+/\s]*={0,2}\s*$/, 'must be base64');

const loraChoice = z
  .strictObject({
    /** A registered LoRA (models.add kind "lora")… */
    modelId: id.optional(),
    /** …or a .safetensors file on disk. */
    path: absolutePath.optional(),
    strength: z.number().min(-10).max(10).default(1),
  })
  .refine((l) => (l.modelId === undefined) !== (l.path === undefined), {
    message: 'give modelId (a registered LoRA) or path, exactly one',
  });

/** generate.start: GenerateParams (core/generate/types.ts) minus outputDir, plus registry ids. */
export const generateRequestSchema = z
  .strictObject({
    /** A registered checkpoint… */
    modelId: id.optional(),
    /** …or a checkpoint file / diffusers folder on disk. */
    modelPath: absolutePath.optional(),
    vaeId: id.optional(),
    vaePath: absolutePath.optional(),
    prompt: z.string().max(20_000),
    negativePrompt: z.string().max(20_000).default(''),
    sampler: z.enum(SAMPLERS).default('euler_a'),
    steps: z.int().min(1).max(150).default(20),
    cfgScale: z.number().min(0).max(30).default(7),
    /** -1: a random seed (the one used is reported with each image). */
    seed: z.int().min(-1).max(0xffff_ffff).default(-1),
    width: imageSide.default(512),
    height: imageSide.default(512),
    batchCount: z.int().min(1).max(100).default(1),
    batchSize: z.int().min(1).max(8).default(1),
    clipSkip: z.int().min(1).max(12).default(1),
    loras: z.array(loraChoice).max(16).default([]),
    /** img2img: PNG or JPEG bytes. */
    initImage: base64Bytes.optional(),
    denoisingStrength: z.number().min(0).max(1).optional(),
    /** Default: the executionProvider setting. */
    ep: executionProviderChoice.optional(),
    saveLatents: z.boolean().default(false),
    /** Attach a preview to every Nth progress event (0: none). */
    previewEvery: z.int().min(0).max(1000).default(1),
  })
  // Neither: the default checkpoint (settings.defaultCheckpointId) is used.
  .refine((r) => r.modelId === undefined || r.modelPath === undefined, {
    message: 'give modelId (a registered checkpoint) or modelPath, not both',
    path: ['modelId'],
  })
  .refine((r) => r.vaeId === undefined || r.vaePath === undefined, {
    message: 'give vaeId or vaePath, not both',
    path: ['vaeId'],
  })
  .refine((r) => r.denoisingStrength === undefined || r.initImage !== undefined, {
    message: 'denoisingStrength needs an initImage (img2img)',
    path: ['denoisingStrength'],
  });

/** What infotext.parse reads out of an A1111 `parameters` text. */
const parsedInfotextSchema = z.object({
  prompt: z.string(),
  negativePrompt: z.string(),
  /** Ours when we have that sampler; `samplerName` keeps what the text said. */
  sampler: z.enum(SAMPLERS).optional(),
  samplerName: z.string().optional(),
  steps: z.int().optional(),
  cfgScale: z.number().optional(),
  seed: z.int().optional(),
  width: z.int().optional(),
  height: z.int().optional(),
  clipSkip: z.int(),
  model: z.string().optional(),
  modelHash: z.string().optional(),
  vae: z.string().optional(),
  denoisingStrength: z.number().optional(),
  loraHashes: z.array(z.object({ name: z.string(), hash: z.string() })),
  /** Every other key, as text. */
  extra: z.record(z.string(), z.string()),
});

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;

export const settingsSchema = z.object({
  executionProvider: executionProviderChoice.default('auto'),
  theme: z.enum(['system', 'light', 'dark']).default('system'),
  /** Extra folders scanned for checkpoints / VAEs / LoRAs. */
  modelDirs: z.array(absolutePath).default([]),
  /** Where exports and images go; null means `<data dir>/outputs`. */
  outputDir: absolutePath.nullable().default(null),
  huggingFaceEndpoint: z.url().default('https://huggingface.co'),
  /** Hugging Face access token (gated repos); settings.get returns it masked. */
  huggingFaceToken: z.string().trim().max(500).nullable().default(null),
  /** Intra-op threads for the CPU execution provider; 0 lets onnxruntime choose. */
  cpuThreads: z.int().min(0).max(256).default(0),
  /** Keep the last used model loaded between jobs (faster, uses memory). */
  keepModelWarm: z.boolean().default(true),
  defaultOutputFormat: z.enum(OUTPUT_FORMATS).default('png'),
  /** Set by models.setDefault. */
  defaultCheckpointId: id.nullable().default(null),
  defaultVaeId: id.nullable().default(null),
});
export const SETTINGS_KEYS = Object.keys(settingsSchema.shape) as (keyof Settings)[];

const providerSchema = z.object({
  name: z.enum(EXECUTION_PROVIDERS),
  bundled: z.boolean(),
  installed: z.boolean(),
  requirement: z.string(),
});

const systemInfoSchema = z.object({
  appVersion: z.string(),
  platform: z.string(),
  arch: z.string(),
  nodeVersion: z.string(),
  electronVersion: z.string().nullable(),
  dataDir: z.string(),
  executionProviders: z.array(providerSchema),
  cpuCount: z.int().positive(),
  totalMemoryBytes: z.number().positive(),
});

// ---------------------------------------------------------------------------------------
// LoRA library and generations history (core/library)

const loraFactSchema = z.object({ key: z.string(), label: z.string(), value: z.string() });
const tagCountSchema = z.object({ tag: z.string(), count: z.number() });
export const GRID_KINDS = ['strength-sweep', 'before-after'] as const;
/** A saved comparison grid: `<dataDir>/grids/<id>/` (grid.png, cell-<i>.png, grid.json). */
const gridSchema = z.object({
  id: z.string(),
  loraModelId: id,
  kind: z.enum(GRID_KINDS),
  createdAt: timestamp,
  width: z.int().positive(),
  height: z.int().positive(),
  columns: z.array(z.string()),
  prompts: z.array(z.string()),
  seed: z.int().min(0),
  settings: jsonObject,
  cells: z.array(
    z.object({
      file: z.string(),
      prompt: z.string(),
      strength: z.number().nullable(),
      seed: z.int().min(0),
    }),
  ),
});
const loraEntrySchema = z.object({
  model: modelSchema,
  /** The training run that exported it (matched by output path), if trained here. */
  run: z.object({ id, name: z.string(), status: z.enum(RUN_STATUSES) }).nullable(),
  artifactId: id.nullable(),
  triggerWords: z.array(z.string()),
});
const gridIdSchema = z.string().regex(/^[0-9]{13}-[0-9a-f]{8}$/, 'must be a grid id');

// ---------------------------------------------------------------------------------------
// The method table

function method<I extends z.ZodType, O extends z.ZodType>(input: I, output: O) {
  return { input, output };
}

export const apiMethods = {
  'system.info': method(noInput, systemInfoSchema),

  'settings.get': method(noInput, settingsSchema),
  /** Partial update; returns the full settings. */
  'settings.set': method(settingsSchema.partial().strict(), settingsSchema),

  'models.list': method(
    z.strictObject({ kind: z.enum(MODEL_KINDS).optional() }),
    z.array(modelSchema),
  ),
  /**
   * Registers a file (or diffusers folder) already on disk; never copies it. A .safetensors
   * file's kind, family and metadata are read from its header; `kind`/`family` are needed only
   * for diffusers folders (or to name a family the header does not tell).
   */
  'models.add': method(
    z.strictObject({
      path: absolutePath,
      kind: z.enum(MODEL_KINDS).optional(),
      family: z.enum(MODEL_FAMILIES).optional(),
      name: z.string().trim().min(1).max(200).optional(),
      metadata: jsonObject.default({}),
    }),
    modelSchema,
  ),
  /**
   * Forgets the model; the file on disk is left alone unless `deleteFile` is set and `confirm`
   * repeats the file's name (a second, deliberate confirmation).
   */
  'models.remove': method(
    z.strictObject({ id, deleteFile: z.boolean().default(false), confirm: z.string().optional() }),
    z.object({ id, fileDeleted: z.boolean() }),
  ),
  /**
   * Job: scans the given folders (default: the modelDirs setting), registers new model files,
   * updates known ones and marks rows whose file is gone as missing.
   */
  'models.scan': method(
    z.strictObject({ folders: z.array(absolutePath).min(1).max(64).optional() }),
    z.object({ jobId }),
  ),
  /** The model sub-folders of an A1111/Forge or ComfyUI install at `root`. */
  'models.suggestFolders': method(
    z.strictObject({ root: absolutePath }),
    z.array(
      z.object({
        path: z.string(),
        role: z.enum(['checkpoint', 'lora', 'vae', 'embedding']),
        layout: z.enum(['a1111', 'comfyui']),
      }),
    ),
  ),
  /** Job: computes sha256/AutoV2/legacy (+ AutoV3 for LoRAs), cached by path+size+mtime. */
  'models.hashes': method(byId, z.object({ jobId })),
  /**
   * Job: downloads a file into the data dir's models folder (or the configured folder for its
   * kind), verifies it and registers it. Progress: step/total in bytes, speed/ETA in message.
   */
  'models.download': method(
    z.strictObject({
      source: z.discriminatedUnion('kind', [
        z.strictObject({
          kind: z.literal('hf'),
          repo: z.string().trim().min(1).max(200),
          file: z.string().trim().min(1).max(1000),
          revision: z.string().trim().min(1).max(200).optional(),
        }),
        z.strictObject({ kind: z.literal('url'), url: z.url({ protocol: /^https?$/ }) }),
      ]),
      sha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
        .optional(),
      kind: z.enum(MODEL_KINDS).optional(),
    }),
    z.object({ jobId }),
  ),
  /** Makes a checkpoint or VAE the default (stored in settings). */
  'models.setDefault': method(byId, settingsSchema),

  'datasets.list': method(noInput, z.array(datasetSchema)),
  'datasets.create': method(
    z.strictObject({
      name: z.string().trim().min(1).max(200),
      description: z.string().max(10_000).default(''),
    }),
    datasetSchema,
  ),
  'datasets.get': method(byId, datasetSchema),
  /** Deletes the dataset and its image rows (image files are left alone). */
  'datasets.remove': method(byId, removed),
  /**
   * Job: imports every image under `folder` (never modified) into `<dataDir>/datasets/<id>/`
   * (working copies + thumbnails) and adds/updates its image rows; skipped files land in
   * `datasets.get(...).skipped`. Captions already edited in the app are kept on re-import.
   */
  'datasets.import': method(
    z.strictObject({ datasetId: id, folder: absolutePath }),
    z.object({ jobId }),
  ),
  /**
   * Job: measures each image's text area with the OCR detector and flags those at or over
   * `flagRatio`. Images already measured are only re-flagged unless `rescan` is set.
   */
  'datasets.scanText': method(
    z.strictObject({
      datasetId: id,
      flagRatio: z.number().min(0).max(1).default(0.005),
      rescan: z.boolean().default(false),
    }),
    z.object({ jobId }),
  ),
  /**
   * Job: the quality report of core/dataset (near-duplicates, too-small, blurry, aspect
   * outliers, caption statistics, keep/exclude suggestions). Nothing is changed; the report
   * is the `result` of the job's `done` event.
   */
  'datasets.quality': method(
    z.strictObject({
      datasetId: id,
      duplicateThreshold: z.int().min(0).max(64).optional(),
      minSide: z.int().min(1).max(8192).optional(),
    }),
    z.object({ jobId }),
  ),
  /**
   * Writes the training images as a kohya folder: `<folder>/<repeats>_<name>/<file>` plus a
   * `.txt` caption each. Refuses to replace existing files unless `overwrite`.
   */
  'datasets.exportKohya': method(
    z.strictObject({ datasetId: id, folder: absolutePath, overwrite: z.boolean().default(false) }),
    z.object({
      folder: z.string(),
      subfolders: z.array(z.string()),
      images: z.int().min(0),
      captions: z.int().min(0),
    }),
  ),
  /** The captioning models this app can fetch, and whether their files are already here. */
  'datasets.captionModels': method(
    noInput,
    z.array(
      z.object({
        id: z.string(),
        kind: z.enum(['tagger', 'captioner']),
        label: z.string(),
        repo: z.string(),
        files: z.array(z.string()),
        downloaded: z.boolean(),
        dir: z.string(),
      }),
    ),
  ),
  /**
   * Job: captions images with a WD14-style tagger or BLIP (downloading a registry model
   * first), merging per `mode`, with `triggerWord` first. Captions are written when the whole
   * job succeeds (a cancel changes nothing); the done event's result lists each change
   * (`before`/`after`) so an editor can undo it with datasets.setCaptions.
   */
  'datasets.caption': method(
    z.strictObject({
      datasetId: id,
      model: captionModelChoice,
      mode: z.enum(CAPTION_MODES).default('only-empty'),
      triggerWord: z.string().trim().max(200).optional(),
      /** Default: every image of the dataset. */
      imageIds: z.array(id).min(1).max(10_000).optional(),
      tagger: z
        .strictObject({
          generalThreshold: z.number().min(0).max(1).default(0.35),
          characterThreshold: z.number().min(0).max(1).default(0.85),
          includeRating: z.boolean().default(false),
          replaceUnderscores: z.boolean().default(true),
          blacklist: z.array(z.string().max(200)).max(1000).default([]),
          maxTags: z.int().min(1).max(500).optional(),
        })
        .prefault({}),
      captioner: z
        .strictObject({
          maxTokens: z.int().min(1).max(100).default(30),
          prompt: z.string().max(200).default(''),
        })
        .prefault({}),
    }),
    z.object({ jobId }),
  ),
  /** Sets many captions at once (one transaction); every id must belong to the dataset. */
  'datasets.setCaptions': method(
    z.strictObject({
      datasetId: id,
      captions: z
        .array(z.strictObject({ id, caption: z.string().max(10_000) }))
        .min(1)
        .max(10_000),
    }),
    z.object({ updated: z.int().min(0), changes: z.array(captionChangeSchema) }),
  ),
  /** The last datasets.quality report of the dataset (kept in its work dir), or null. */
  'datasets.report': method(
    byId,
    z.object({ datasetId: id, createdAt: timestamp, report: jsonObject }).nullable(),
  ),
  /** Text boxes the last OCR scan found per image (image pixels), for the overlay preview. */
  'datasets.textBoxes': method(
    byId,
    z.object({
      images: z.array(
        z.object({
          id,
          width: z.int().positive(),
          height: z.int().positive(),
          textRatio: z.number().min(0).max(1),
          boxes: z.array(textBoxSchema),
        }),
      ),
    }),
  ),

  'images.list': method(
    z.strictObject({
      datasetId: id,
      filter: z.enum(['all', 'included', 'excluded', 'uncaptioned']).default('all'),
      ...paging,
    }),
    z.object({ items: z.array(imageSchema), total: z.int().min(0) }),
  ),
  'images.update': method(
    z
      .strictObject({
        id,
        caption: z.string().max(10_000).optional(),
        flags: z
          .strictObject({ excluded: z.boolean().optional(), keep: z.boolean().optional() })
          .optional(),
      })
      .refine((v) => v.caption !== undefined || v.flags !== undefined, {
        message: 'nothing to update: give caption and/or flags',
      }),
    imageSchema,
  ),
  /** An imported image's WebP thumbnail as base64 (for clients without the file route). */
  'images.thumbnail': method(
    byId,
    z.object({ id, mime: z.literal('image/webp'), data: z.string() }),
  ),

  'runs.list': method(
    z.strictObject({ datasetId: id.optional(), status: z.enum(RUN_STATUSES).optional() }),
    z.array(runSchema),
  ),
  'runs.get': method(
    byId,
    runSchema.extend({
      steps: z.array(runStepSchema),
      artifacts: z.array(artifactSchema),
      /** From `<runDir>/samples/index.json` when the run wrote sample images. */
      samples: z.array(runSampleSchema),
      /** The full run config (`<runDir>/run.json`), null before the run started. */
      runConfig: jsonObject.nullable(),
      /** The training job working on it now, if any. */
      jobId: jobId.nullable(),
    }),
  ),
  /** Stores a draft run (config only); starting it arrives with the trainer. */
  'runs.create': method(
    z.strictObject({
      name: z.string().trim().min(1).max(200),
      datasetId: id,
      baseModelId: id,
      config: trainingConfigSchema.prefault({}),
    }),
    runSchema,
  ),
  'runs.remove': method(byId, removed),
  /**
   * Queues a training job: a draft (`runId`) or a kohya run config (`config`, snake_case names
   * as in core/train's runConfigSchema). Progress events carry step, loss, lr, it/s and ETA.
   */
  'runs.start': method(
    z
      .strictObject({
        runId: id.optional(),
        config: jsonObject.optional(),
        name: z.string().trim().min(1).max(200).optional(),
        datasetId: id.optional(),
        baseModelId: id.optional(),
      })
      .refine((v) => (v.runId === undefined) !== (v.config === undefined), {
        message: 'give runId (a draft) or config (a run config), exactly one',
      }),
    z.object({ jobId, runId: id }),
  ),
  /**
   * Stops a run at its next step and writes a checkpoint (status cancelled, or paused with
   * `pause`); runs.resume continues from that checkpoint. Pause = cancel-with-checkpoint.
   */
  'runs.cancel': method(z.strictObject({ id, pause: z.boolean().default(false) }), runSchema),
  /** Continues a stopped run from its newest checkpoint (from step 0 when it has none). */
  'runs.resume': method(byId, z.object({ jobId, runId: id })),

  'artifacts.list': method(z.strictObject({ runId: id.optional() }), z.array(artifactSchema)),

  'generations.list': method(
    z.strictObject({ modelId: id.optional(), ...paging }),
    z.object({ items: z.array(generationSchema), total: z.int().min(0) }),
  ),
  /** `withImage` adds the PNG as base64 (for clients without the HTTP file route). */
  'generations.get': method(
    z.strictObject({ id, withImage: z.boolean().default(false) }),
    generationSchema.extend({ image: z.string().optional() }),
  ),
  /** `deleteFile` removes the image too, but only when it lies inside the data dir. */
  'generations.remove': method(
    z.strictObject({ id, deleteFile: z.boolean().default(false) }),
    z.object({ id, fileDeleted: z.boolean() }),
  ),

  /**
   * Queues a txt2img/img2img job (one runs at a time); progress comes as events with its
   * jobId, and each image becomes a generations row.
   */
  'generate.start': method(generateRequestSchema, z.object({ jobId })),
  /** Reads an A1111 PNG's `parameters` text (PNG bytes as base64), or a pasted text. */
  'infotext.parse': method(
    z
      .strictObject({ png: base64Bytes.optional(), text: z.string().max(100_000).optional() })
      .refine((v) => (v.png === undefined) !== (v.text === undefined), {
        message: 'give png (base64) or text, exactly one',
      }),
    z.object({ infotext: z.string(), params: parsedInfotextSchema }),
  ),

  'jobs.list': method(
    z.strictObject({ kind: z.enum(JOB_KINDS).optional(), status: z.enum(JOB_STATUSES).optional() }),
    z.array(jobSchema),
  ),
  /** For polling clients: the job, its latest preview and, once done, its rows. */
  'jobs.get': method(
    z.strictObject({ jobId }),
    jobSchema.extend({
      /** `data:image/png;base64,…` of the latest preview, if any. */
      preview: z.string().nullable(),
      generations: z.array(generationSchema),
    }),
  ),
  /** A queued job is dropped at once; a running one stops at its next step. */
  'jobs.cancel': method(z.strictObject({ jobId }), jobSchema),
  /** Every registered LoRA (imported or trained here) with its run and trigger words. */
  'library.loras': method(noInput, z.array(loraEntrySchema)),
  /** One LoRA, A1111-style: facts from its ss_* metadata, tag frequency, samples, saved grids. */
  'library.lora': method(
    byId,
    loraEntrySchema.extend({
      facts: z.array(loraFactSchema),
      /** ss_tag_frequency merged over folders, most frequent first. */
      tagFrequency: z.array(tagCountSchema),
      /** The run's sample images by step (index = position for library.image). */
      samples: z.array(runSampleSchema.extend({ index: z.int().min(0) })),
      grids: z.array(gridSchema),
    }),
  ),
  /**
   * Job (kind eval): renders a comparison grid of a LoRA on a checkpoint (default: the default
   * checkpoint) and saves it in the data dir; the done event's result is `{ grid }`.
   */
  'library.renderGrid': method(
    z.strictObject({
      id,
      kind: z.enum(GRID_KINDS),
      checkpointId: id.optional(),
      prompts: z.array(z.string().max(2000)).min(1).max(16),
      strengths: z.array(z.number().min(-10).max(10)).min(1).max(12).optional(),
      /** before-after: the "with" column's strength. */
      strength: z.number().min(-10).max(10).default(1),
      seed: z.int().min(0).max(0xffff_ffff).default(42),
      steps: z.int().min(1).max(150).default(20),
      width: imageSide.default(512),
      height: imageSide.default(512),
      sampler: z.enum(SAMPLERS).default('euler_a'),
      cfgScale: z.number().min(0).max(30).default(7),
      negativePrompt: z.string().max(20_000).default(''),
    }),
    z.object({ jobId }),
  ),
  /** A grid sheet/cell or a run sample as base64 (clients without the file route). */
  'library.image': method(
    z.union([
      z.strictObject({ gridId: gridIdSchema, cell: z.int().min(0).max(999).optional() }),
      z.strictObject({ loraId: id, sample: z.int().min(0) }),
    ]),
    z.object({ mime: z.literal('image/png'), data: z.string() }),
  ),
  /** The configured LoRA folders (Settings → model folders) that Copy to… may write into. */
  'library.copyTargets': method(
    noInput,
    z.array(z.object({ path: z.string(), layout: z.enum(['a1111', 'comfyui', 'folder']) })),
  ),
  /** Copies a LoRA file into one of library.copyTargets (never replaces unless overwrite). */
  'library.copyTo': method(
    z.strictObject({ id, folder: absolutePath, overwrite: z.boolean().default(false) }),
    z.object({ path: z.string() }),
  ),
  /**
   * Writes `<stem>.safetensors`, `<stem>.preview.png` (first grid cell, else newest sample),
   * `<stem>.civitai.json` and `<stem>.md` (trigger words, training settings) into `folder`.
   */
  'library.exportCivitai': method(
    z.strictObject({ id, folder: absolutePath, overwrite: z.boolean().default(false) }),
    z.object({
      folder: z.string(),
      safetensors: z.string(),
      preview: z.string().nullable(),
      json: z.string(),
      markdown: z.string(),
      triggerWords: z.array(z.string()),
    }),
  ),
  /** Generations history: newest first, prompt search, model / LoRA filters, paging. */
  'generations.search': method(
    z.strictObject({
      query: z.string().trim().max(500).default(''),
      modelId: id.optional(),
      /** A LoRA model id: images that used its file. */
      loraId: id.optional(),
      ...paging,
      limit: z.int().min(1).max(200).default(24),
    }),
    z.object({ items: z.array(generationSchema), total: z.int().min(0) }),
  ),
  /**
   * Job (kind `demo`): the built-in demo — imports the sample dataset, OCR scan, caption check,
   * trains a LoRA on the tiny base model (its jobs show in the queue), renders a before/after
   * grid and a strength sweep. The done event's result is the demo report (paths, gridIds, loss,
   * image statistics).
   */
  'demo.start': method(
    z.strictObject({ steps: z.int().min(1).max(10_000).default(600) }),
    z.object({ jobId }),
  ),
} as const;

/**
 * Methods whose input may carry image bytes (base64): serve mode accepts larger bodies for
 * them than for the rest.
 */
export const IMAGE_INPUT_METHODS: readonly ApiMethodName[] = Object.freeze([
  'generate.start',
  'infotext.parse',
]);

export type ApiMethods = typeof apiMethods;
export type ApiMethodName = keyof ApiMethods;
/** What a caller passes (defaults still optional). */
export type ApiInput<M extends ApiMethodName> = z.input<ApiMethods[M]['input']>;
/** What the service sees after validation (defaults applied). */
export type ApiParsedInput<M extends ApiMethodName> = z.output<ApiMethods[M]['input']>;
export type ApiOutput<M extends ApiMethodName> = z.output<ApiMethods[M]['output']>;

export const API_METHOD_NAMES = Object.keys(apiMethods) as ApiMethodName[];

export function isApiMethodName(name: string): name is ApiMethodName {
  return Object.prototype.hasOwnProperty.call(apiMethods, name);
}

export type Model = z.output<typeof modelSchema>;
export type ModelKind = Model['kind'];
export type ModelFamily = Model['family'];
export type Dataset = z.output<typeof datasetSchema>;
export type DatasetImage = z.output<typeof imageSchema>;
export type CaptionMode = (typeof CAPTION_MODES)[number];
export type CaptionChange = z.output<typeof captionChangeSchema>;
export type TextBoxInfo = z.output<typeof textBoxSchema>;
export type ImageFlags = z.output<typeof imageFlagsSchema>;
export type ImportSkippedFile = z.output<typeof skippedFileSchema>;
export type TrainingRun = z.output<typeof runSchema>;
export type RunStatus = TrainingRun['status'];
export type RunStep = z.output<typeof runStepSchema>;
export type TrainingConfig = z.output<typeof trainingConfigSchema>;
export type Artifact = z.output<typeof artifactSchema>;
export type Generation = z.output<typeof generationSchema>;
export type GenerationParams = z.output<typeof generationParamsSchema>;
export type GenerateRequest = z.input<typeof generateRequestSchema>;
export type ParsedInfotext = z.output<typeof parsedInfotextSchema>;
export type Job = z.output<typeof jobSchema>;
export type JobStatus = Job['status'];
export type Settings = z.output<typeof settingsSchema>;
export type SystemInfo = z.output<typeof systemInfoSchema>;
export type ExecutionProviderInfo = z.output<typeof providerSchema>;
export type LoraEntry = z.output<typeof loraEntrySchema>;
export type LoraDetails = ApiOutput<'library.lora'>;
export type GridInfo = z.output<typeof gridSchema>;

// ---------------------------------------------------------------------------------------
// Errors

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The HTTP status each code travels with in serve mode. */
export const API_ERROR_HTTP_STATUS: Readonly<Record<ApiErrorCode, number>> = Object.freeze({
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
});

/** JSON shape of every failure, on every transport. */
export interface ApiError {
  code: ApiErrorCode;
  message: string;
}

export type ApiResponse<M extends ApiMethodName> =
  { ok: true; result: ApiOutput<M> } | { ok: false; error: ApiError };

// ---------------------------------------------------------------------------------------
// Events (pushed by the core: job progress, logs, store changes)

export const STORE_ENTITIES = [
  'settings',
  'models',
  'datasets',
  'images',
  'runs',
  'artifacts',
  'generations',
] as const;

const job = { jobId: z.string().min(1), kind: z.enum(JOB_KINDS), at: timestamp };

export const apiEventSchema = z.discriminatedUnion('status', [
  /** First message on every new event stream. */
  z.object({ status: z.literal('ready'), appVersion: z.string(), at: timestamp }),
  z.object({ status: z.literal('initiate'), ...job, label: z.string() }),
  z.object({
    status: z.literal('progress'),
    ...job,
    /** 0…1, never decreasing within a job. */
    progress: z.number().min(0).max(1),
    message: z.string().optional(),
    step: z.int().min(0).optional(),
    total: z.int().min(0).optional(),
    loss: z.number().optional(),
    /** Training jobs: learning rate, speed, time left and steps skipped on fp16 overflow. */
    lr: z.number().optional(),
    itPerSec: z.number().min(0).optional(),
    etaSeconds: z.number().min(0).optional(),
    epoch: z.int().min(0).optional(),
    skippedSteps: z.int().min(0).optional(),
    runId: id.optional(),
    /** Captions change per step (shuffle / dropout): text embeddings are computed per step. */
    dynamicCaptions: z.boolean().optional(),
    /** An intermediate image: `data:image/png;base64,…`. */
    preview: z.string().optional(),
  }),
  z.object({ status: z.literal('done'), ...job, result: z.unknown().optional() }),
  z.object({ status: z.literal('error'), ...job, error: apiErrorSchema }),
  z.object({ status: z.literal('cancelled'), ...job }),
  z.object({
    status: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    message: z.string(),
    jobId: z.string().optional(),
    at: timestamp,
  }),
  /** Rows changed; UIs refetch what they show of `entity`. */
  z.object({
    status: z.literal('changed'),
    entity: z.enum(STORE_ENTITIES),
    ids: z.array(id),
    at: timestamp,
  }),
]);

export type ApiEvent = z.output<typeof apiEventSchema>;
export type ApiEventStatus = ApiEvent['status'];
export type JobKind = (typeof JOB_KINDS)[number];
export type StoreEntity = (typeof STORE_ENTITIES)[number];
export type ApiEventListener = (event: ApiEvent) => void;

// ---------------------------------------------------------------------------------------
// The client-facing interface, identical over IPC and HTTP

export interface Api {
  call<M extends ApiMethodName>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>>;
  /** Subscribes to core events; returns the unsubscribe function. */
  onEvent(listener: ApiEventListener): () => void;
}
