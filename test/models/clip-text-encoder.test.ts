import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../core/formats/index.js';
import { GraphBuilder, type Value } from '../../core/graph/index.js';
import {
  SD15_TEXT_ENCODER_CONFIG,
  buildClipTextGraph,
  clipTextConfigFromJson,
  clipTextEncoder,
  type ClipTextConfig,
} from '../../core/models/clip/index.js';
import {
  WeightBinder,
  checkpointWeights,
  memoryWeights,
  safetensorsExternalWeights,
  syntheticWeights,
  type WeightSource,
  type WeightTensor,
} from '../../core/models/weights.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  fixturePath,
  ldmExternalData,
  loadJson,
  loadRefs,
  loadTinyLdm,
  loadWeights,
  maxAbsDiff,
  ref,
} from './model-fixtures.js';

const TOL = 1e-4;
let cfg: ClipTextConfig;
let weights: WeightSource;
let refs: Map<string, HostTensor>;

beforeAll(async () => {
  cfg = clipTextConfigFromJson(await loadJson('tiny_sd/text_encoder/config.json'));
  weights = await loadWeights('tiny_sd/text_encoder/model.safetensors');
  refs = await loadRefs('text/text_encoder_ref.safetensors');
});

async function run(
  graph: ReturnType<typeof buildClipTextGraph>,
  opts = {},
): Promise<Record<string, HostTensor>> {
  const s = await Session.create(graph, opts);
  try {
    return await s.run({ input_ids: ref(refs, 'input_ids') });
  } finally {
    await s.release();
  }
}

describe('CLIP text encoder config', () => {
  it('reads the tiny transformers config', () => {
    expect(cfg).toEqual({
      vocabSize: 1000,
      hiddenSize: 32,
      intermediateSize: 37,
      numLayers: 5,
      numHeads: 4,
      maxPositions: 77,
      hiddenAct: 'quick_gelu',
      layerNormEps: 1e-5,
    });
  });

  it('rejects an unknown activation, naming the valid ones', () => {
    expect(() => clipTextConfigFromJson({ ...configJson(), hidden_act: 'relu' })).toThrow(
      /relu.*quick_gelu, gelu/,
    );
  });
});

function configJson(): Record<string, unknown> {
  return {
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
  };
}

describe('CLIP text encoder parity (tiny_sd, diffusers folder)', () => {
  it('matches last_hidden_state and every hidden state', async () => {
    const g = new GraphBuilder('clip_taps');
    const w = new WeightBinder(g, weights, { label: 'CLIP' });
    const ids = g.input('input_ids', 'int64', ['batch', 77]);
    const taps: [string, Value][] = [];
    const out = clipTextEncoder(
      { g, w, dtype: 'float32', tap: (n, v) => taps.push([n, v]) },
      cfg,
      ids,
    );
    w.finish();
    g.output(out.promptEmbeds, 'last_hidden_state');
    for (const [n, v] of taps) g.output(v, n);
    const res = await run(g.build());
    const errs: Record<string, number> = {};
    for (const name of ['last_hidden_state', ...taps.map(([n]) => n)]) {
      errs[name] = maxAbsDiff(res[name], ref(refs, name));
    }
    console.log('CLIP parity max abs errors', errs);
    expect(taps.map(([n]) => n)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `hidden_states.${i}`));
    for (const e of Object.values(errs)) expect(e).toBeLessThan(TOL);
  });

  it('clip skip 2 gives final_layer_norm(hidden_states[-2]) and skips the last layer', async () => {
    const full = buildClipTextGraph(cfg, weights, { clipSkip: 1 });
    const skip2 = buildClipTextGraph(cfg, weights, { clipSkip: 2 });
    expect(skip2.nodes.length).toBeLessThan(full.nodes.length);
    expect(skip2.initializers.some((i) => i.name.startsWith('text_model.encoder.layers.4.'))).toBe(
      false,
    );
    const res = await run(skip2);
    const err = maxAbsDiff(res.prompt_embeds, ref(refs, 'penultimate_final_ln'));
    console.log(
      'CLIP skip 2 max abs error',
      err,
      'nodes',
      skip2.nodes.length,
      'vs',
      full.nodes.length,
    );
    expect(err).toBeLessThan(TOL);
  });

  it('gives both outputs with withLastHiddenState, from weights left in the file (external data)', async () => {
    const rel = 'tiny_sd/text_encoder/model.safetensors';
    const file = await openSafetensors(fixturePath(rel));
    await file.close();
    const graph = buildClipTextGraph(cfg, safetensorsExternalWeights(file, 'te.safetensors'), {
      clipSkip: 2,
      withLastHiddenState: true,
    });
    expect(graph.initializers.filter((i) => i.external).length).toBe(84);
    const data = new Uint8Array(await readFile(fixturePath(rel)));
    const res = await run(graph, { externalData: [{ path: 'te.safetensors', data }] });
    expect(maxAbsDiff(res.prompt_embeds, ref(refs, 'penultimate_final_ln'))).toBeLessThan(TOL);
    expect(maxAbsDiff(res.last_hidden_state, ref(refs, 'last_hidden_state'))).toBeLessThan(TOL);
  });

  it('sends every Linear through the adapter hook under its transformers module name', () => {
    const modules: string[] = [];
    buildClipTextGraph(cfg, weights, {
      adapter: (_g, site) => {
        modules.push(`${site.kind}:${site.module}:${site.inFeatures}->${site.outFeatures}`);
        return undefined;
      },
    });
    // kohya's lora_te targets: q/k/v/out_proj, fc1, fc2 in each of the 5 layers.
    expect(modules.length).toBe(30);
    expect(modules.slice(0, 6)).toEqual([
      'linear:text_model.encoder.layers.0.self_attn.q_proj:32->32',
      'linear:text_model.encoder.layers.0.self_attn.k_proj:32->32',
      'linear:text_model.encoder.layers.0.self_attn.v_proj:32->32',
      'linear:text_model.encoder.layers.0.self_attn.out_proj:32->32',
      'linear:text_model.encoder.layers.0.mlp.fc1:32->37',
      'linear:text_model.encoder.layers.0.mlp.fc2:37->32',
    ]);
  });

  it('rejects clip skip outside 1..layers', () => {
    expect(() => buildClipTextGraph(cfg, weights, { clipSkip: 6 })).toThrow(/1 to 5, got 6/);
    expect(() => buildClipTextGraph(cfg, weights, { clipSkip: 0 })).toThrow(/1 to 5, got 0/);
  });
});

describe('CLIP text encoder weight audit', () => {
  function mutated(edit: (m: Map<string, WeightTensor>) => void): WeightSource {
    const map = new Map<string, WeightTensor>();
    for (const n of weights.names() ?? []) map.set(n, weights.get(n, { shape: [] })!);
    edit(map);
    return memoryWeights(map);
  }

  it('lists a missing weight and an unused one together', () => {
    const src = mutated((m) => {
      m.delete('text_model.encoder.layers.2.mlp.fc1.bias');
      m.set('text_model.extra.weight', m.get('text_model.final_layer_norm.bias')!);
    });
    expect(() => buildClipTextGraph(cfg, src)).toThrow(
      /missing: text_model\.encoder\.layers\.2\.mlp\.fc1\.bias \[37\].*unused: text_model\.extra\.weight/,
    );
  });

  it('tolerates the position_ids buffer that real checkpoints carry', () => {
    const src = mutated((m) =>
      m.set('text_model.embeddings.position_ids', {
        dtype: 'int64',
        shape: [1, 77],
        data: new Uint8Array(77 * 8),
      }),
    );
    expect(() => buildClipTextGraph(cfg, src)).not.toThrow();
  });

  it('names a weight whose shape does not fit the config', () => {
    expect(() => buildClipTextGraph({ ...cfg, intermediateSize: 40 }, weights)).toThrow(
      /text_model\.encoder\.layers\.0\.mlp\.fc1\.weight: expected \[40, 32\], got \[37, 32\]/,
    );
  });
});

describe('CLIP text encoder at SD1.5 size (shapes only)', () => {
  it('builds clip-vit-large-patch14 with 123 060 480 parameters', () => {
    const src = syntheticWeights();
    const t0 = performance.now();
    const graph = buildClipTextGraph(SD15_TEXT_ENCODER_CONFIG, src, { withLastHiddenState: true });
    const ms = performance.now() - t0;
    const params = graph.initializers
      .filter((i) => i.external)
      .reduce((s, i) => s + i.shape.reduce((p, d) => p * d, 1), 0);
    console.log(
      `SD1.5 text encoder: ${graph.nodes.length} nodes, ${params} params, built in ${ms.toFixed(1)} ms`,
    );
    expect(params).toBe(123_060_480);
    expect(src.tensors.length).toBe(196);
  });
});

describe('CLIP text encoder parity (tiny_sd, LDM single file)', () => {
  it('builds from the converted checkpoint with weights left in the file and matches both outputs', async () => {
    const ckpt = await loadTinyLdm();
    try {
      const ldmCfg = clipTextConfigFromJson(ckpt.configs.textEncoder);
      expect(ldmCfg).toEqual(cfg);
      const graph = buildClipTextGraph(
        ldmCfg,
        checkpointWeights(ckpt.components.textEncoder, () => 'ldm.safetensors'),
        {
          clipSkip: 2,
          withLastHiddenState: true,
        },
      );
      const res = await run(graph, { externalData: await ldmExternalData('ldm.safetensors') });
      const errs = {
        last_hidden_state: maxAbsDiff(res.last_hidden_state, ref(refs, 'last_hidden_state')),
        penultimate_final_ln: maxAbsDiff(res.prompt_embeds, ref(refs, 'penultimate_final_ln')),
      };
      console.log('CLIP LDM max abs errors', errs);
      expect(errs.last_hidden_state).toBeLessThan(TOL);
      expect(errs.penultimate_final_ln).toBeLessThan(TOL);
    } finally {
      await ckpt.close();
    }
  });
});
