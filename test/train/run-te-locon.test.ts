// A whole run on the tiny SD fixture with the text encoder trained (inside the step graph),
// LoCon (conv_dim) and gradient accumulation: no embedding cache, exact resume, kohya keys and
// metadata (ss_network_args, ss_text_encoder_lr, base-model hashes), and the run row naming its
// dataset and base model.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLoraFile } from '../../core/formats/index.js';
import { legacyModelHash } from '../../core/hub/index.js';
import { openStore, type Store } from '../../core/store/index.js';
import {
  runDirOf,
  trainLora,
  type TrainEvent,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { fixturePath } from './helpers.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

describe('trainLora with text-encoder LoRA, LoCon and gradient accumulation (tiny SD)', () => {
  let store: Store;
  let dataDir: string;
  let root: string;
  let first: TrainLoraResult;
  let config: Record<string, unknown>;
  const events: TrainEvent[] = [];

  beforeAll(async () => {
    ({ root, dataDir } = await makeTinyDataset());
    store = openStore(dataDir);
    // Library rows for the folder and the checkpoint: the run row should find them.
    const ds = store.datasets.create({ name: 'tiny' });
    store.datasets.setImport(ds.id, { sourceDir: root, workDir: join(dataDir, 'w'), skipped: [] });
    store.models.add({
      kind: 'checkpoint',
      family: 'sd15',
      name: 'tiny_sd',
      path: fixturePath('tiny_sd'),
      sizeBytes: 1,
    });
    config = tinyConfig(root, {
      network_train_unet_only: false,
      text_encoder_lr: 5e-4,
      conv_dim: 2,
      conv_alpha: 1,
      gradient_accumulation_steps: 2,
      train_batch_size: 1,
      max_train_steps: 2,
      save_every_n_steps: 1,
    });
    first = await trainLora(config, { store, dataDir, onEvent: (e) => events.push(e) });
  }, 300_000);
  afterAll(() => store?.close());

  it('takes 2 micro-batches per step and computes embeddings in the step graph', () => {
    expect(first.totalSteps).toBe(2);
    expect(first.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(first.steps.every((s) => Number.isFinite(s.loss) && !s.skipped)).toBe(true);
    expect(first.dynamicCaptions).toBe(true);
    // Latents cached; the text encoder never ran on its own (it is part of the step graph).
    expect(first.encoderCalls).toEqual({ vae: 4, textEncoder: 0 });
    expect(events.find((e) => e.type === 'prepare')).toMatchObject({
      trainTextEncoder: true,
      dynamicCaptions: true,
    });
    expect(events.find((e) => e.type === 'cache')).toMatchObject({ textComputed: 0 });
  });

  it('records the dataset and base model of the run', () => {
    const run = store.runs.get(first.runId)!;
    expect(run.datasetId).toBe(store.datasets.list()[0].id);
    expect(run.baseModelId).toBe(store.models.list({ kind: 'checkpoint' })[0].id);
  });

  it('resumes exactly with accumulation and both networks', async () => {
    const state = join(runDirOf(dataDir, first.runId), 'state-step00000001.safetensors');
    const resumed = await trainLora(undefined, { store, dataDir, resume: state });
    expect(resumed.steps.map((s) => s.step)).toEqual([1]);
    expect(resumed.steps[0].loss).toBeCloseTo(first.steps[1].loss, 6);
    let d = 0;
    for (let i = 0; i < first.finalParams.length; i++)
      d = Math.max(d, Math.abs(resumed.finalParams[i] - first.finalParams[i]));
    expect(d).toBeLessThan(1e-6);
  }, 300_000);

  it('exports lora_te_ and LoCon keys with kohya’s metadata and base-model hashes', async () => {
    const file = await readLoraFile(first.outputPath);
    const t = (k: string) => file.tensors.get(k);
    expect(
      t('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight')?.shape,
    ).toEqual([4, 32]);
    expect(t('lora_te_text_model_encoder_layers_4_mlp_fc2.alpha')?.shape).toEqual([]);
    const conv = t('lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight');
    expect(conv?.shape.length).toBe(4);
    expect([conv!.shape[0], ...conv!.shape.slice(2)]).toEqual([2, 3, 3]);
    const teKeys = [...file.tensors.keys()].filter((k) => k.startsWith('lora_te_'));
    expect(teKeys).toHaveLength(3 * 6 * 5); // 5 tiny CLIP layers × 6 modules × down/up/alpha
    const m = file.metadata;
    expect(m).toMatchObject({
      ss_network_args: '{"conv_dim": "2", "conv_alpha": "1"}',
      ss_text_encoder_lr: '0.0005',
      ss_unet_lr: '0.001',
      ss_gradient_accumulation_steps: '2',
      ss_num_batches_per_epoch: '4',
      ss_steps: '2',
    });
    const unetFile = fixturePath('tiny_sd/unet/diffusion_pytorch_model.safetensors');
    expect(m.ss_sd_model_hash).toBe(await legacyModelHash(unetFile));
    expect(m.ss_sd_model_hash).toMatch(/^[0-9a-f]{8}$/);
    expect(m.ss_new_sd_model_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
