// The built-in demo base model: an SD1.x-architecture pipeline (CLIP text encoder, UNet, VAE
// with SD's 8× latent factor) shrunk to a few MB, for 64×64 images of coloured shapes. The
// configs are written as diffusers JSON so the model loads through the same path as any
// downloaded diffusers folder.

export const DEMO_IMAGE_SIZE = 64;

export const DEMO_TEXT_ENCODER_CONFIG = Object.freeze({
  architectures: ['CLIPTextModel'],
  model_type: 'clip_text_model',
  // The real CLIP BPE vocabulary (bundled), so any prompt tokenizes as it would on SD1.5.
  vocab_size: 49408,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 32,
  bos_token_id: 49406,
  eos_token_id: 49407,
  pad_token_id: 49407,
  torch_dtype: 'float32',
});

export const DEMO_UNET_CONFIG = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  sample_size: DEMO_IMAGE_SIZE / 8,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [32, 64],
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  layers_per_block: 1,
  cross_attention_dim: 32,
  // SD1.x configs name the head count "attention_head_dim".
  attention_head_dim: 4,
  norm_num_groups: 8,
  norm_eps: 1e-5,
  act_fn: 'silu',
  flip_sin_to_cos: true,
  freq_shift: 0,
  downsample_padding: 1,
  use_linear_projection: false,
  transformer_layers_per_block: 1,
  center_input_sample: false,
});

export const DEMO_VAE_CONFIG = Object.freeze({
  _class_name: 'AutoencoderKL',
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [16, 32, 64, 64],
  down_block_types: Array(4).fill('DownEncoderBlock2D'),
  up_block_types: Array(4).fill('UpDecoderBlock2D'),
  layers_per_block: 1,
  norm_num_groups: 8,
  act_fn: 'silu',
  sample_size: DEMO_IMAGE_SIZE,
  // Replaced by 1/std of the trained encoder's latents when the model is built.
  scaling_factor: 1,
});

export const DEMO_SCHEDULER_CONFIG = Object.freeze({
  _class_name: 'EulerDiscreteScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  timestep_spacing: 'leading',
  set_alpha_to_one: false,
  trained_betas: null,
});

export const DEMO_MODEL_INDEX = Object.freeze({
  _class_name: 'StableDiffusionPipeline',
  scheduler: ['diffusers', 'EulerDiscreteScheduler'],
  text_encoder: ['transformers', 'CLIPTextModel'],
  unet: ['diffusers', 'UNet2DConditionModel'],
  vae: ['diffusers', 'AutoencoderKL'],
  requires_safety_checker: false,
});
