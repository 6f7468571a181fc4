// Checkpoint loading: single-file LDM/A1111 and diffusers folders → diffusers-named weights.
export * from './errors.js';
export * from './key-map.js';
export * from './ldm-unet.js';
export * from './ldm-vae.js';
export * from './ldm-clip.js';
export * from './configs.js';
export * from './family.js';
export type {
  CheckpointComponent,
  CheckpointTensor,
  LoadCheckpointOptions,
  LoadedCheckpoint,
} from './component.js';
export * from './loader.js';
