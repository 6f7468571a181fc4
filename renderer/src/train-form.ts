// The Train screen's form: presets, the kohya run config it becomes, and a memory estimate.
// Pure functions (no React), so they are easy to test and to reason about.
export interface TrainForm {
  name: string;
  /** Base checkpoint: a models row's path. */
  modelPath: string;
  /** kohya-style dataset root (`N_name` sub-folders, `image.png` + `image.txt`). */
  datasetDir: string;
  networkDim: number;
  networkAlpha: number;
  learningRate: number;
  lrScheduler: 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
  resolution: number;
  batchSize: number;
  epochs: number;
  /** 0: derived from epochs × images × repeats / batch. */
  maxSteps: number;
  saveEveryEpochs: number;
  seed: number;
  shuffleCaption: boolean;
  captionDropoutRate: number;
  flipAug: boolean;
  /** Also train the text encoder's 72 LoRA modules (kohya: network_train_unet_only off). */
  trainTextEncoder: boolean;
  /** kohya text_encoder_lr. */
  textEncoderLr: number;
  /** LoCon rank of the ResNet / sampler 3×3 convs (kohya conv_dim); 0: off. */
  convDim: number;
  convAlpha: number;
  /** kohya gradient_accumulation_steps. */
  gradientAccumulation: number;
}

export interface TrainPreset {
  id: string;
  label: string;
  values: Omit<TrainForm, 'name' | 'modelPath' | 'datasetDir'>;
}

export const TRAIN_PRESETS: readonly TrainPreset[] = [
  {
    id: 'kohya-sd15',
    label:
      'kohya SD1.5 default: dim 32 / alpha 16 / lr 1e-4 / constant / 512 / batch 1 / 10 epochs',
    values: {
      networkDim: 32,
      networkAlpha: 16,
      learningRate: 1e-4,
      lrScheduler: 'constant',
      resolution: 512,
      batchSize: 1,
      epochs: 10,
      maxSteps: 0,
      saveEveryEpochs: 1,
      seed: 42,
      shuffleCaption: false,
      captionDropoutRate: 0,
      flipAug: false,
      trainTextEncoder: false,
      textEncoderLr: 5e-5,
      convDim: 0,
      convAlpha: 1,
      gradientAccumulation: 1,
    },
  },
  {
    id: 'small-test',
    label: 'Small test run: dim 4 / alpha 4 / lr 1e-3 / 64 px / 6 steps (checks the setup)',
    values: {
      networkDim: 4,
      networkAlpha: 4,
      learningRate: 1e-3,
      lrScheduler: 'constant',
      resolution: 64,
      batchSize: 1,
      epochs: 1,
      maxSteps: 6,
      saveEveryEpochs: 0,
      seed: 42,
      shuffleCaption: false,
      captionDropoutRate: 0,
      flipAug: false,
      trainTextEncoder: false,
      textEncoderLr: 5e-5,
      convDim: 0,
      convAlpha: 1,
      gradientAccumulation: 1,
    },
  },
];

export const DEFAULT_TRAIN_FORM: TrainForm = {
  name: '',
  modelPath: '',
  datasetDir: '',
  ...TRAIN_PRESETS[0].values,
};

/** The run config runs.start takes (kohya sd-scripts names; the API validates it). */
export function toRunConfig(form: TrainForm, executionProvider: string): Record<string, unknown> {
  return {
    pretrained_model_name_or_path: form.modelPath,
    train_data_dir: form.datasetDir,
    output_name: form.name.trim().replace(/[^\w.-]+/g, '_') || 'lora',
    network_dim: form.networkDim,
    network_alpha: form.networkAlpha,
    learning_rate: form.learningRate,
    lr_scheduler: form.lrScheduler,
    resolution: form.resolution,
    // Buckets must be able to hold the base resolution (small test runs go below 256).
    min_bucket_reso: Math.min(256, form.resolution),
    max_bucket_reso: Math.max(1024, form.resolution),
    train_batch_size: form.batchSize,
    max_train_epochs: form.epochs,
    ...(form.maxSteps > 0 && { max_train_steps: form.maxSteps }),
    save_every_n_epochs: form.saveEveryEpochs,
    seed: form.seed,
    shuffle_caption: form.shuffleCaption,
    caption_dropout_rate: form.captionDropoutRate,
    flip_aug: form.flipAug,
    network_train_unet_only: !form.trainTextEncoder,
    ...(form.trainTextEncoder && { text_encoder_lr: form.textEncoderLr }),
    ...(form.convDim > 0 && { conv_dim: form.convDim, conv_alpha: form.convAlpha }),
    gradient_accumulation_steps: form.gradientAccumulation,
    ep: executionProvider,
  };
}

/**
 * Training memory of an SD1.5 UNet LoRA — an ESTIMATE, not a measurement:
 *   weights      1.7 GB  (fp16 UNet, 860 M parameters × 2 bytes; VAE/CLIP are cached, not loaded)
 * + activations  batch × resolution² × 17 kB   (fp16 forward activations kept for the backward
 *                pass without gradient checkpointing: ≈ 4.5 GB at 512², batch 1)
 * + LoRA         rank × 0.5 M parameters × 18 bytes (fp32 master + gradient + AdamW m and v,
 *                fp16 copy; kohya's default UNet targets)
 * + runtime      0.5 GB (ONNX Runtime arena and workspaces)
 * + text encoder 0.25 GB fp16 CLIP weights + activations ≈ 0.1 GB per sample, and
 *                rank × 0.17 M LoRA parameters (72 modules), when it is trained
 * + LoCon        conv_dim × 0.54 M parameters (SD1.5's 50 ResNet / sampler 3×3 convs) and
 *                rank × 0.08 M (the 36 Linear / 1×1 convs of those blocks), when conv_dim > 0
 * On the CPU provider the same bytes are system RAM (in fp32, about twice the weights).
 */
export const VRAM_MODEL = {
  unetWeightsGb: 1.7,
  activationBytesPerPixel: 17_000,
  loraParamsPerRank: 0.5e6,
  loraBytesPerParam: 18,
  runtimeGb: 0.5,
  textEncoderGb: 0.25,
  textEncoderActivationGbPerSample: 0.1,
  teLoraParamsPerRank: 0.17e6,
  loconParamsPerRank: 0.54e6,
  loconPointwiseParamsPerRank: 0.08e6,
} as const;

export interface VramEstimate {
  weightsGb: number;
  activationsGb: number;
  loraGb: number;
  runtimeGb: number;
  totalGb: number;
}

export function estimateVram(
  form: Pick<TrainForm, 'batchSize' | 'resolution' | 'networkDim'> &
    Partial<Pick<TrainForm, 'trainTextEncoder' | 'convDim'>>,
) {
  const m = VRAM_MODEL;
  const te = form.trainTextEncoder === true;
  const weightsGb = m.unetWeightsGb + (te ? m.textEncoderGb : 0);
  const activationsGb =
    (form.batchSize * form.resolution * form.resolution * m.activationBytesPerPixel) / 1e9 +
    (te ? form.batchSize * m.textEncoderActivationGbPerSample : 0);
  const params =
    form.networkDim * (m.loraParamsPerRank + (te ? m.teLoraParamsPerRank : 0)) +
    (form.convDim ?? 0) * m.loconParamsPerRank +
    ((form.convDim ?? 0) > 0 ? form.networkDim * m.loconPointwiseParamsPerRank : 0);
  const loraGb = (params * m.loraBytesPerParam) / 1e9;
  const e: VramEstimate = {
    weightsGb,
    activationsGb,
    loraGb,
    runtimeGb: m.runtimeGb,
    totalGb: weightsGb + activationsGb + loraGb + m.runtimeGb,
  };
  return e;
}

/** Exponential moving average with bias correction (TensorBoard-style smoothing). */
export function smoothed(values: readonly number[], weight = 0.9): number[] {
  const out: number[] = [];
  let avg = 0;
  values.forEach((v, i) => {
    avg = weight * avg + (1 - weight) * v;
    out.push(avg / (1 - weight ** (i + 1)));
  });
  return out;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
