// Text-encoder LoRA: kohya's 72 modules and names, gradients through the text encoder inside the
// step graph against central finite differences (tiny CLIP + tiny UNet; there is no peft fixture
// for the text encoder), and the exported lora_te_ + lora_unet_ file applied by the generation
// graphs giving the in-training network's prediction.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLoraFile, readLoraFile } from '../../core/formats/index.js';
import {
  buildClipTextGraph,
  buildUnetGraph,
  clipTextConfigFromJson,
  LoraSession,
  loraGraphInputs,
  textEncoderModuleSites,
  unetModuleSites,
  type ClipTextConfig,
  type WeightSource,
} from '../../core/models/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { SD15_NOISE_SCHEDULE } from '../../core/schedulers/index.js';
import {
  buildTrainStepGraph,
  exportKohyaLora,
  initLoraParams,
  lrScaleVector,
  noiseTables,
  packLoraParams,
  STEP_IO,
  textEncoderLoraModules,
  unpackLoraParams,
  type LoraTrainGraph,
} from '../../core/train/index.js';
import { loadJson, loadWeights } from '../models/model-fixtures.js';
import { f32, loadTinyUnet, relError, wave, type TinyUnet } from './helpers.js';

const SD15_TE: ClipTextConfig = clipTextConfigFromJson({
  hidden_size: 768,
  intermediate_size: 3072,
  num_attention_heads: 12,
  num_hidden_layers: 12,
  max_position_embeddings: 77,
  vocab_size: 49408,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
});

describe("kohya's text-encoder LoRA modules", () => {
  it('are q/k/v/out_proj, fc1, fc2 of the 12 CLIP layers: 72 modules named lora_te_…', () => {
    const modules = textEncoderLoraModules(SD15_TE, 8);
    expect(modules).toHaveLength(72);
    expect(modules.slice(0, 6).map((m) => m.name)).toEqual(
      ['self_attn_q_proj', 'self_attn_k_proj', 'self_attn_v_proj', 'self_attn_out_proj']
        .concat(['mlp_fc1', 'mlp_fc2'])
        .map((s) => `lora_te_text_model_encoder_layers_0_${s}`),
    );
    expect(modules.at(-1)!.name).toBe('lora_te_text_model_encoder_layers_11_mlp_fc2');
    const fc1 = modules.find((m) => m.name.endsWith('layers_3_mlp_fc1'))!;
    expect([fc1.downShape, fc1.upShape]).toEqual([
      [8, 768],
      [3072, 8],
    ]);
    expect(new Set(modules.map((m) => m.component))).toEqual(new Set(['text_encoder']));
  });
});

// Tiny sizes: latent 16×16 (tiny UNet at 128 px), batch 2, 77 tokens.
const B = 2;
const H = 16;

function tokenIds(): BigInt64Array {
  // BOS, a few tokens, EOS padding (the tiny vocabulary has 1000 entries).
  const ids = new BigInt64Array(B * 77).fill(2n);
  for (let b = 0; b < B; b++) {
    ids[b * 77] = 0n;
    for (let i = 1; i < 9; i++) ids[b * 77 + i] = BigInt(10 + ((i * 37 + b * 101) % 900));
  }
  return ids;
}

describe('text-encoder LoRA trained inside the step graph (tiny CLIP + tiny UNet)', () => {
  let tiny: TinyUnet;
  let teCfg: ClipTextConfig;
  let teWeights: WeightSource;
  let built: LoraTrainGraph;
  let session: Session;
  let flat: Float32Array;
  let feeds: Record<string, HostTensor>;
  let dir: string;
  const latents = wave(B * 4 * H * H, 0.37);
  const timesteps = BigInt64Array.from([500n, 900n]);

  const run = async (params: Float32Array) =>
    session.run({ ...feeds, [STEP_IO.params]: f32([params.length], params) });

  beforeAll(async () => {
    tiny = await loadTinyUnet();
    teCfg = clipTextConfigFromJson(await loadJson('tiny_sd/text_encoder/config.json'));
    teWeights = await loadWeights('tiny_sd/text_encoder/model.safetensors');
    dir = await mkdtemp(join(tmpdir(), 'te-lora-'));
    built = buildTrainStepGraph({
      unet: tiny.cfg,
      weights: tiny.weights,
      textEncoder: { config: teCfg, weights: teWeights, clipSkip: 1 },
      network: { rank: 4, alpha: 2 },
      batch: B,
      height: H,
      width: H,
      outputPrediction: true,
    });
    const values = initLoraParams(built.modules, 11);
    // Non-zero up, as after some training, so every parameter has a gradient.
    let k = 0;
    for (const m of built.modules)
      values.get(m.upInput)!.forEach((_, i, a) => (a[i] = 0.08 * Math.sin(++k * 0.7)));
    flat = packLoraParams(built.layout, values);
    feeds = {
      [STEP_IO.latents]: f32([B, 4, H, H], latents),
      // Zero noise: x_t = √ᾱ_t·x₀, which the generation check below rebuilds on the host.
      [STEP_IO.noise]: f32([B, 4, H, H], new Float32Array(B * 4 * H * H)),
      [STEP_IO.timesteps]: { dtype: 'int64', shape: [B], data: timesteps },
      [STEP_IO.inputIds]: { dtype: 'int64', shape: [B, 77], data: tokenIds() },
      [STEP_IO.lossScale]: f32([], [1]),
    };
    session = await Session.create(built.graph);
  }, 180_000);
  afterAll(async () => {
    await session?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('packs the text encoder’s modules first (kohya’s order), then the UNet’s', () => {
    const te = built.modules.filter((m) => m.component === 'text_encoder');
    expect(te).toHaveLength(6 * teCfg.numLayers);
    expect(built.modules.slice(0, te.length)).toEqual(te);
    expect(built.modules.length - te.length).toBe(192);
    expect(built.graph.inputs.map((i) => i.name)).toContain(STEP_IO.inputIds);
    expect(built.graph.inputs.map((i) => i.name)).not.toContain(STEP_IO.encoderHiddenStates);
    // The lr multipliers: ratio on every text-encoder element, 1 on the UNet's.
    const scale = lrScaleVector(built, 0.5);
    const firstUnet = built.layout.entries[2 * te.length].offset;
    expect(scale.subarray(0, firstUnet).every((v) => v === 0.5)).toBe(true);
    expect(scale.subarray(firstUnet).every((v) => v === 1)).toBe(true);
  });

  it('gives text-encoder LoRA gradients that match central finite differences', async () => {
    const out = await run(flat);
    const grad = out[STEP_IO.grad].data as Float32Array;
    const te = built.layout.entries.slice(0, 2 * 6 * teCfg.numLayers);
    const teEnd = te.at(-1)!.offset + te.at(-1)!.length;
    let teNorm = 0;
    for (let i = 0; i < teEnd; i++) teNorm += grad[i] * grad[i];
    expect(Math.sqrt(teNorm)).toBeGreaterThan(1e-6);
    // A directional derivative along a random text-encoder-only direction…
    const dirV = new Float32Array(flat.length);
    dirV.set(wave(teEnd, 1.3));
    const eps = 1e-2;
    const shifted = (sign: number) => flat.map((v, i) => v + sign * eps * dirV[i]);
    const lossAt = async (p: Float32Array) => ((await run(p)).loss.data as Float32Array)[0];
    const fd = ((await lossAt(shifted(1))) - (await lossAt(shifted(-1)))) / (2 * eps);
    let analytic = 0;
    for (let i = 0; i < teEnd; i++) analytic += grad[i] * dirV[i];
    console.log(`TE LoRA directional derivative: analytic ${analytic}, FD ${fd}`);
    expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(2e-2);
    // …and the largest single elements of lora_down and lora_up of one layer.
    for (const e of [te[0], te[3]]) {
      let best = e.offset;
      for (let i = e.offset; i < e.offset + e.length; i++)
        if (Math.abs(grad[i]) > Math.abs(grad[best])) best = i;
      const p1 = flat.slice();
      const p2 = flat.slice();
      p1[best] += eps;
      p2[best] -= eps;
      const d = ((await lossAt(p1)) - (await lossAt(p2))) / (2 * eps);
      expect(Math.abs(d - grad[best]) / Math.abs(grad[best])).toBeLessThan(5e-2);
    }
  });

  it('exports lora_te_ + lora_unet_ keys that the generation graphs apply with the same output', async () => {
    const path = join(dir, 'te.safetensors');
    const values = unpackLoraParams(built.layout, flat);
    await exportKohyaLora(
      path,
      { modules: built.modules, values },
      { rank: 4, alpha: 2, precision: 'fp32' },
    );
    const file = await readLoraFile(path);
    const q = 'lora_te_text_model_encoder_layers_0_self_attn_q_proj';
    expect(file.tensors.get(`${q}.lora_down.weight`)!.shape).toEqual([4, teCfg.hiddenSize]);
    expect(file.tensors.get(`${q}.alpha`)!.shape).toEqual([]);
    const known = {
      unet: unetModuleSites(tiny.cfg).map((s) => s.module),
      text_encoder: textEncoderModuleSites(teCfg).map((s) => s.module),
    };
    const lora = await loadLoraFile(path, known);
    expect(lora.unknownKeys).toEqual([]);
    expect(lora.unsupported).toEqual([]);

    const teIn = loraGraphInputs('text_encoder');
    const teSession = await LoraSession.create(
      buildClipTextGraph(teCfg, teWeights, { adapter: teIn.adapter, batch: B }),
      teIn.slots,
      'text_encoder',
    );
    const unetIn = loraGraphInputs('unet');
    const unetSession = await LoraSession.create(
      buildUnetGraph(tiny.cfg, tiny.weights, {
        adapter: unetIn.adapter,
        batch: B,
        height: H,
        width: H,
      }),
      unetIn.slots,
      'unet',
    );
    try {
      const teReport = teSession.setLoras([{ lora, strength: 1 }]);
      expect(teReport.applied[0].modules).toBe(6 * teCfg.numLayers);
      expect(unetSession.setLoras([{ lora, strength: 1 }]).applied[0].modules).toBe(192);
      const ehs = (await teSession.run({ input_ids: feeds[STEP_IO.inputIds] })).prompt_embeds;
      const { sqrtAlphaBar } = noiseTables(SD15_NOISE_SCHEDULE);
      const per = 4 * H * H;
      const sample = latents.map(
        (v, i) => v * sqrtAlphaBar[Number(timesteps[Math.floor(i / per)])],
      );
      const viaFile = (
        await unetSession.run({
          sample: f32([B, 4, H, H], sample),
          timestep: f32([B], [...timesteps].map(Number)),
          encoder_hidden_states: ehs,
        })
      ).noise_pred.data as Float32Array;
      const inTraining = (await run(flat)).prediction.data as Float32Array;
      const err = relError(viaFile, inTraining);
      console.log(`TE + UNet export round trip: relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      // Without the text-encoder part the output differs well beyond that.
      teSession.setLoras([]);
      const plainEhs = (await teSession.run({ input_ids: feeds[STEP_IO.inputIds] })).prompt_embeds;
      const unetOnly = (
        await unetSession.run({
          sample: f32([B, 4, H, H], sample),
          timestep: f32([B], [...timesteps].map(Number)),
          encoder_hidden_states: plainEhs,
        })
      ).noise_pred.data as Float32Array;
      expect(relError(unetOnly, inTraining)).toBeGreaterThan(1e-3);
    } finally {
      await teSession.release();
      await unetSession.release();
    }
  });
});
