// GENERATE-TYPES-READY
// The contract of image generation (txt2img / img2img) that the API/job layer and the Generate
// screen build against. Type-only (no runtime imports), so the renderer may import it.
// `generate(engine, params, opts)` and `class GenerationEngine` live in ./pipeline/.
import type { SamplerName } from '../schedulers/index.js';

export type { SamplerName };

/** Execution provider choice for generation (`auto` = fastest that starts). */
export type GenerateEp = 'auto' | 'cuda' | 'dml' | 'webgpu' | 'cpu';

export interface GenerateParams {
  /** Single-file `.safetensors` checkpoint or diffusers folder. */
  modelPath: string;
  /** Optional external VAE (`.safetensors` file or diffusers `vae` folder). */
  vaePath?: string;
  /** A1111 syntax, including `(emphasis:1.2)`, `[de-emphasis]`, BREAK and `<lora:name:w>` tags. */
  prompt: string;
  negativePrompt: string;
  sampler: SamplerName;
  steps: number;
  cfgScale: number;
  /** −1 = random; the seed used is always reported (GeneratedImage.seed). */
  seed: number;
  /** Multiples of 8; SD1.x also needs multiples of 64 (the UNet's down/up levels). */
  width: number;
  height: number;
  /** images = batchCount × batchSize; image i uses seed + i. */
  batchCount: number;
  batchSize: number;
  /** 1 = last CLIP layer (A1111 convention). */
  clipSkip: number;
  /** LoRA files to apply, on top of the `<lora:name:w>` tags resolved via opts.resolveLora. */
  loras: { path: string; strength: number }[];
  /** img2img: PNG/JPEG bytes, resized to width × height. */
  initImage?: Uint8Array;
  /** img2img: 0..1, how much of the schedule is run (1 = all of it, init image ignored). */
  denoisingStrength?: number;
  ep: GenerateEp;
  /** Folder the PNGs (and latents) are written to; created when missing. */
  outputDir: string;
  /** Also write `<name>.latents.safetensors` with the initial noise and the final latents. */
  saveLatents?: boolean;
}

export interface GenerateProgress {
  /** 0-based index of the image being denoised (first image of its batch). */
  imageIndex: number;
  imageCount: number;
  /** Steps done for the current batch (1..totalSteps). */
  step: number;
  totalSteps: number;
  /** A small approximate preview (PNG) when this step is a preview step. */
  previewPng?: Uint8Array;
}

export interface GeneratedImage {
  path: string;
  seed: number;
  /** The A1111 `parameters` text written into the PNG. */
  infotext: string;
  width: number;
  height: number;
  latentsPath?: string;
}

export interface GenerateOptions {
  /** Aborting stops between steps: generate() rejects with CancelledError, no partial files. */
  signal?: AbortSignal;
  onProgress?: (p: GenerateProgress) => void;
  /** Attach a preview every N steps (0/undefined = never). */
  previewEvery?: number;
  /** `<lora:name:w>` tag name → file path; undefined = unknown (generate() fails naming it). */
  resolveLora?: (name: string) => string | undefined;
  /** Things that did not stop the run (LoRA modules that cannot be applied, …). */
  onWarning?: (message: string) => void;
}
