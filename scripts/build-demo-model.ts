// Builds assets/demo-model: the tiny SD1.x-architecture base model the demo trains a LoRA on.
//   npx tsx scripts/build-demo-model.ts [--out assets/demo-model] [--vae-steps N] [--unet-steps N]
//                                       [--seed N] [--fp16] [--threads N] [--snapshot-every N]
//                                       [--from <earlier build: keep its VAE, continue its UNet>]
//                                       [--check-only]
// Then it generates one image per checked prompt with the normal generation path and prints
// whether the colours and shapes came out as asked (see core/demo/image-stats.ts).
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoBaseModel, DEFAULT_BUILD_BASE, checkDemoModel } from '../core/demo/index.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'assets/demo-model' },
    'vae-steps': { type: 'string' },
    'unet-steps': { type: 'string' },
    'per-combination': { type: 'string' },
    seed: { type: 'string' },
    threads: { type: 'string' },
    'snapshot-every': { type: 'string' },
    from: { type: 'string' },
    fp16: { type: 'boolean', default: false },
    'check-only': { type: 'boolean', default: false },
  },
});
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
const t0 = performance.now();
if (!values['check-only']) {
  const report = await buildDemoBaseModel({
    outDir: values.out!,
    seed: num(values.seed, DEFAULT_BUILD_BASE.seed),
    vaeSteps: num(values['vae-steps'], DEFAULT_BUILD_BASE.vaeSteps),
    unetSteps: num(values['unet-steps'], DEFAULT_BUILD_BASE.unetSteps),
    perCombination: num(values['per-combination'], DEFAULT_BUILD_BASE.perCombination),
    float16: values.fp16!,
    threads: num(values.threads, DEFAULT_BUILD_BASE.threads),
    snapshotEvery: num(values['snapshot-every'], 0),
    ...(values.from ? { from: values.from } : {}),
    onLog: (l) => console.log(l),
  });
  console.log(JSON.stringify(report));
}
const cache = await mkdtemp(join(tmpdir(), 'demo-check-'));
try {
  const check = await checkDemoModel(values.out!, {
    cacheDir: cache,
    outputDir: join(cache, 'out'),
  });
  for (const r of check.results) console.log(`${r.ok ? 'ok  ' : 'MISS'} ${r.prompt} → ${r.got}`);
  console.log(
    `colour+background right: ${check.colorAccuracy}; shape right: ${check.shapeAccuracy}`,
  );
} finally {
  await rm(cache, { recursive: true, force: true });
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
