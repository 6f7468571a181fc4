// LoRA training benchmark on the CPU EP (`npm run bench:train`): steps/s and peak RSS of the
// engine's training loop (step session + in-graph AdamW, state kept as device tensors) on the
// tiny SD fixture UNet, for a few batch/resolution cases, plus the text encoder trained inside the
// step graph and LoCon (conv_dim 2). Prints figures; not a test.
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { countFlops } from '../core/graph/index.js';
import { openSafetensors } from '../core/formats/index.js';
import {
  clipTextConfigFromJson,
  readSafetensorsWeights,
  unetConfigFromJson,
  type WeightSource,
} from '../core/models/index.js';
import type { HostTensor } from '../core/onnx/index.js';
import { buildTrainStepGraph, initLoraParams, LoraTrainer } from '../core/train/index.js';

const UNET_DIR = fileURLToPath(new URL('../test/fixtures/tiny_sd/unet/', import.meta.url));
const TE_DIR = fileURLToPath(new URL('../test/fixtures/tiny_sd/text_encoder/', import.meta.url));

async function weightsOf(file: string): Promise<WeightSource> {
  const f = await openSafetensors(file);
  try {
    return await readSafetensorsWeights(f);
  } finally {
    await f.close();
  }
}
const STEPS = 30;

function wave(n: number, k: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3 * Math.cos(i * 0.7 * k)));
}

const rssGiB = () => process.resourceUsage().maxRSS / 2 ** 20;

async function main(): Promise<void> {
  const cfg = unetConfigFromJson(JSON.parse(await readFile(`${UNET_DIR}config.json`, 'utf8')));
  const weights = await weightsOf(`${UNET_DIR}diffusion_pytorch_model.safetensors`);
  const teConfig = clipTextConfigFromJson(
    JSON.parse(await readFile(`${TE_DIR}config.json`, 'utf8')) as Record<string, unknown>,
  );
  const teWeights = await weightsOf(`${TE_DIR}model.safetensors`);
  console.log(
    `train benchmark — tiny SD UNet (${cfg.blockOutChannels.join('/')}), kohya targets r4, CPU EP, ` +
      `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
  );
  const rows: string[][] = [
    ['case', 'build ms', 'sessions ms', 'steps/s', 'GFLOP/s', 'loss first→last', 'peak RSS GiB'],
  ];
  for (const [batch, latent, variant] of [
    [1, 8, ''],
    [2, 16, ''],
    [4, 32, ''],
    [2, 16, 'te'],
    [2, 16, 'locon'],
  ] as const) {
    const t0 = performance.now();
    const te = variant === 'te';
    const built = buildTrainStepGraph({
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 4, ...(variant === 'locon' && { conv: { rank: 2, alpha: 1 } }) },
      textEncoder: te ? { config: teConfig, weights: teWeights } : undefined,
      batch,
      height: latent,
      width: latent,
    });
    const t1 = performance.now();
    const trainer = await LoraTrainer.create(built, initLoraParams(built.modules, 0), {
      schedule: { name: 'constant', lr: 1e-3 },
    });
    const t2 = performance.now();
    const n = batch * 4 * latent * latent;
    const feeds: Record<string, HostTensor> = {
      latents: { dtype: 'float32', shape: [batch, 4, latent, latent], data: wave(n, 0.37) },
      noise: { dtype: 'float32', shape: [batch, 4, latent, latent], data: wave(n, 0.91) },
      timesteps: {
        dtype: 'int64',
        shape: [batch],
        data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(100 + 200 * i)),
      },
    };
    if (te)
      feeds.input_ids = {
        dtype: 'int64',
        shape: [batch, 77],
        data: BigInt64Array.from({ length: batch * 77 }, (_, i) => BigInt(i % 77 < 9 ? 10 + i : 2)),
      };
    else
      feeds.encoder_hidden_states = {
        dtype: 'float32',
        shape: [batch, 77, cfg.crossAttentionDim],
        data: wave(batch * 77 * cfg.crossAttentionDim, 0.11),
      };
    await trainer.step(feeds); // first run: ORT allocations
    const losses: number[] = [];
    const t3 = performance.now();
    for (let i = 0; i < STEPS; i++) losses.push((await trainer.step(feeds)).loss);
    const secs = (performance.now() - t3) / 1000;
    await trainer.release();
    const flops = countFlops(built.graph).total;
    rows.push([
      `batch ${batch}, ${latent * 8}² (latent ${latent}²)${variant ? ` + ${variant === 'te' ? 'text encoder' : 'LoCon 2'}` : ''}`,
      (t1 - t0).toFixed(0),
      (t2 - t1).toFixed(0),
      (STEPS / secs).toFixed(1),
      ((flops * STEPS) / secs / 1e9).toFixed(2),
      `${losses[0].toFixed(3)}→${losses[STEPS - 1].toFixed(3)}`,
      rssGiB().toFixed(2),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const [k, r] of rows.entries()) {
    console.log(
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '),
    );
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(
    `\n(${STEPS} timed steps per case after one untimed; peak RSS is the process maximum so far)`,
  );
}

await main();
