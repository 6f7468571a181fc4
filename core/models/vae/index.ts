// SD VAE (AutoencoderKL): config and encoder/decoder graph builders.
export * from './config.js';
export * from './vae.js';
