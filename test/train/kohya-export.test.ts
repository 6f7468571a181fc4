// kohya export: names, shapes, alpha, metadata and hashes of the written file, and the round trip
// through the LoRA loader + generation graph inputs giving the in-training network's output.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLoraFile, readLoraFile } from '../../core/formats/index.js';
import { float16BitsToFloat32, type Graph } from '../../core/graph/index.js';
import {
  buildUnetGraph,
  LoraSession,
  loraGraphInputs,
  unetModuleSites,
} from '../../core/models/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  addnetLegacyHash,
  addnetModelHash,
  exportKohyaLora,
  initLoraParams,
  kohyaAdamWName,
  kohyaTrainingMetadata,
  loraLayout,
  loraModulesFromSites,
  loraNetwork,
  packLoraParams,
  pyFloat,
  pyJson,
  type KohyaTrainingInfo,
  type LoraModuleSpec,
} from '../../core/train/index.js';
import { loadRefs, loadTinyUnet, ref, relError, timestepFeed, type TinyUnet } from './helpers.js';

// The fixture batch: static dims make the tiny sessions quicker to create.
const STATIC = { batch: 2, height: 16, width: 16 } as const;

const INFO: KohyaTrainingInfo = {
  outputName: 'my_lora',
  rank: 8,
  alpha: 4,
  baseModel: { name: 'tiny_sd.safetensors', legacyHash: 'abcd1234', sha256: 'ff'.repeat(32) },
  clipSkip: 2,
  learningRate: 1e-4,
  unetLr: 1e-4,
  lrScheduler: 'cosine',
  lrWarmupSteps: 5,
  optimizer: kohyaAdamWName({ weightDecay: 0.01, beta1: 0.9, beta2: 0.999 }),
  mixedPrecision: 'fp16',
  maxGradNorm: 1,
  resolution: [512, 512],
  numTrainImages: 20,
  numEpochs: 10,
  epoch: 3,
  steps: 60,
  maxTrainSteps: 200,
  batchSize: 1,
  seed: 42,
  minSnrGamma: 5,
  cacheLatents: true,
  captionDropoutRate: 0,
  shuffleCaption: false,
  keepTokens: 1,
  tagFrequency: { '10_cat': { cat: 20, 'sitting cat': 3, ねこ: 1 } },
  datasetDirs: { '10_cat': { n_repeats: 10, img_count: 20 } },
  bucketInfo: { buckets: { '0': { resolution: [512, 512], count: 20 } }, mean_img_ar_error: 0.5 },
  trainingStartedAt: 1700000000.25,
  trainingFinishedAt: 1700000123.5,
  sessionId: 123456789,
};

describe('ss_* metadata', () => {
  it('formats values as kohya’s Python str()/json.dumps do', () => {
    expect([1e-4, 1e-5, 8, 0.5, 1700000000.25, 1e16, -2.5e-7].map(pyFloat)).toEqual([
      '0.0001',
      '1e-05',
      '8.0',
      '0.5',
      '1700000000.25',
      '1e+16',
      '-2.5e-07',
    ]);
    expect(pyJson({ a: [1, 0.5], b: 'ねこ' })).toBe('{"a": [1, 0.5], "b": "\\u306d\\u3053"}');
  });

  it('builds every required key from a typed config', () => {
    const m = kohyaTrainingMetadata(INFO);
    expect(m).toMatchObject({
      ss_network_module: 'networks.lora',
      ss_network_dim: '8',
      ss_network_alpha: '4.0',
      ss_network_args: '{}',
      ss_base_model_version: 'sd_v1',
      ss_v2: 'False',
      ss_sd_model_name: 'tiny_sd.safetensors',
      ss_sd_model_hash: 'abcd1234',
      ss_new_sd_model_hash: 'ff'.repeat(32),
      ss_clip_skip: '2',
      ss_learning_rate: '0.0001',
      ss_unet_lr: '0.0001',
      ss_text_encoder_lr: 'None',
      ss_lr_scheduler: 'cosine',
      ss_optimizer: 'torch.optim.adamw.AdamW(weight_decay=0.01,betas=(0.9,0.999))',
      ss_mixed_precision: 'fp16',
      ss_resolution: '(512, 512)',
      ss_num_train_images: '20',
      ss_num_epochs: '10',
      ss_epoch: '3',
      ss_steps: '60',
      ss_max_train_steps: '200',
      ss_batch_size_per_device: '1',
      ss_seed: '42',
      ss_noise_offset: 'None',
      ss_min_snr_gamma: '5.0',
      ss_cache_latents: 'True',
      ss_caption_dropout_rate: '0.0',
      ss_shuffle_caption: 'False',
      ss_keep_tokens: '1',
      ss_tag_frequency: '{"10_cat": {"cat": 20, "sitting cat": 3, "\\u306d\\u3053": 1}}',
      ss_dataset_dirs: '{"10_cat": {"n_repeats": 10, "img_count": 20}}',
      ss_bucket_info:
        '{"buckets": {"0": {"resolution": [512, 512], "count": 20}}, "mean_img_ar_error": 0.5}',
      ss_training_started_at: '1700000000.25',
      ss_training_finished_at: '1700000123.5',
      ss_session_id: '123456789',
      ss_output_name: 'my_lora',
    });
    expect(Object.values(m).every((v) => typeof v === 'string')).toBe(true);
  });
});

describe('exportKohyaLora on the tiny UNet (kohya default targets)', () => {
  let tiny: TinyUnet;
  let dir: string;
  let modules: readonly LoraModuleSpec[];
  let forward: Graph;
  let values: Map<string, Float32Array>;

  beforeAll(async () => {
    tiny = await loadTinyUnet();
    dir = await mkdtemp(join(tmpdir(), 'kohya-export-'));
    modules = loraModulesFromSites(unetModuleSites(tiny.cfg), { rank: 8 });
    const net = loraNetwork(modules, { rank: 8, alpha: 4 });
    forward = buildUnetGraph(tiny.cfg, tiny.weights, { adapter: net.adapter, ...STATIC });
    net.finish();
    values = initLoraParams(modules, 7);
    // Non-zero up (as after training) so the LoRA changes the output.
    let k = 0;
    for (const m of modules)
      values.get(m.upInput)!.forEach((_, i, a) => (a[i] = 0.05 * Math.sin(++k)));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes kohya names, 2-D/4-D shapes, a 0-d alpha per module and the metadata', async () => {
    const path = join(dir, 'a.safetensors');
    const meta = kohyaTrainingMetadata(INFO);
    const res = await exportKohyaLora(
      path,
      { modules, values },
      {
        alpha: 4,
        rank: 8,
        metadata: { ...meta, user_note: 'kept' },
        precision: 'fp16',
      },
    );
    expect(modules).toHaveLength(192);
    expect(res.tensors).toBe(3 * 192);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const file = await readLoraFile(path);
    const t = (n: string) => file.tensors.get(n)!;
    const projIn = 'lora_unet_down_blocks_0_attentions_0_proj_in';
    expect(t(`${projIn}.lora_down.weight`)).toMatchObject({
      dtype: 'float16',
      shape: [8, 16, 1, 1],
    });
    expect(t(`${projIn}.lora_up.weight`)).toMatchObject({ dtype: 'float16', shape: [16, 8, 1, 1] });
    const ff = 'lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_ff_net_0_proj';
    expect(t(`${ff}.lora_down.weight`).shape).toEqual([8, 16]);
    expect(t(`${ff}.lora_up.weight`).shape).toEqual([128, 8]);
    const alpha = t(`${ff}.alpha`);
    expect(alpha.shape).toEqual([]);
    expect(
      float16BitsToFloat32(
        new DataView(alpha.bytes.buffer, alpha.bytes.byteOffset).getUint16(0, true),
      ),
    ).toBe(4);
    expect(file.metadata).toEqual({
      ...meta,
      user_note: 'kept',
      sshs_model_hash: res.modelHash,
      sshs_legacy_hash: res.legacyHash,
    });
  });

  it('hashes like kohya: sha256 of the tensor data, and the legacy 64 KiB-at-1 MiB hash', async () => {
    const path = join(dir, 'b.safetensors');
    const meta = { ss_output_name: 'b', ss_seed: '1' };
    // fp32 at rank 32 is ≈2.2 MB, so the legacy window lies inside the file.
    const big = loraModulesFromSites(unetModuleSites(tiny.cfg), { rank: 32 });
    expect(big.map((m) => m.name)).toEqual(modules.map((m) => m.name));
    const values = initLoraParams(big, 3);
    const res = await exportKohyaLora(
      path,
      { modules: big, values },
      {
        alpha: 4,
        rank: 32,
        metadata: { ...meta, not_ss: 'excluded from the hash' },
        precision: 'fp32',
      },
    );
    const bytes = new Uint8Array(await readFile(path));
    expect(bytes.byteLength).toBeGreaterThan(0x110000);
    // Independent: the data region is every tensor's float32 bytes in name order.
    const h = createHash('sha256');
    const names = [...big.flatMap((m) => [m.downInput, m.upInput, `${m.name}.alpha`])].sort();
    for (const n of names) {
      const v = n.endsWith('.alpha') ? Float32Array.of(4) : values.get(n)!;
      h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
    expect(res.modelHash).toBe(h.digest('hex'));
    expect(addnetModelHash(bytes)).toBe(res.modelHash);
    // Legacy: rebuild the file as kohya hashed it — the same header with only the ss_* metadata.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    header.__metadata__ = Object.fromEntries(
      Object.entries(header.__metadata__ as Record<string, string>).filter(([k]) =>
        k.startsWith('ss_'),
      ),
    );
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const hashed = new Uint8Array(8 + json.length + bytes.byteLength - 8 - n);
    new DataView(hashed.buffer).setBigUint64(0, BigInt(json.length), true);
    hashed.set(new TextEncoder().encode(json), 8);
    hashed.set(bytes.subarray(8 + n), 8 + json.length);
    const window = hashed.subarray(0x100000, 0x110000);
    expect(res.legacyHash).toBe(createHash('sha256').update(window).digest('hex').slice(0, 8));
    expect(addnetLegacyHash(hashed)).toBe(res.legacyHash);
    // A file under 1 MiB hashes an empty window, as kohya's read() past the end does.
    expect(addnetLegacyHash(new Uint8Array(100))).toBe('e3b0c442');
  });

  it('re-imported through the kohya converter + generation LoRA inputs, gives the training graph’s output', async () => {
    const path = join(dir, 'c.safetensors');
    await exportKohyaLora(path, { modules, values }, { alpha: 4, rank: 8, precision: 'fp32' });
    const known = { unet: unetModuleSites(tiny.cfg).map((s) => s.module), text_encoder: [] };
    const lora = await loadLoraFile(path, known);
    expect(lora.unknownKeys).toEqual([]);
    expect(lora.modules).toHaveLength(192);
    const refs = await loadRefs('lora/lora_ref.safetensors');
    const feeds: Record<string, HostTensor> = {
      sample: ref(refs, 'sample'),
      timestep: timestepFeed(ref(refs, 'timestep')),
      encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
    };
    const gen = loraGraphInputs('unet');
    const genSession = await LoraSession.create(
      buildUnetGraph(tiny.cfg, tiny.weights, { adapter: gen.adapter, ...STATIC }),
      gen.slots,
      'unet',
    );
    const trainSession = await Session.create(forward);
    try {
      const report = genSession.setLoras([{ lora, strength: 1 }]);
      expect(report.unsupported).toEqual([]);
      expect(report.applied[0].modules).toBe(192);
      const viaFile = (await genSession.run(feeds)).noise_pred.data as Float32Array;
      const flat = packLoraParams(loraLayout(modules), values);
      const trainFeeds: Record<string, HostTensor> = {
        ...feeds,
        lora_params: { dtype: 'float32', shape: [flat.length], data: flat },
      };
      const inTraining = (await trainSession.run(trainFeeds)).noise_pred.data as Float32Array;
      const err = relError(viaFile, inTraining);
      console.log(`export round trip: relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      // The LoRA moves the output well beyond that tolerance.
      expect(relError(inTraining, ref(refs, 'out_base').data as Float32Array)).toBeGreaterThan(
        1e-2,
      );
    } finally {
      await genSession.release();
      await trainSession.release();
    }
  });

  it('refuses metadata that contradicts the network and parameters that do not fit', async () => {
    const path = join(dir, 'd.safetensors');
    await expect(
      exportKohyaLora(
        path,
        { modules, values },
        { alpha: 4, rank: 8, metadata: { ss_network_dim: '16' } },
      ),
    ).rejects.toThrow(/ss_network_dim/);
    const partial = new Map(values);
    partial.delete(modules[0].upInput);
    await expect(
      exportKohyaLora(path, { modules, values: partial }, { alpha: 4, rank: 8 }),
    ).rejects.toThrow(new RegExp(modules[0].upInput.replace(/\./g, '\\.')));
  });
});
