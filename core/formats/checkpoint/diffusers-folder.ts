// Diffusers pipeline folders (model_index.json, unet/, vae/, text_encoder/, tokenizer/): the
// weights keep their names and the folder's config.json files are used as they are.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../safetensors.js';
import type { ClipTextConfig, ConfigJson, UNetConfig, VaeConfig } from './configs.js';
import {
  checkCrossAttention,
  component,
  readJson,
  shapesOf,
  type CheckpointComponent,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  type ReaderPool,
} from './component.js';
import { CheckpointError, PickleRefusedError } from './errors.js';
import { refusal, type CheckpointKind, type Detection } from './family.js';
import { convertDiffusersVae } from './ldm-vae.js';

export function detectDiffusers(index: ConfigJson | undefined, unet: ConfigJson): Detection {
  const cls = String(index?._class_name ?? '');
  const base = { naming: 'diffusers' as const, prefix: '' };
  const kind: CheckpointKind =
    /XL/.test(cls) || index?.text_encoder_2 || unet.addition_embed_type === 'text_time'
      ? 'sdxl'
      : unet.cross_attention_dim === 1024
        ? 'sd2'
        : 'sd1';
  return {
    ...base,
    kind,
    reason: `diffusers ${cls || 'folder'}, cross_attention_dim ${String(unet.cross_attention_dim)}`,
  };
}

/** The folder's weights file: plain, else the fp16 variant; a lone pickle is refused. */
async function weightsFile(dir: string, base: string): Promise<string> {
  for (const name of [`${base}.safetensors`, `${base}.fp16.safetensors`]) {
    const p = join(dir, name);
    if (
      await stat(p).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return p;
  }
  const bin = join(dir, `${base}.bin`);
  if (
    await stat(bin).then(
      (s) => s.isFile(),
      () => false,
    )
  )
    throw new PickleRefusedError(bin);
  throw new CheckpointError(`${dir} has no ${base}.safetensors`);
}

export async function loadDiffusersFolder(
  dir: string,
  options: LoadCheckpointOptions,
  pool: ReaderPool,
): Promise<LoadedCheckpoint> {
  const index = await readJson(join(dir, 'model_index.json')).catch(() => undefined);
  const unetConfig = await readJson(join(dir, 'unet', 'config.json'));
  const refused = refusal(detectDiffusers(index, unetConfig), dir);
  if (refused) throw refused;
  const files = {
    unet: await weightsFile(join(dir, 'unet'), 'diffusion_pytorch_model'),
    vae: await weightsFile(join(dir, 'vae'), 'diffusion_pytorch_model'),
    textEncoder: await weightsFile(join(dir, 'text_encoder'), 'model'),
  };
  const ignoredKeys: string[] = [];
  const asIs = async (file: string, ignore?: RegExp): Promise<CheckpointComponent> => {
    const { tensors } = await readSafetensorsHeader(file);
    const map = new Map<string, { source: string; shape: readonly number[]; reshaped: boolean }>();
    for (const [k, t] of tensors) {
      if (ignore?.test(k)) ignoredKeys.push(k);
      else map.set(k, { source: k, shape: t.shape, reshaped: false });
    }
    return component(file, tensors, { map, ignored: [] }, pool);
  };
  const vaeHeader = await readSafetensorsHeader(files.vae);
  const configs = {
    unet: { ...unetConfig, ...options.configs?.unet } as UNetConfig,
    vae: {
      ...(await readJson(join(dir, 'vae', 'config.json'))),
      ...options.configs?.vae,
    } as VaeConfig,
    textEncoder: {
      ...(await readJson(join(dir, 'text_encoder', 'config.json'))),
      ...options.configs?.textEncoder,
    } as ClipTextConfig,
  };
  checkCrossAttention(configs.unet, configs.textEncoder, dir);
  const tokenizerDir = join(dir, 'tokenizer');
  const hasTokenizer = await stat(join(tokenizerDir, 'vocab.json')).then(
    () => true,
    () => false,
  );
  return {
    family: 'sd1',
    format: 'diffusers',
    path: dir,
    components: {
      unet: await asIs(files.unet),
      vae: component(
        files.vae,
        vaeHeader.tensors,
        convertDiffusersVae(shapesOf(vaeHeader.tensors)),
        pool,
      ),
      textEncoder: await asIs(files.textEncoder, /^text_model\.embeddings\.position_ids$/),
    },
    configs,
    ...(hasTokenizer ? { tokenizerDir } : {}),
    ignoredKeys,
    close: () => pool.close(),
  };
}
