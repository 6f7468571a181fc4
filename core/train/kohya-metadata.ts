// The `ss_*` training metadata kohya's sd-scripts write into a LoRA file, built from a typed
// description of the run. WebUIs and Civitai read these keys (dim/alpha, base model, tags,
// resolution…), so values are formatted the way kohya's Python writes them: str() of the
// Python value — "True"/"False", "None" for unset options, floats in repr form ("8.0", "1e-05"),
// tuples as "(512, 512)" — and json.dumps for the dictionaries.

/** Python's repr() of a float: shortest round-trip digits, "8.0", "0.0001", "1e-05", "inf". */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (exp >= -4 && exp < 16) {
    // Fixed notation (repr uses it for 1e-4 ≤ |x| < 1e16).
    if (exp >= 0) {
      const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      body = `${int}.${frac || '0'}`;
    } else {
      body = `0.${'0'.repeat(-exp - 1)}${digits}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return neg ? `-${body}` : body;
}

/**
 * Python's json.dumps with its defaults: ", " / ": " separators, non-ASCII as \uXXXX escapes,
 * non-integer numbers in repr form. (JS numbers do not say int or float: integers print as ints.)
 */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(value) ? String(value) : pyFloat(value);
  }
  if (typeof value === 'string')
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`)
      .join(', ')}}`;
  throw new Error(`cannot write a ${typeof value} as JSON metadata`);
}

const pyBool = (b: boolean) => (b ? 'True' : 'False');
const pyOpt = <T>(v: T | undefined, fmt: (v: T) => string) => (v === undefined ? 'None' : fmt(v));
const pyInt = (n: number) => {
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got ${n}`);
  return String(n);
};

/** A typed description of a training run, for the file's metadata. */
export interface KohyaTrainingInfo {
  /** Output file name without extension (ss_output_name). */
  outputName: string;
  rank: number;
  alpha: number;
  /** Extra network arguments (kohya `--network_args key=value`); values are kept as strings. */
  networkArgs?: Readonly<Record<string, string>>;
  /** Base checkpoint: file name, A1111's legacy 8-hex hash, full sha256. */
  baseModel: { name: string; legacyHash?: string; sha256?: string };
  /** SD2.x base (v2 = true) — this app trains SD1.x: default false. */
  v2?: boolean;
  clipSkip?: number;
  learningRate: number;
  unetLr?: number;
  textEncoderLr?: number;
  lrScheduler: string;
  lrWarmupSteps?: number;
  /** Optimizer as kohya writes it, e.g. `torch.optim.adamw.AdamW(weight_decay=0.01,betas=(0.9,0.999))`. */
  optimizer: string;
  mixedPrecision: 'no' | 'fp16' | 'bf16';
  maxGradNorm?: number;
  /** Training resolution [width, height]. */
  resolution: readonly [number, number];
  numTrainImages: number;
  numBatchesPerEpoch?: number;
  numEpochs: number;
  /** Epoch and step this file was saved at. */
  epoch: number;
  steps: number;
  maxTrainSteps: number;
  batchSize: number;
  gradientAccumulationSteps?: number;
  seed: number;
  noiseOffset?: number;
  minSnrGamma?: number;
  cacheLatents: boolean;
  captionDropoutRate: number;
  shuffleCaption: boolean;
  keepTokens: number;
  enableBucket?: boolean;
  flipAug?: boolean;
  /** Per dataset folder: tag → count. */
  tagFrequency: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per dataset folder: repeats and image count. */
  datasetDirs: Readonly<Record<string, { n_repeats: number; img_count: number }>>;
  /** Bucket table, e.g. { buckets: { "0": { resolution: [512, 512], count: 20 } }, mean_img_ar_error: 0 }. */
  bucketInfo?: unknown;
  /** Unix time in seconds (fractional allowed), as Python's time.time(). */
  trainingStartedAt: number;
  trainingFinishedAt?: number;
  /** A random id shared by every file of one run (kohya: random.randint(0, 2**32)). */
  sessionId: number;
  /** Anything else to record, added as is (keys should start with "ss_"). */
  extra?: Readonly<Record<string, string>>;
}

/** kohya's optimizer string for AdamW with these hyper-parameters. */
export function kohyaAdamWName(o: { weightDecay: number; beta1: number; beta2: number }): string {
  return `torch.optim.adamw.AdamW(weight_decay=${pyFloat(o.weightDecay)},betas=(${pyFloat(o.beta1)},${pyFloat(o.beta2)}))`;
}

/** The ss_* metadata (every value a string) of a training run. */
export function kohyaTrainingMetadata(info: KohyaTrainingInfo): Record<string, string> {
  const [w, h] = info.resolution;
  const meta: Record<string, string> = {
    ss_session_id: pyInt(info.sessionId),
    ss_training_started_at: pyFloat(info.trainingStartedAt),
    ss_output_name: info.outputName,
    ss_learning_rate: pyFloat(info.learningRate),
    ss_text_encoder_lr: pyOpt(info.textEncoderLr, pyFloat),
    ss_unet_lr: pyOpt(info.unetLr, pyFloat),
    ss_num_train_images: pyInt(info.numTrainImages),
    ss_num_batches_per_epoch: pyOpt(info.numBatchesPerEpoch, pyInt),
    ss_num_epochs: pyInt(info.numEpochs),
    ss_gradient_accumulation_steps: pyInt(info.gradientAccumulationSteps ?? 1),
    ss_max_train_steps: pyInt(info.maxTrainSteps),
    ss_lr_warmup_steps: pyInt(info.lrWarmupSteps ?? 0),
    ss_lr_scheduler: info.lrScheduler,
    ss_network_module: 'networks.lora',
    ss_network_dim: pyInt(info.rank),
    ss_network_alpha: pyFloat(info.alpha),
    ss_network_args: pyJson(info.networkArgs ?? {}),
    ss_mixed_precision: info.mixedPrecision,
    ss_seed: pyInt(info.seed),
    ss_clip_skip: pyOpt(info.clipSkip, pyInt),
    ss_cache_latents: pyBool(info.cacheLatents),
    ss_caption_dropout_rate: pyFloat(info.captionDropoutRate),
    ss_shuffle_caption: pyBool(info.shuffleCaption),
    ss_keep_tokens: pyInt(info.keepTokens),
    ss_enable_bucket: pyBool(info.enableBucket ?? false),
    ss_flip_aug: pyBool(info.flipAug ?? false),
    ss_max_grad_norm: pyOpt(info.maxGradNorm, pyFloat),
    ss_noise_offset: pyOpt(info.noiseOffset, pyFloat),
    ss_min_snr_gamma: pyOpt(info.minSnrGamma, pyFloat),
    ss_optimizer: info.optimizer,
    ss_v2: pyBool(info.v2 ?? false),
    ss_base_model_version: info.v2 ? 'sd_v2' : 'sd_v1',
    ss_sd_model_name: info.baseModel.name,
    ss_sd_model_hash: info.baseModel.legacyHash ?? '',
    ss_new_sd_model_hash: info.baseModel.sha256 ?? '',
    ss_resolution: `(${pyInt(w)}, ${pyInt(h)})`,
    ss_batch_size_per_device: pyInt(info.batchSize),
    ss_epoch: pyInt(info.epoch),
    ss_steps: pyInt(info.steps),
    ss_tag_frequency: pyJson(info.tagFrequency),
    ss_dataset_dirs: pyJson(info.datasetDirs),
    ss_bucket_info: pyJson(info.bucketInfo ?? null),
    ss_training_finished_at: pyOpt(info.trainingFinishedAt, pyFloat),
  };
  for (const [k, v] of Object.entries(info.extra ?? {})) {
    if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a string, got ${typeof v}`);
    meta[k] = v;
  }
  return meta;
}
