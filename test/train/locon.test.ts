// LoCon (kohya networks.lora with conv_dim / conv_alpha) on the tiny UNet: which modules it adds
// and at which rank, gradients of the 3×3 lora_down / 1×1 lora_up against central finite
// differences, and the exported file (kohya shapes) applied by the generation graph's LoCon inputs
// giving the in-training network's output.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLoraFile, readLoraFile } from '../../core/formats/index.js';
import {
  bindLora,
  buildUnetGraph,
  LoraSession,
  loraGraphInputs,
  slotsFromSites,
  unetModuleSites,
} from '../../core/models/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  buildLoraLossGraph,
  exportKohyaLora,
  initLoraParams,
  loraModulesFromSites,
  packLoraParams,
  STEP_IO,
  unpackLoraParams,
  type LoraTrainGraph,
} from '../../core/train/index.js';
import { f32, loadRefs, loadTinyUnet, ref, relError, timestepFeed, wave } from './helpers.js';

const CONV = { rank: 2, alpha: 1 };

describe('LoCon modules (conv_dim / conv_alpha)', () => {
  it("adds kohya's ResNet / sampler modules: 3×3 convs at conv_dim, their Linear / 1×1 at network_dim", async () => {
    const { cfg } = await loadTinyUnet();
    const sites = unetModuleSites(cfg);
    const plain = loraModulesFromSites(sites, { rank: 4 });
    const locon = loraModulesFromSites(sites, { rank: 4, conv: CONV });
    const byName = new Map(locon.map((m) => [m.name, m]));
    const conv1 = byName.get('lora_unet_down_blocks_0_resnets_0_conv1')!;
    expect(conv1).toMatchObject({ rank: 2, alpha: 1, kernel: [3, 3] });
    expect(conv1.downShape).toEqual([2, conv1.inFeatures * 9]);
    expect(byName.get('lora_unet_down_blocks_0_resnets_0_time_emb_proj')).toMatchObject({
      rank: 4,
      kind: 'linear',
    });
    expect(byName.get('lora_unet_down_blocks_0_resnets_0_time_emb_proj')!.alpha).toBeUndefined();
    expect(byName.get('lora_unet_down_blocks_0_downsamplers_0_conv')).toMatchObject({
      rank: 2,
      stride: 2,
    });
    // kohya's networks.lora leaves conv_in, conv_out and the time embedding MLP alone.
    for (const n of ['conv_in', 'conv_out', 'time_embedding_linear_1'])
      expect(byName.has(`lora_unet_${n}`)).toBe(false);
    const inBlocks = sites.filter((s) =>
      /\.(resnets|downsamplers|upsamplers)\.\d+\./.test(s.module),
    );
    expect(locon.length).toBe(plain.length + inBlocks.length);
    // The generation graph's LoCon slots are the same modules.
    expect(slotsFromSites(sites, 'kohya', true).map((s) => s.module)).toEqual(
      locon.map((m) => m.module),
    );
  });
});

describe('LoCon on the tiny UNet: gradients and export round trip', () => {
  let built: LoraTrainGraph;
  let session: Session;
  let flat: Float32Array;
  let feeds: Record<string, HostTensor>;
  let dir: string;

  const run = async (p: Float32Array) =>
    session.run({ ...feeds, [STEP_IO.params]: f32([p.length], p) });
  const lossAt = async (p: Float32Array) => ((await run(p)).loss.data as Float32Array)[0];

  beforeAll(async () => {
    const { cfg, weights } = await loadTinyUnet();
    const refs = await loadRefs('lora/lora_ref.safetensors');
    const ts = [...(timestepFeed(ref(refs, 'timestep')).data as Float32Array)];
    dir = await mkdtemp(join(tmpdir(), 'locon-'));
    built = buildLoraLossGraph({
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 2, conv: CONV },
      batch: 2,
      height: 16,
      width: 16,
      outputPrediction: true,
      timestepBatch: 2,
    });
    const values = initLoraParams(built.modules, 3);
    let k = 0;
    for (const m of built.modules)
      values.get(m.upInput)!.forEach((_, i, a) => (a[i] = 0.05 * Math.sin(++k * 0.9)));
    flat = packLoraParams(built.layout, values);
    feeds = {
      sample: ref(refs, 'sample'),
      timestep: f32([2], ts.length === 1 ? [ts[0], ts[0]] : ts),
      encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
      target: ref(refs, 'target'),
      [STEP_IO.lossScale]: f32([], [1]),
    };
    session = await Session.create(built.graph);
  }, 180_000);
  afterAll(async () => {
    await session?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives 3×3 lora_down / 1×1 lora_up gradients that match central finite differences', async () => {
    const grad = (await run(flat))[STEP_IO.grad].data as Float32Array;
    const conv = built.modules.flatMap((m, i) => (m.alpha === undefined ? [] : [i]));
    expect(conv.length).toBeGreaterThan(10);
    const entries = conv.flatMap((i) => [
      built.layout.entries[2 * i],
      built.layout.entries[2 * i + 1],
    ]);
    const dirV = new Float32Array(flat.length);
    entries.forEach((e, j) => dirV.set(wave(e.length, 0.9 + j * 0.01), e.offset));
    const eps = 1e-2;
    const fd =
      ((await lossAt(flat.map((v, i) => v + eps * dirV[i]))) -
        (await lossAt(flat.map((v, i) => v - eps * dirV[i])))) /
      (2 * eps);
    let analytic = 0;
    for (let i = 0; i < flat.length; i++) analytic += grad[i] * dirV[i];
    console.log(`LoCon directional derivative: analytic ${analytic}, FD ${fd}`);
    expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(2e-2);
    // Single elements: a ResNet conv1's down and up, and a strided downsampler's down.
    const down = built.modules.findIndex((m) => m.module.endsWith('downsamplers.0.conv'));
    const picks = [
      built.layout.entries[2 * conv[0]],
      built.layout.entries[2 * conv[0] + 1],
      built.layout.entries[2 * down],
    ];
    for (const e of picks) {
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

  it('exports kohya LoCon shapes and alphas, and the generation graph applies them identically', async () => {
    const { cfg, weights } = await loadTinyUnet();
    const path = join(dir, 'locon.safetensors');
    await exportKohyaLora(
      path,
      { modules: built.modules, values: unpackLoraParams(built.layout, flat) },
      { rank: 4, alpha: 2, precision: 'fp32' },
    );
    const file = await readLoraFile(path);
    const conv1 = 'lora_unet_down_blocks_0_resnets_0_conv1';
    const m = built.modules.find((x) => x.name === conv1)!;
    expect(file.tensors.get(`${conv1}.lora_down.weight`)!.shape).toEqual([2, m.inFeatures, 3, 3]);
    expect(file.tensors.get(`${conv1}.lora_up.weight`)!.shape).toEqual([m.outFeatures, 2, 1, 1]);
    const alphaOf = (n: string) =>
      new DataView(file.tensors.get(`${n}.alpha`)!.bytes.buffer).getFloat32(
        file.tensors.get(`${n}.alpha`)!.bytes.byteOffset,
        true,
      );
    expect(alphaOf(conv1)).toBe(1);
    expect(alphaOf('lora_unet_down_blocks_0_resnets_0_time_emb_proj')).toBe(2);

    const lora = await loadLoraFile(path, {
      unet: unetModuleSites(cfg).map((s) => s.module),
      text_encoder: [],
    });
    expect(lora.unsupported).toEqual([]);
    const gen = loraGraphInputs('unet', { locon: true });
    const genSession = await LoraSession.create(
      buildUnetGraph(cfg, weights, { adapter: gen.adapter, batch: 2, height: 16, width: 16 }),
      gen.slots,
      'unet',
    );
    // A graph without LoCon inputs reports the 3×3 modules by name instead of half-applying.
    const plain = loraGraphInputs('unet');
    buildUnetGraph(cfg, weights, { adapter: plain.adapter, batch: 2, height: 16, width: 16 });
    try {
      const report = genSession.setLoras([{ lora, strength: 1 }]);
      expect(report.unsupported).toEqual([]);
      expect(report.applied[0].modules).toBe(built.modules.length);
      const { sample, timestep, encoder_hidden_states } = feeds;
      const viaFile = (await genSession.run({ sample, timestep, encoder_hidden_states })).noise_pred
        .data as Float32Array;
      const inTraining = (await run(flat)).prediction.data as Float32Array;
      const err = relError(viaFile, inTraining);
      console.log(`LoCon export round trip: relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      genSession.setLoras([]);
      const base = (await genSession.run({ sample, timestep, encoder_hidden_states })).noise_pred
        .data as Float32Array;
      expect(relError(base, inTraining)).toBeGreaterThan(1e-3);
      const bound = bindLora(lora, plain.slots, 'unet');
      expect(bound.unsupported.some((u) => u.name === conv1 && /LoCon/.test(u.reason))).toBe(true);
    } finally {
      await genSession.release();
    }
  });
});
