// LoRA graph inputs against merged weights (W' = W + strength·alpha/rank·up·down), on modules
// the fixture LoRA does not cover: the UNet's 1×1-conv proj_in (kohya's 4-D tensors) and
// GEGLU projection, and the text encoder's attention and MLP (also in float16).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  convertLora,
  type ConvertedLora,
  type RawLoraTensor,
} from '../../core/formats/lora/index.js';
import { parseSafetensors } from '../../core/formats/index.js';
import { float16BitsToFloat32, type Graph } from '../../core/graph/index.js';
import { buildClipTextGraph, clipTextConfigFromJson } from '../../core/models/clip/index.js';
import { knownModules, loraGraphInputs, LoraSession } from '../../core/models/lora/index.js';
import { buildUnetGraph, unetConfigFromJson } from '../../core/models/unet/index.js';
import { memoryWeights, type WeightTensor } from '../../core/models/weights.js';
import type { HostTensor } from '../../core/onnx/index.js';
import {
  f32,
  fixturePath,
  loadJson,
  loadRefs,
  maxAbs,
  maxAbsDiff,
  ref,
  runGraph,
  unetFeeds,
} from './model-fixtures.js';

/** Deterministic values in [−0.5, 0.5). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const raw = (shape: number[], data: Float32Array): RawLoraTensor => ({
  dtype: 'float32',
  shape,
  bytes: new Uint8Array(data.buffer),
});

interface Spec {
  name: string; // kohya name
  inF: number;
  outF: number;
  rank: number;
  alpha?: number;
  conv?: boolean;
}

function kohyaFile(specs: readonly Spec[]): Map<string, RawLoraTensor> {
  const m = new Map<string, RawLoraTensor>();
  specs.forEach((s, i) => {
    const k = s.conv ? [1, 1] : [];
    m.set(`${s.name}.lora_down.weight`, raw([s.rank, s.inF, ...k], values(s.rank * s.inF, 10 + i)));
    m.set(`${s.name}.lora_up.weight`, raw([s.outF, s.rank, ...k], values(s.outF * s.rank, 50 + i)));
    if (s.alpha !== undefined) m.set(`${s.name}.alpha`, raw([], Float32Array.of(s.alpha)));
  });
  return m;
}

/** The model file's weights in memory, with each LoRA module merged in at `strength`. */
async function mergedWeights(
  rel: string,
  lora: ConvertedLora,
  strength: number,
): Promise<Map<string, WeightTensor>> {
  const r = parseSafetensors(new Uint8Array(await readFile(fixturePath(rel))), rel);
  const map = new Map<string, WeightTensor>();
  for (const name of r.names()) {
    const t = await r.readTensorData(name);
    map.set(name, { dtype: t.dtype, shape: t.shape, data: t.bytes.slice() });
  }
  for (const m of lora.modules) {
    const w = map.get(`${m.module}.weight`)!;
    const data = new Float32Array((w.data as Uint8Array).slice().buffer);
    const [outF, rank] = m.up.shape;
    const inF = m.down.shape[1];
    const scale = (strength * m.alpha) / m.rank;
    for (let o = 0; o < outF; o++)
      for (let i = 0; i < inF; i++) {
        let acc = 0;
        for (let j = 0; j < rank; j++) acc += m.up.data[o * rank + j] * m.down.data[j * inF + i];
        data[o * inF + i] += scale * acc;
      }
    map.set(`${m.module}.weight`, { ...w, data: new Uint8Array(data.buffer) });
  }
  return map;
}

async function runLora(
  graph: Graph,
  slots: Parameters<typeof LoraSession.create>[1],
  component: 'unet' | 'text_encoder',
  lora: ConvertedLora,
  strength: number,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> {
  const s = await LoraSession.create(graph, slots, component);
  try {
    const report = s.setLoras([{ lora, strength }]);
    expect(report.unsupported).toEqual([]);
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('LoRA graph inputs = merged weights', async () => {
  const unetCfg = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
  const teCfg = clipTextConfigFromJson(await loadJson('tiny_sd/text_encoder/config.json'));
  const known = knownModules({ unet: unetCfg, textEncoder: teCfg });

  it('UNet: 1×1-conv proj_in (4-D kohya tensors), proj_out and the GEGLU projection', async () => {
    const lora = convertLora(
      kohyaFile([
        {
          name: 'lora_unet_down_blocks_0_attentions_0_proj_in',
          inF: 16,
          outF: 16,
          rank: 3,
          alpha: 1.5,
          conv: true,
        },
        {
          name: 'lora_unet_mid_block_attentions_0_proj_out',
          inF: 32,
          outF: 32,
          rank: 2,
          conv: true,
        },
        {
          name: 'lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_ff_net_0_proj',
          inF: 32,
          outF: 256,
          rank: 4,
          alpha: 8,
        },
      ]),
      known,
    );
    expect(lora.modules.map((m) => m.module)).toEqual([
      'down_blocks.0.attentions.0.proj_in',
      'mid_block.attentions.0.proj_out',
      'up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj',
    ]);
    const rel = 'tiny_sd/unet/diffusion_pytorch_model.safetensors';
    const refs = await loadRefs('unet/unet_ref.safetensors');
    const feeds = unetFeeds(refs, 'b');
    const merged = await runGraph(
      buildUnetGraph(unetCfg, memoryWeights(await mergedWeights(rel, lora, 0.8))),
      feeds,
    );
    const inputs = loraGraphInputs('unet');
    const graph = buildUnetGraph(unetCfg, memoryWeights(await mergedWeights(rel, lora, 0)), {
      adapter: inputs.adapter,
    });
    const out = await runLora(graph, inputs.slots, 'unet', lora, 0.8, feeds);
    const err = maxAbsDiff(out.noise_pred, merged.noise_pred);
    const effect = maxAbsDiff(merged.noise_pred, ref(refs, 'out_b'));
    console.log('UNet conv/linear LoRA vs merged', { err, effect });
    expect(err).toBeLessThan(1e-4);
    expect(effect).toBeGreaterThan(1e-2);
  });

  it('text encoder: q_proj, out_proj and fc1/fc2 in float32 and float16', async () => {
    const lora = convertLora(
      kohyaFile([
        {
          name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj',
          inF: 32,
          outF: 32,
          rank: 4,
          alpha: 2,
        },
        {
          name: 'lora_te_text_model_encoder_layers_2_self_attn_out_proj',
          inF: 32,
          outF: 32,
          rank: 2,
        },
        {
          name: 'lora_te_text_model_encoder_layers_3_mlp_fc1',
          inF: 32,
          outF: 37,
          rank: 5,
          alpha: 5,
        },
        {
          name: 'lora_te_text_model_encoder_layers_4_mlp_fc2',
          inF: 37,
          outF: 32,
          rank: 1,
          alpha: 4,
        },
      ]),
      known,
    );
    expect(lora.modules.map((m) => `${m.component}:${m.module}`)).toEqual([
      'text_encoder:text_model.encoder.layers.0.self_attn.q_proj',
      'text_encoder:text_model.encoder.layers.2.self_attn.out_proj',
      'text_encoder:text_model.encoder.layers.3.mlp.fc1',
      'text_encoder:text_model.encoder.layers.4.mlp.fc2',
    ]);
    const rel = 'tiny_sd/text_encoder/model.safetensors';
    const refs = await loadRefs('text/text_encoder_ref.safetensors');
    const feeds = { input_ids: ref(refs, 'input_ids') };
    const merged = await runGraph(
      buildClipTextGraph(teCfg, memoryWeights(await mergedWeights(rel, lora, 1.3))),
      feeds,
    );
    const base = memoryWeights(await mergedWeights(rel, lora, 0));
    for (const dtype of ['float32', 'float16'] as const) {
      const inputs = loraGraphInputs('text_encoder');
      const graph = buildClipTextGraph(teCfg, base, { adapter: inputs.adapter, dtype });
      expect(inputs.slots.length).toBe(5 * 6);
      const out = await runLora(graph, inputs.slots, 'text_encoder', lora, 1.3, feeds);
      const got =
        dtype === 'float32'
          ? out.prompt_embeds
          : f32(
              out.prompt_embeds.shape,
              Array.from(out.prompt_embeds.data as Uint16Array, float16BitsToFloat32),
            );
      const err = maxAbsDiff(got, merged.prompt_embeds);
      console.log(`text encoder LoRA vs merged (${dtype})`, err);
      expect(err).toBeLessThan(dtype === 'float32' ? 1e-4 : 0.05 * maxAbs(merged.prompt_embeds));
    }
    expect(maxAbsDiff(merged.prompt_embeds, ref(refs, 'last_hidden_state'))).toBeGreaterThan(1e-2);
  });
});
