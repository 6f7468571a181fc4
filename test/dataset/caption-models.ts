// Tiny random-weight stand-ins for the captioning models, built with our graph builder and
// written as ONNX files with the real models' input/output names and shapes:
//   WD14 tagger: input [N, 448, 448, 3] (NHWC BGR 0–255) → output [N, tags] sigmoid.
//   BLIP vision: pixel_values [N, 3, 384, 384] → last_hidden_state [N, 577, hidden].
//   BLIP merged decoder: input_ids, attention_mask, encoder_hidden_states,
//     past_key_values.0.{key,value}, use_cache_branch → logits, present.0.{key,value}.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import { attr } from '../../core/graph/ir.js';
import { writeModel } from '../../core/onnx/index.js';

/** Deterministic pseudo-random numbers in [-scale, scale). */
export function randomWeights(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const save = (g: GraphBuilder, file: string) => {
  writeFileSync(file, writeModel(g.build()));
  return file;
};

/** Strided conv + global mean + linear + Sigmoid over an NHWC image. */
export function writeTinyTagger(dir: string, tags: number, seed = 7, size = 448): string {
  const g = new GraphBuilder('tiny-wd14');
  const x = g.input('input', 'float32', ['batch', size, size, 3]);
  const nchw = g.op('Transpose', [x], { perm: attr.ints([0, 3, 1, 2]) });
  const ch = 4;
  const k = 32;
  const w = g.constant(randomWeights(ch * 3 * k * k, seed, 2e-4), 'float32', [ch, 3, k, k]);
  const conv = g.op('Conv', [nchw, w], {
    kernel_shape: attr.ints([k, k]),
    strides: attr.ints([k, k]),
  });
  const pooled = g.op('ReduceMean', [conv, g.ints([2, 3])], { keepdims: attr.int(0) });
  const lin = g.constant(randomWeights(ch * tags, seed + 1, 3), 'float32', [ch, tags]);
  const bias = g.constant(randomWeights(tags, seed + 2, 1), 'float32', [tags]);
  const logits = g.op('Add', [g.op('MatMul', [pooled, lin]), bias]);
  g.output(g.op('Sigmoid', [logits]), 'output');
  return save(g, join(dir, 'tagger.onnx'));
}

export const TINY_HIDDEN = 8;
const HEADS = 2;
const HEAD_DIM = TINY_HIDDEN / HEADS;

/** 16×16 patches → hidden, with a mean "CLS" token in front: [N, 577, hidden]. */
export function writeTinyBlipVision(dir: string, seed = 11, size = 384): string {
  const g = new GraphBuilder('tiny-blip-vision');
  const x = g.input('pixel_values', 'float32', ['batch', 3, size, size]);
  const p = 16;
  const w = g.constant(randomWeights(TINY_HIDDEN * 3 * p * p, seed, 0.05), 'float32', [
    TINY_HIDDEN,
    3,
    p,
    p,
  ]);
  const conv = g.op('Conv', [x, w], {
    kernel_shape: attr.ints([p, p]),
    strides: attr.ints([p, p]),
  });
  const n = (size / p) ** 2;
  const flat = g.op('Reshape', [conv, g.ints([0, TINY_HIDDEN, n])]);
  const tokens = g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });
  const cls = g.op('ReduceMean', [tokens, g.ints([1])], { keepdims: attr.int(1) });
  g.output(g.op('Concat', [cls, tokens], { axis: attr.int(1) }), 'last_hidden_state');
  return save(g, join(dir, 'vision_model.onnx'));
}

export interface TinyDecoderOptions {
  vocabSize: number;
  seed?: number;
  /**
   * token id → the id the model should say next: added to the logits with weight 100, so the
   * greedy output is that chain (random attention noise stays far smaller).
   */
  successor?: ReadonlyMap<number, number>;
  /** Leave out the cache inputs/outputs (a plain, non-merged decoder). */
  noCache?: boolean;
}

function heads(g: GraphBuilder, h: Value, w: Value): Value {
  const proj = g.op('MatMul', [h, w]);
  const split = g.op('Reshape', [proj, g.ints([0, 0, HEADS, HEAD_DIM])]);
  return g.op('Transpose', [split], { perm: attr.ints([0, 2, 1, 3]) });
}

/** One attention layer over its own tokens (with the cache) plus the image's mean state. */
export function writeTinyBlipDecoder(dir: string, o: TinyDecoderOptions): string {
  const V = o.vocabSize;
  const seed = o.seed ?? 5;
  const g = new GraphBuilder('tiny-blip-decoder');
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total']);
  const enc = g.input('encoder_hidden_states', 'float32', ['batch', 'enc', TINY_HIDDEN]);
  const emb = g.constant(randomWeights(V * TINY_HIDDEN, seed, 1), 'float32', [V, TINY_HIDDEN]);
  const h = g.op('Add', [
    g.op('Gather', [emb, ids], { axis: attr.int(0) }),
    g.op('ReduceMean', [enc, g.ints([1])], { keepdims: attr.int(1) }),
  ]);
  const wk = g.constant(randomWeights(TINY_HIDDEN ** 2, seed + 1, 0.5), 'float32', [8, 8]);
  const wv = g.constant(randomWeights(TINY_HIDDEN ** 2, seed + 2, 0.5), 'float32', [8, 8]);
  const wq = g.constant(randomWeights(TINY_HIDDEN ** 2, seed + 3, 0.5), 'float32', [8, 8]);
  let k = heads(g, h, wk);
  let v = heads(g, h, wv);
  let branch: Value | undefined;
  if (!o.noCache) {
    const pastShape = ['batch', HEADS, 'past', HEAD_DIM];
    const pk = g.input('past_key_values.0.key', 'float32', pastShape);
    const pv = g.input('past_key_values.0.value', 'float32', pastShape);
    branch = g.input('use_cache_branch', 'bool', [1]);
    k = g.op('Concat', [pk, k], { axis: attr.int(2) });
    v = g.op('Concat', [pv, v], { axis: attr.int(2) });
    g.output(k, 'present.0.key');
    g.output(v, 'present.0.value');
  }
  const q = heads(g, h, wq);
  const scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) })]);
  // Masked positions get -10000, as BERT does.
  const keep = g.cast(mask, 'float32');
  const bias = g.op('Mul', [g.op('Sub', [g.constant(1), keep]), g.constant(-10000)]);
  const bias4 = g.op('Unsqueeze', [bias, g.ints([1, 2])]);
  const probs = g.op('Softmax', [g.op('Add', [scores, bias4])], { axis: attr.int(-1) });
  const ctx = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: attr.ints([0, 2, 1, 3]) });
  const merged = g.op('Reshape', [ctx, g.ints([0, 0, TINY_HIDDEN])]);
  const wo = g.constant(randomWeights(TINY_HIDDEN * V, seed + 4, 0.5), 'float32', [8, V]);
  let logits = g.op('MatMul', [merged, wo]);
  if (o.successor) {
    const table = new Array<number>(V * V).fill(0);
    for (const [from, to] of o.successor) table[from * V + to] = 100;
    const t = g.constant(table, 'float32', [V, V]);
    logits = g.op('Add', [logits, g.op('Gather', [t, ids], { axis: attr.int(0) })]);
  }
  // The merged export's branch flag picks a subgraph; here it only has to be consumed.
  if (branch)
    logits = g.op('Add', [logits, g.op('Mul', [g.cast(branch, 'float32'), g.constant(0)])]);
  g.output(logits, 'logits');
  return save(
    g,
    join(dir, o.noCache ? 'text_decoder_model.onnx' : 'text_decoder_model_merged.onnx'),
  );
}

/** A BERT-style vocabulary with BLIP's [DEC] token at the end. */
export const TINY_VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'a',
  'picture',
  'of',
  'cat',
  'dog',
  '##s',
  'sitting',
  'on',
  'the',
  'sofa',
  '.',
  ',',
  "'",
  'un',
  '##believ',
  '##able',
  'caf',
  '##e',
  '[DEC]',
];
export const tinyId = (t: string) => {
  const i = TINY_VOCAB.indexOf(t);
  if (i < 0) throw new Error(`"${t}" is not in TINY_VOCAB`);
  return i;
};

/** selected_tags.csv with ratings (9), general (0) and character (4) rows. */
export const TINY_TAGS_CSV = [
  'tag_id,name,category,count',
  '9999999,general,9,800000',
  '9999998,sensitive,9,400000',
  '9999997,questionable,9,100000',
  '9999996,explicit,9,90000',
  '470575,1girl,0,4000000',
  '212816,solo,0,3000000',
  '13197,long_hair,0,2500000',
  '402,^_^,0,8000',
  '15080,open_mouth,0,12',
  '1221,hatsune_miku,4,90000',
  '387,blue_eyes,0,900000',
].join('\n');
