// SD UNet2DConditionModel: config and graph builder.
export * from './config.js';
export { transformer2d, type Transformer2DOptions } from './transformer.js';
export * from './unet.js';
