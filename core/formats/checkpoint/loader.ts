// Loading an SD1.x model from what users have on disk: a single-file LDM/A1111 checkpoint, or a
// diffusers folder; optionally with an external VAE. Nothing is read but headers and configs:
// every weight is described by file, offset and length under its diffusers name, so model
// builders can point ONNX external data straight into the user's file.
import { open, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { looksLikeSafetensors, readSafetensorsHeader } from '../safetensors.js';
import {
  deriveClipTextConfig,
  deriveUnetConfig,
  deriveVaeConfig,
  type ConfigOverrides,
  type VaeConfig,
} from './configs.js';
import {
  checkCrossAttention,
  component,
  diffusersShapes,
  readJson,
  ReaderPool,
  shapesOf,
  type CheckpointComponent,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
} from './component.js';
import { detectDiffusers, loadDiffusersFolder } from './diffusers-folder.js';
import {
  CheckpointError,
  PickleRefusedError,
  UnmappedKeysError,
  UnsupportedCheckpointError,
} from './errors.js';
import { detectCheckpoint, refusal, type Detection } from './family.js';
import { convertLdmClip, LDM_CLIP_PREFIX } from './ldm-clip.js';
import { convertLdmUnet, LDM_UNET_PREFIX } from './ldm-unet.js';
import { convertDiffusersVae, convertLdmVae, LDM_VAE_PREFIX } from './ldm-vae.js';

const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle']);
// Buffers of the LDM training wrapper: schedule constants, not weights.
const LDM_BUFFERS =
  /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_alphas_cumprod|sqrt_one_minus_alphas_cumprod|log_one_minus_alphas_cumprod|sqrt_recip_alphas_cumprod|sqrt_recipm1_alphas_cumprod|posterior_variance|posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2|logvar|lvlb_weights)$|^model_ema\./;

/** Refuse pickles by extension, and by content when one was renamed. */
async function refusePickle(path: string): Promise<void> {
  if (PICKLE_EXTENSIONS.has(extname(path).toLowerCase())) throw new PickleRefusedError(path);
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = new Uint8Array(9);
    const { bytesRead } = await fh.read(head, 0, 9, 0);
    // A safetensors length prefix can start with 0x80 0x02 too (N = 640), so sniff it first.
    if (looksLikeSafetensors(head.subarray(0, bytesRead), size)) return;
    const zip =
      bytesRead >= 4 &&
      head[0] === 0x50 &&
      head[1] === 0x4b &&
      head[2] === 0x03 &&
      head[3] === 0x04;
    const pickle = bytesRead >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
    if (zip || pickle) throw new PickleRefusedError(path);
  } finally {
    await fh.close();
  }
}

/** What a file or folder is, without loading it (for model lists). Pickles still throw. */
export async function inspectCheckpoint(
  path: string,
): Promise<Detection & { format: 'single-file' | 'diffusers' }> {
  if ((await stat(path)).isDirectory()) {
    const index = await readJson(join(path, 'model_index.json')).catch(() => undefined);
    const unet = await readJson(join(path, 'unet', 'config.json'));
    return { ...detectDiffusers(index, unet), format: 'diffusers' };
  }
  await refusePickle(path);
  const { tensors } = await readSafetensorsHeader(path);
  return { ...detectCheckpoint(shapesOf(tensors)), format: 'single-file' };
}

/** Load an SD1.x checkpoint (single .safetensors file or diffusers folder) as diffusers-named weights. */
export async function loadCheckpoint(
  path: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const pool = new ReaderPool();
  const loaded = (await stat(path)).isDirectory()
    ? await loadDiffusersFolder(path, options, pool)
    : await loadSingleFile(path, options, pool);
  if (!options.vae) return loaded;
  const vae = await loadExternalVae(options.vae, options.configs?.vae, pool);
  return {
    ...loaded,
    components: { ...loaded.components, vae: vae.component },
    configs: { ...loaded.configs, vae: vae.config },
  };
}

async function loadSingleFile(
  path: string,
  options: LoadCheckpointOptions,
  pool: ReaderPool,
): Promise<LoadedCheckpoint> {
  await refusePickle(path);
  const { tensors } = await readSafetensorsHeader(path);
  const shapes = shapesOf(tensors);
  const detection = detectCheckpoint(shapes);
  const refused = refusal(detection, path);
  if (refused) throw refused;

  const prefixes = [LDM_UNET_PREFIX, LDM_VAE_PREFIX, LDM_CLIP_PREFIX];
  const stray = [...shapes.keys()].filter(
    (k) => !LDM_BUFFERS.test(k) && !prefixes.some((p) => k.startsWith(p)),
  );
  if (stray.length) throw new UnmappedKeysError('checkpoint', stray);
  const hasVae = [...shapes.keys()].some((k) => k.startsWith(LDM_VAE_PREFIX));
  if (!hasVae && !options.vae) {
    throw new CheckpointError(
      `${path}: this checkpoint has no VAE (no first_stage_model.* keys); choose an external VAE file`,
    );
  }

  const unetKeys = convertLdmUnet(shapes);
  const clipKeys = convertLdmClip(shapes);
  const unet = component(path, tensors, unetKeys, pool);
  const textEncoder = component(path, tensors, clipKeys, pool);
  const ignoredKeys = [...shapes.keys()]
    .filter((k) => LDM_BUFFERS.test(k))
    .concat(clipKeys.ignored);
  let vae = unet; // replaced below; a checkpoint without VAE gets the external one in loadCheckpoint
  let vaeConfig: VaeConfig | undefined;
  if (hasVae) {
    const vaeKeys = convertLdmVae(shapes);
    ignoredKeys.push(...vaeKeys.ignored);
    vae = component(path, tensors, vaeKeys, pool);
    vaeConfig = deriveVaeConfig(diffusersShapes(vae), options.configs?.vae);
  }
  const configs = {
    unet: deriveUnetConfig(diffusersShapes(unet), options.configs?.unet),
    vae: vaeConfig as VaeConfig, // set, or replaced by the external VAE's
    textEncoder: deriveClipTextConfig(diffusersShapes(textEncoder), options.configs?.textEncoder),
  };
  checkCrossAttention(configs.unet, configs.textEncoder, path);
  return {
    family: 'sd1',
    format: 'single-file',
    path,
    components: { unet, vae, textEncoder },
    configs,
    ignoredKeys,
    close: () => pool.close(),
  };
}

/**
 * An external VAE file in LDM naming (bare or `first_stage_model.`-prefixed) or diffusers
 * naming, as diffusers-named weights plus a derived config.
 */
export async function loadExternalVae(
  path: string,
  overrides?: ConfigOverrides['vae'],
  pool = new ReaderPool(),
): Promise<{ component: CheckpointComponent; config: VaeConfig }> {
  await refusePickle(path);
  const { tensors } = await readSafetensorsHeader(path);
  const shapes = shapesOf(tensors);
  const d = detectCheckpoint(shapes);
  if (d.kind !== 'vae') {
    throw new UnsupportedCheckpointError(
      d.kind,
      `${path}: not a VAE file (${d.reason}); expected encoder.*/decoder.* keys`,
    );
  }
  const keys =
    d.naming === 'ldm' ? convertLdmVae(shapes, d.prefix) : convertDiffusersVae(shapes, d.prefix);
  const stray = [...shapes.keys()].filter((k) => !k.startsWith(d.prefix) && !LDM_BUFFERS.test(k));
  if (stray.length) throw new UnmappedKeysError('VAE', stray);
  const vae = component(path, tensors, keys, pool);
  return { component: vae, config: deriveVaeConfig(diffusersShapes(vae), overrides) };
}
