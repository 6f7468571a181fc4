// Generation benchmark (`npm run bench:generate`): generate() on the tiny SD fixture, CPU EP.
// Prints seconds per step and per image (20 steps, Euler a, CFG 7) for
//   1. a cold start (empty cache folder: hashing, graph builds, ORT optimisation),
//   2. a new engine on a filled cache folder (a relaunch: optimized models from disk),
//   3. a warm engine (sessions kept), batch 1 and batch 2,
// and LoRA costs: first load (read + convert + hash), swapping / re-weighting / stacking LoRAs on
// warm sessions (feeds only — the bench checks that no session is created), and a step with a
// LoRA applied. Options: --steps N (default 20), --size PX (default 64), --repeats N (default 3).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConvertedLora } from '../core/formats/index.js';
import {
  GenerationEngine,
  LoraInputs,
  generate,
  type GenerateOptions,
  type GenerateParams,
} from '../core/generate/index.js';
import { SD15_UNET_CONFIG, slotsFromSites, unetModuleSites } from '../core/models/index.js';
import { table, intArg } from './util.js';

const TINY = fileURLToPath(new URL('../test/fixtures/tiny_sd', import.meta.url));
const LORA = fileURLToPath(
  new URL('../test/fixtures/lora/lora_kohya.safetensors', import.meta.url),
);

const STEPS = intArg('steps', 20);
const SIZE = intArg('size', 64);
const REPEATS = intArg('repeats', 3);

interface Timing {
  /** Wall time of the generate() call, s. */
  total: number;
  /** Mean time per denoising step after the first, s. */
  perStep: number;
  /** From the call to the first step done (load + conditioning + step 1), s. */
  firstStep: number;
  images: number;
  sessionsCreated: number;
}

let run = 0;
async function timed(
  engine: GenerationEngine,
  over: Partial<GenerateParams>,
  out: string,
): Promise<Timing> {
  const params: GenerateParams = {
    modelPath: TINY,
    prompt: 'a photograph of an astronaut riding a horse',
    negativePrompt: 'blurry',
    sampler: 'Euler a',
    steps: STEPS,
    cfgScale: 7,
    seed: 42,
    width: SIZE,
    height: SIZE,
    batchCount: 1,
    batchSize: 1,
    clipSkip: 1,
    loras: [],
    ep: 'cpu',
    outputDir: join(out, `run${run++}`),
    ...over,
  };
  const stepTimes: number[] = [];
  const opts: GenerateOptions = {
    onProgress: (p) => {
      if (p.step > 0) stepTimes.push(performance.now());
    },
  };
  const created = engine.stats.sessionsCreated;
  const t0 = performance.now();
  const images = await generate(engine, params, opts);
  const total = performance.now() - t0;
  const steady = stepTimes.slice(1);
  const perStep =
    steady.length > 1 ? (steady[steady.length - 1] - stepTimes[0]) / steady.length : NaN;
  return {
    total: total / 1000,
    perStep: perStep / 1000,
    firstStep: (stepTimes[0] - t0) / 1000,
    images: images.length,
    sessionsCreated: engine.stats.sessionsCreated - created,
  };
}

/** Feed building for a rank-32 LoRA on every kohya target of the SD1.5 UNet (192 modules). */
function sd15SwapRows(): (string | number)[][] {
  const slots = slotsFromSites(unetModuleSites(SD15_UNET_CONFIG));
  const rank = 32;
  const lora: ConvertedLora = {
    format: 'kohya',
    modules: slots.map((sl) => ({
      component: 'unet' as const,
      module: sl.module,
      source: sl.module,
      rank,
      alpha: 16,
      alphaFromFile: true,
      down: {
        shape: [rank, sl.inFeatures],
        data: new Float32Array(rank * sl.inFeatures).fill(0.01),
      },
      up: {
        shape: [sl.outFeatures, rank],
        data: new Float32Array(sl.outFeatures * rank).fill(0.01),
      },
    })),
    unsupported: [],
    unknownKeys: [],
    metadata: {},
  };
  const inputs = new LoraInputs(slots, 'unet');
  const rows: (string | number)[][] = [];
  for (const [label, set] of [
    ['apply one', [{ lora, name: 'a', strength: 0.8 }]],
    ['re-weight', [{ lora, name: 'a', strength: 0.5 }]],
    [
      'stack two',
      [
        { lora, name: 'a', strength: 0.5 },
        { lora, name: 'a', strength: 0.3 },
      ],
    ],
    ['remove all', []],
  ] as const) {
    const t = performance.now();
    inputs.feedsFor(set);
    rows.push([
      `SD1.5 UNet (${slots.length} modules, r${rank}): ${label}`,
      s(performance.now() - t, 1),
    ]);
  }
  return rows;
}

const s = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '—');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'lora-studio-bench-gen-'));
  const cache = join(root, 'cache');
  try {
    console.log(
      `generate() on tiny_sd, CPU EP, ${SIZE}×${SIZE}, ${STEPS} steps, Euler a, CFG 7 — ` +
        `${cpus().length} cores, load ${loadavg()[0].toFixed(1)}`,
    );
    const rows: (string | number)[][] = [];
    const add = (label: string, t: Timing) =>
      rows.push([
        label,
        s(t.total),
        s(t.total / t.images),
        s(t.firstStep),
        s(t.perStep, 4),
        t.sessionsCreated,
      ]);

    // 1. Cold: nothing cached.
    const cold = new GenerationEngine({ cacheDir: cache });
    add('cold start (empty cache)', await timed(cold, {}, root));
    // 3. Warm engine, repeated.
    const warm: Timing[] = [];
    for (let i = 0; i < REPEATS; i++) warm.push(await timed(cold, { seed: 100 + i }, root));
    const pick = (xs: Timing[]) => xs.find((t) => t.total === median(xs.map((x) => x.total)))!;
    add(`warm engine, batch 1 (median of ${REPEATS})`, pick(warm));
    add('warm engine, batch 2', await timed(cold, { batchSize: 2 }, root));
    await cold.dispose();

    // 2. A relaunch: new engine, cache folder filled.
    const relaunch = new GenerationEngine({ cacheDir: cache });
    add('new engine, filled cache', await timed(relaunch, {}, root));

    // LoRA on the warm relaunch engine: first load, then swaps = new feeds for warm sessions.
    const model = await relaunch.model(TINY);
    let t = performance.now();
    const loaded = await relaunch.lora(LORA, model);
    const loadMs = performance.now() - t;
    const unet = await relaunch.session('unet', model, {
      ep: 'cpu',
      latentHeight: SIZE / 8,
      latentWidth: SIZE / 8,
    });
    const use = (strength: number) => ({ lora: loaded.lora, name: 'bench', strength });
    const sets: [string, ReturnType<typeof use>[]][] = [
      ['apply one at 0.8', [use(0.8)]],
      ['re-weight to 0.5', [use(0.5)]],
      ['stack two (0.5 + 0.3)', [use(0.5), use(0.3)]],
      ['remove all', []],
    ];
    const loraRows: (string | number)[][] = [['first use: read + convert + hash', s(loadMs, 1)]];
    for (const [label, set] of sets) {
      t = performance.now();
      unet.lora!.feedsFor(set);
      loraRows.push([`tiny UNet (128 modules): ${label}`, s(performance.now() - t, 2)]);
    }
    loraRows.push(...sd15SwapRows());
    const before = relaunch.stats.sessionsCreated;
    await timed(relaunch, { loras: [{ path: LORA, strength: 0.5 }], steps: 1 }, root);
    await timed(
      relaunch,
      {
        loras: [
          { path: LORA, strength: 0.9 },
          { path: LORA, strength: 0.1 },
        ],
        steps: 1,
      },
      root,
    );
    if (relaunch.stats.sessionsCreated !== before)
      throw new Error('a LoRA change created a session; LoRAs must only change feeds');
    const withLora = await timed(relaunch, { loras: [{ path: LORA, strength: 0.8 }] }, root);
    const without = await timed(relaunch, {}, root);
    add('warm, one LoRA applied', withLora);
    add('warm, no LoRA', without);
    await relaunch.dispose();

    console.log(
      '\n' +
        table(['run', 'total s', 's/image', 'to step 1 s', 's/step', 'sessions created'], rows),
    );
    console.log(
      '\nLoRA changes on warm sessions (feeds only; two swaps through generate() created no session)\n' +
        table(['change', 'ms'], loraRows),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
