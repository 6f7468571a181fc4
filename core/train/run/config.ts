// The run configuration of a LoRA training run: kohya sd-scripts' option names (snake_case, so a
// kohya `config.toml` translated to JSON mostly reads as is) and its defaults for an SD1.5 LoRA.
// Defaults follow sd-scripts' `train_network.py` argument defaults where it has one
// (learning_rate 1e-4, lr_scheduler 'constant', lr_warmup_steps 0, lr_scheduler_num_cycles 1,
// resolution 512, train_batch_size 1, noise_offset 0, clip_skip 1, keep_tokens 0,
// caption_dropout_rate 0, flip_aug off, save_every_n_epochs 1) and the common SD1.5 LoRA preset
// of kohya_ss' GUI where sd-scripts has none (network_dim 32, network_alpha 16, 10 epochs).
// 'constant' rather than 'cosine_with_restarts' because it is sd-scripts' own default and the
// choice whose result does not depend on the planned step count.
import { z } from 'zod';
import type { ExecutionProviderChoice } from '../../onnx/index.js';
import { isSamplerName, SAMPLER_NAMES } from '../../schedulers/index.js';
import { LR_SCHEDULERS } from '../lr-schedule.js';
import type { ProdigyOptions } from '../optimizer/prodigy.js';

export const OPTIMIZER_TYPES = ['AdamW', 'Prodigy'] as const;
export const MIXED_PRECISIONS = ['auto', 'no', 'fp16'] as const;
export const SAVE_PRECISIONS = ['fp16', 'fp32'] as const;

const positiveInt = z.int().min(1);

export const runConfigSchema = z.strictObject({
  /** Base checkpoint: a single-file .safetensors or a diffusers folder. */
  pretrained_model_name_or_path: z.string().min(1),
  /** kohya-style dataset root: `N_name` sub-folders (N repeats), `image.png` + `image.txt`. */
  train_data_dir: z.string().min(1),
  output_name: z
    .string()
    .regex(/^[\w.-]+$/, 'letters, digits, "_", "-" and "." only')
    .default('lora'),
  network_dim: z.int().min(1).max(1024).default(32),
  network_alpha: z.number().positive().default(16),
  learning_rate: z.number().positive().max(1).default(1e-4),
  /** UNet learning rate (default: learning_rate). */
  unet_lr: z.number().positive().max(1).optional(),
  /**
   * false: also train kohya's 72 text-encoder modules (text embeddings are then computed per step,
   * inside the step graph). Default true — unlike sd-scripts (false) — so a run keeps the text
   * embedding cache unless asked.
   */
  network_train_unet_only: z.boolean().default(true),
  /** Text-encoder learning rate (default: learning_rate), same schedule. */
  text_encoder_lr: z.number().positive().max(1).optional(),
  /** LoCon (kohya network_args conv_dim / conv_alpha): rank of the ResNet / sampler 3×3 convs. */
  conv_dim: z.int().min(1).max(1024).optional(),
  /** Alpha of the LoCon convs (kohya's default 1 when conv_dim is given). */
  conv_alpha: z.number().positive().optional(),
  lr_scheduler: z.enum(LR_SCHEDULERS).default('constant'),
  lr_warmup_steps: z.int().min(0).default(0),
  lr_scheduler_num_cycles: z.int().min(1).default(1),
  /** 'Prodigy' estimates the step size itself: use learning_rate 1 (its multiplier). */
  optimizer_type: z.enum(OPTIMIZER_TYPES).default('AdamW'),
  /** Prodigy's options (prodigyopt names); ignored by AdamW. */
  prodigy_d_coef: z.number().positive().default(1),
  prodigy_d0: z.number().positive().default(1e-6),
  prodigy_use_bias_correction: z.boolean().default(false),
  prodigy_safeguard_warmup: z.boolean().default(false),
  weight_decay: z.number().min(0).max(1).default(0.01),
  max_grad_norm: z.number().min(0).default(1),
  /** Base side: buckets keep about resolution² pixels. */
  resolution: z
    .int()
    .min(64)
    .max(2048)
    .refine((n) => n % 64 === 0, 'must be a multiple of 64')
    .default(512),
  enable_bucket: z.boolean().default(true),
  min_bucket_reso: z.int().min(64).default(256),
  max_bucket_reso: z.int().min(64).default(1024),
  bucket_reso_steps: z.int().min(8).default(64),
  train_batch_size: z.int().min(1).max(64).default(1),
  /** Micro-batches per optimizer step (their gradients averaged, as kohya through accelerate). */
  gradient_accumulation_steps: z.int().min(1).max(1024).default(1),
  max_train_epochs: positiveInt.default(10),
  /** When set, the run stops after this many steps (epochs are derived from it). */
  max_train_steps: positiveInt.optional(),
  save_every_n_epochs: z.int().min(0).default(1),
  /** 0: not by steps. */
  save_every_n_steps: z.int().min(0).default(0),
  save_precision: z.enum(SAVE_PRECISIONS).default('fp16'),
  /** 'auto': fp16 on a GPU execution provider, fp32 ('no') on the CPU. */
  mixed_precision: z.enum(MIXED_PRECISIONS).default('auto'),
  seed: z.int().min(0).max(0xffff_ffff).default(42),
  min_snr_gamma: z.number().positive().optional(),
  noise_offset: z.number().min(0).max(1).default(0),
  /** 1 = last layer; 2 for anime (NovelAI-derived) models. */
  clip_skip: z.int().min(1).max(12).default(1),
  shuffle_caption: z.boolean().default(false),
  keep_tokens: z.int().min(0).default(0),
  caption_extension: z.string().default('.txt'),
  caption_dropout_rate: z.number().min(0).max(1).default(0),
  caption_tag_dropout_rate: z.number().min(0).max(1).default(0),
  flip_aug: z.boolean().default(false),
  /** Sample images every N steps (and at the end); 0 = off. */
  sample_every_n_steps: z.int().min(0).default(0),
  /** Also sample before the first step (kohya's sample_at_first). */
  sample_at_first: z.boolean().default(false),
  /** kohya prompt lines: `text --n negative --s steps --l cfg --d seed --w width --h height`. */
  sample_prompts: z.array(z.string().min(1)).default([]),
  /** A1111 sampler name. */
  sample_sampler: z
    .string()
    .default('Euler a')
    .refine((s) => isSamplerName(s), {
      message: `unknown sampler; valid: ${SAMPLER_NAMES.join(', ')}`,
    }),
  /** Execution provider of the training step. */
  ep: z
    .string()
    .default('cpu')
    .transform((v) => v as ExecutionProviderChoice),
});

export type RunConfig = z.output<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

/** Parse a run config; errors name each bad field, its value and what is valid. */
export function parseRunConfig(input: unknown): RunConfig {
  const r = runConfigSchema.safeParse(input);
  if (r.success) {
    const c = r.data;
    if (c.min_bucket_reso > c.max_bucket_reso)
      throw new Error(
        `run config: min_bucket_reso (${c.min_bucket_reso}) must not exceed max_bucket_reso (${c.max_bucket_reso})`,
      );
    if (c.resolution > c.max_bucket_reso)
      throw new Error(
        `run config: resolution (${c.resolution}) must not exceed max_bucket_reso (${c.max_bucket_reso})`,
      );
    if (c.conv_alpha !== undefined && c.conv_dim === undefined)
      throw new Error('run config: conv_alpha is set but conv_dim is not (LoCon needs conv_dim)');
    if (
      c.optimizer_type === 'Prodigy' &&
      !c.network_train_unet_only &&
      c.text_encoder_lr !== undefined &&
      c.text_encoder_lr !== (c.unet_lr ?? c.learning_rate)
    )
      throw new Error(
        `run config: Prodigy uses one step size; text_encoder_lr (${c.text_encoder_lr}) must equal the UNet lr (${c.unet_lr ?? c.learning_rate}) or be left out`,
      );
    if ((c.sample_every_n_steps > 0 || c.sample_at_first) && c.sample_prompts.length === 0)
      throw new Error(
        'run config: sampling is on (sample_every_n_steps / sample_at_first) but sample_prompts is empty',
      );
    return c;
  }
  const lines = r.error.issues.map((i) => {
    const field = i.path.join('.') || '(root)';
    const got =
      i.path.length && input && typeof input === 'object'
        ? `, got ${JSON.stringify((input as Record<string, unknown>)[String(i.path[0])])}`
        : '';
    return `${field}: ${i.message}${got}`;
  });
  throw new Error(`run config is invalid:\n  ${lines.join('\n  ')}`);
}

/** fp16 compute on GPU providers, fp32 on the CPU (its fp16 kernels are slow or missing). */
export function computeDTypeOf(c: RunConfig): 'float32' | 'float16' {
  if (c.mixed_precision === 'fp16') return 'float16';
  if (c.mixed_precision === 'no') return 'float32';
  return c.ep === 'cpu' ? 'float32' : 'float16';
}

/** The trainer's Prodigy options for a Prodigy run, undefined for AdamW. */
export function prodigyOptionsOf(c: RunConfig): ProdigyOptions | undefined {
  if (c.optimizer_type !== 'Prodigy') return undefined;
  return {
    weightDecay: c.weight_decay,
    maxGradNorm: c.max_grad_norm,
    d0: c.prodigy_d0,
    dCoef: c.prodigy_d_coef,
    useBiasCorrection: c.prodigy_use_bias_correction,
    safeguardWarmup: c.prodigy_safeguard_warmup,
  };
}

/** kohya's LoCon options of a run (conv_alpha defaults to 1, as networks.lora), or undefined. */
export function loconOf(c: RunConfig): { rank: number; alpha: number } | undefined {
  return c.conv_dim === undefined ? undefined : { rank: c.conv_dim, alpha: c.conv_alpha ?? 1 };
}

/** kohya's ss_network_args of a run: the LoCon arguments as strings. */
export function networkArgsOf(c: RunConfig): Record<string, string> {
  const l = loconOf(c);
  return l ? { conv_dim: String(l.rank), conv_alpha: String(l.alpha) } : {};
}
