// Model loading benchmark (`npm run bench:models`). Prints:
//   1. the tiny SD fixture on the CPU EP through loadModelSessions: header read, weights
//      (hash / conversion), graph build, session creation and first run — cold (empty app data
//      dir) vs warm (converted weights and optimized models cached), for an fp32 checkpoint and
//      an fp16 copy of it;
//   2. full-size SD1.5 graphs built from shapes alone (synthetic weights, no data): build and
//      serialise time, nodes, parameters, GFLOP;
//   3. with --memory: how ORT holds external weights handed over as a file (what the loader does)
//      vs in memory — creation time, first run, resident memory — on SD1.5-sized synthetic weights,
//      each case in a fresh process (docs/decisions/0003-weights-without-copies.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertFloatBytes, openSafetensors, writeSafetensors } from '../core/formats/index.js';
import type { TensorToWrite } from '../core/formats/index.js';
import { countFlops, type Graph } from '../core/graph/index.js';
import {
  buildClipTextGraph,
  buildUnetGraph,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  loadModelSessions,
  MODEL_GRAPHS,
  SD15_TEXT_ENCODER_CONFIG,
  SD15_UNET_CONFIG,
  SD15_VAE_CONFIG,
  syntheticWeights,
  type ModelGraphName,
  type ModelSessions,
} from '../core/models/index.js';
import { Session, writeModel, type HostTensor } from '../core/onnx/index.js';
import { table } from './util.js';

const SELF = fileURLToPath(import.meta.url);
const TINY = fileURLToPath(
  new URL('../test/fixtures/tiny_sd/tiny_sd_ldm.safetensors', import.meta.url),
);
const TINY_CONFIGS = {
  unet: { norm_num_groups: 8 },
  vae: { norm_num_groups: 8 },
  textEncoder: { num_attention_heads: 4 },
};

const ms = (v: number) => v.toFixed(0);
const REPEATS = 3;
const wave = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));
const f32 = (shape: number[], data: Float32Array): HostTensor => ({
  dtype: 'float32',
  shape,
  data,
});

const TINY_FEEDS: Record<ModelGraphName, Record<string, HostTensor>> = {
  textEncoder: {
    input_ids: {
      dtype: 'int64',
      shape: [1, 77],
      data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt((i * 37) % 997)),
    },
  },
  unet: {
    sample: f32([1, 4, 8, 8], wave(256, 0.37)),
    timestep: f32([1], Float32Array.of(321)),
    encoder_hidden_states: f32([1, 77, 32], wave(77 * 32, 0.11)),
  },
  vaeEncoder: { image: f32([1, 3, 32, 32], wave(3 * 32 * 32, 0.05)) },
  vaeDecoder: { latents: f32([1, 4, 4, 4], wave(64, 0.7)) },
};

interface PassFigures {
  weights: string;
  cells: number[][]; // per graph: weights ms, build, session, first run
  cache: string[];
  total: number;
}

/** One load of the tiny checkpoint + a first run of each graph. */
async function tinyPass(path: string, cacheDir: string): Promise<PassFigures> {
  const m: ModelSessions = await loadModelSessions(path, { cacheDir, configs: TINY_CONFIGS });
  try {
    const cells: number[][] = [];
    const cache: string[] = [];
    let weights = '';
    for (const name of MODEL_GRAPHS) {
      const t = performance.now();
      await m.session(name).run(TINY_FEEDS[name]);
      const run = performance.now() - t;
      const g = m.report.graphs[name]!;
      const w = m.report.weights[name === 'vaeEncoder' || name === 'vaeDecoder' ? 'vae' : name]!;
      cells.push([w.ms, g.buildMs, g.session.createMs, run]);
      cache.push(g.session.cache);
      if (name === 'unet' || name === 'textEncoder' || name === 'vaeDecoder')
        weights = w.mode === 'checkpoint' ? 'in file' : `${w.cache}`;
    }
    const converted = m.report.convertedTensors;
    return {
      weights: `${weights}${converted ? `, ${converted} conv.` : ''}`,
      cells,
      cache,
      total: m.report.totalMs,
    };
  } finally {
    await m.release();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median of each figure over the passes, as table rows. */
function passRows(label: string, passes: PassFigures[]): (string | number)[][] {
  const rows: (string | number)[][] = MODEL_GRAPHS.map((name, i) => {
    const cell = (k: number) => median(passes.map((p) => p.cells[i][k]));
    const sum = [0, 1, 2, 3].reduce((s, k) => s + cell(k), 0);
    return [
      `${label} ${name}`,
      i === 0 ? passes[0].weights : '',
      ms(cell(0)),
      ms(cell(1)),
      `${ms(cell(2))} (${passes[0].cache[i]})`,
      ms(cell(3)),
      ms(sum),
    ];
  });
  rows.push([`${label}: whole load`, '', '', '', '', '', ms(median(passes.map((p) => p.total)))]);
  return rows;
}

async function writeFp16Copy(dest: string): Promise<void> {
  const f = await openSafetensors(TINY);
  const tensors: Record<string, TensorToWrite> = {};
  for (const n of f.names()) {
    const i = f.info(n);
    tensors[n] = {
      dtype: 'float16',
      shape: i.shape,
      data: convertFloatBytes(await f.read(n), i.dtype, 'float16'),
    };
  }
  await f.close();
  await writeSafetensors(dest, tensors);
}

async function tinyBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-models-'));
  try {
    // Warm up the JIT and ORT's one-time init so "cold" measures the caches, not the process.
    await tinyPass(TINY, join(work, 'scratch'));
    const fp16 = join(work, 'tiny-fp16.safetensors');
    await writeFp16Copy(fp16);
    const rows: (string | number)[][] = [];
    for (const [label, path] of [
      ['fp32', TINY],
      ['fp16', fp16],
    ] as const) {
      const cold: PassFigures[] = [];
      const warm: PassFigures[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const dir = join(work, `${label}-${i}`);
        cold.push(await tinyPass(path, dir));
        warm.push(await tinyPass(path, dir));
      }
      rows.push(...passRows(`${label} cold`, cold), ...passRows(`${label} warm`, warm));
    }
    console.log(
      `\n1. tiny_sd checkpoint → CPU sessions (ms, median of ${REPEATS}; cold = empty app data dir)\n`,
    );
    console.log(
      table(
        ['case', 'weights', 'weights ms', 'build', 'session (cache)', 'first run', 'sum'],
        rows,
      ),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function fullSizeBench(): void {
  const cases: { name: string; build: (src: ReturnType<typeof syntheticWeights>) => Graph }[] = [
    {
      name: 'text encoder (1×77)',
      build: (src) => buildClipTextGraph(SD15_TEXT_ENCODER_CONFIG, src, { batch: 1 }),
    },
    {
      name: 'UNet (1×4×64×64, 512²)',
      build: (src) => buildUnetGraph(SD15_UNET_CONFIG, src, { batch: 1, height: 64, width: 64 }),
    },
    {
      name: 'VAE encoder (512²)',
      build: (src) =>
        buildVaeEncoderGraph(SD15_VAE_CONFIG, src, { batch: 1, height: 512, width: 512 }),
    },
    {
      name: 'VAE decoder (64² → 512²)',
      build: (src) =>
        buildVaeDecoderGraph(SD15_VAE_CONFIG, src, { batch: 1, height: 64, width: 64 }),
    },
  ];
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const src = syntheticWeights();
    const t0 = performance.now();
    const graph = c.build(src);
    const t1 = performance.now();
    const bytes = writeModel(graph);
    const t2 = performance.now();
    const params = src.tensors.reduce((n, t) => n + t.shape.reduce((p, d) => p * d, 1), 0);
    const flops = countFlops(graph, { timestep_batch: 1 }).total;
    rows.push([
      c.name,
      ms(t1 - t0),
      ms(t2 - t1),
      (bytes.byteLength / 1024).toFixed(0),
      graph.nodes.length,
      src.tensors.length,
      (params / 1e6).toFixed(1),
      (flops / 1e9).toFixed(1),
    ]);
  }
  console.log('\n2. full-size SD1.5 graphs from shapes alone (fp32, synthetic weights, no data)\n');
  console.log(
    table(
      ['graph', 'build ms', 'serialise ms', 'model KiB', 'nodes', 'weights', 'M params', 'GFLOP'],
      rows,
    ),
  );
}

// ---- 3. File-mapped vs in-memory external data, each case in a fresh process ----

const MEMORY_CASES = [
  'file',
  'file-lowmem',
  'memory',
  'file-cache-cold',
  'file-cache-warm',
] as const;
type MemoryCase = (typeof MEMORY_CASES)[number];

function memoryGraph(
  model: string,
  location: string,
): { graph: Graph; blob: () => Uint8Array; feeds: Record<string, HostTensor> } {
  const src = syntheticWeights({ location, seed: 1 });
  if (model === 'clip') {
    return {
      graph: buildClipTextGraph(SD15_TEXT_ENCODER_CONFIG, src, { batch: 1 }),
      blob: () => src.blob(),
      feeds: TINY_FEEDS.textEncoder,
    };
  }
  return {
    graph: buildVaeDecoderGraph(SD15_VAE_CONFIG, src, { batch: 1, height: 16, width: 16 }),
    blob: () => src.blob(),
    feeds: { latents: f32([1, 4, 16, 16], wave(1024, 0.7)) },
  };
}

function procStatus(): { anon: number; hwm: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  return { anon: kb('RssAnon') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function memoryChild(model: string, mode: MemoryCase, dir: string): Promise<void> {
  const { graph, feeds } = memoryGraph(model, `${model}.bin`);
  const t0 = performance.now();
  // The in-memory case reads the file inside this closure, so the buffer can be collected after.
  const externalData = () =>
    mode === 'memory'
      ? {
          externalData: [
            { path: `${model}.bin`, data: new Uint8Array(readFileSync(join(dir, `${model}.bin`))) },
          ],
        }
      : { modelDir: dir };
  const s = await Session.create(graph, {
    ...externalData(),
    ...(mode === 'file-lowmem'
      ? { graphOptimizationLevel: 'extended' as const, sessionConfig: { disable_prepacking: '1' } }
      : {}),
    ...(mode.startsWith('file-cache') ? { cache: join(dir, `cache-${model}`) } : {}),
  });
  const create = performance.now() - t0;
  const afterCreate = procStatus();
  const t1 = performance.now();
  await s.run(feeds);
  const first = performance.now() - t1;
  const later: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await s.run(feeds);
    later.push(performance.now() - t);
  }
  const second = median(later);
  if (
    mode.startsWith('file-cache') &&
    s.info.cache !== (mode === 'file-cache-cold' ? 'miss' : 'hit')
  )
    throw new Error(
      `expected a cache ${mode === 'file-cache-cold' ? 'miss' : 'hit'}, got ${s.info.cache}`,
    );
  await s.release();
  console.log(
    JSON.stringify({ create, first, second, anon: afterCreate.anon, hwm: procStatus().hwm }),
  );
}

function memoryBench(): void {
  const dir = mkdtempSync(join(tmpdir(), 'bench-models-mem-'));
  try {
    const rows: (string | number)[][] = [];
    for (const model of ['clip', 'vae']) {
      const { blob } = memoryGraph(model, `${model}.bin`);
      const bytes = blob();
      writeFileSync(join(dir, `${model}.bin`), bytes);
      const mib = bytes.byteLength / 2 ** 20;
      for (const mode of MEMORY_CASES) {
        const r = spawnSync(
          process.execPath,
          [...process.execArgv, SELF, '--memory-child', model, mode, dir],
          {
            encoding: 'utf8',
          },
        );
        const line = r.stdout.trim().split('\n').pop() ?? '';
        if (r.status !== 0 || !line.startsWith('{')) {
          rows.push([
            `${model} ${mode}`,
            `failed: ${(r.stderr || line).split('\n')[0]}`,
            '',
            '',
            '',
            '',
            '',
          ]);
          continue;
        }
        const o = JSON.parse(line) as Record<string, number>;
        rows.push([
          `${model === 'clip' ? 'text encoder 1×77' : 'VAE decoder 16²→128²'} ${mode}`,
          mib.toFixed(0),
          ms(o.create),
          ms(o.first),
          ms(o.second),
          o.anon.toFixed(0),
          o.hwm.toFixed(0),
        ]);
      }
    }
    const cacheMiB = ['clip', 'vae'].map((model) => {
      const root = join(dir, `cache-${model}`);
      let bytes = 0;
      for (const e of readdirSync(root, { recursive: true, withFileTypes: true }))
        if (e.isFile()) bytes += statSync(join(e.parentPath, e.name)).size;
      return `${model === 'clip' ? 'text encoder' : 'VAE decoder'} ${(bytes / 2 ** 20).toFixed(0)} MiB`;
    });
    console.log(
      '\n3. SD1.5-sized weights handed to ORT: file under modelDir vs in-memory buffer (fresh process each)\n',
    );
    console.log(
      table(
        [
          'case',
          'weights MiB',
          'create ms',
          'run 1 ms',
          'later runs ms',
          'anon MiB after create',
          'peak RSS MiB',
        ],
        rows,
      ),
    );
    console.log(`optimized-model cache entries on disk: ${cacheMiB.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--memory-child') return memoryChild(argv[1], argv[2] as MemoryCase, argv[3]);
  console.log(
    `bench:models — onnxruntime-node CPU EP, node ${process.version}, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other work on the machine skews the timings)`,
  );
  await tinyBench();
  fullSizeBench();
  if (argv.includes('--memory')) memoryBench();
  else console.log('\n(run with --memory for the file-mapped vs in-memory weights comparison)');
}

await main();
