// The training noise schedule in float32, reproduced bit for bit from torch 1.13 on CPU:
// betas, ᾱ (alphas_cumprod) and the training sigmas √((1−ᾱ)/ᾱ) every sampler is built on.
import type { NoiseScheduleConfig } from './types.js';

const f = Math.fround;

/**
 * `torch.linspace(start, end, steps, dtype=float32)` as torch 1.13's AVX2 CPU kernel computes
 * it: values below the halfway index count up from `start`, the rest down from `end`; blocks of
 * 8 start at `start + step·i` (a fused multiply-add) and add `k·step` per lane; the last
 * `steps mod 16` values take the same formula element-wise. (Newer torch is element-wise
 * throughout and can differ by 1 ulp.)
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // One rounding of an exact float64 product plus a float32: the FMA the compiler emits.
  const at = (i: number): number => (i < halfway ? f(s + step * i) : f(e - step * (steps - i - 1)));
  const vectorEnd = steps - (steps % 16);
  for (let i = 0; i < vectorEnd; i += 8) {
    const base = at(i);
    for (let k = 0; k < 8; k++) out[i + k] = f(base + k * step);
  }
  for (let i = vectorEnd; i < steps; i++) out[i] = at(i);
  return out;
}

/** `betas` of diffusers' DDPM-family schedulers, float32. */
export function makeBetas(cfg: NoiseScheduleConfig): Float32Array {
  const n = cfg.numTrainTimesteps;
  if (cfg.betaSchedule === 'linear') return torchLinspaceF32(cfg.betaStart, cfg.betaEnd, n);
  // scaled_linear: linear in √β, then squared (torch's `** 2` is x·x).
  const roots = torchLinspaceF32(Math.sqrt(cfg.betaStart), Math.sqrt(cfg.betaEnd), n);
  return roots.map((r) => f(r * r));
}

export interface TrainSchedule {
  readonly betas: Float32Array;
  /** ᾱ_t = Π(1 − β), index t = 0 … T−1. */
  readonly alphasCumprod: Float32Array;
  /** σ_t = √((1 − ᾱ_t)/ᾱ_t), increasing with t. */
  readonly sigmas: Float32Array;
  /** ln σ_t in float32, as numpy's `np.log` on the float32 array. */
  readonly logSigmas: Float32Array;
}

const cache = new Map<string, TrainSchedule>();

/** The schedule for a config, computed once per distinct config (arrays are shared: read only). */
export function trainSchedule(cfg: NoiseScheduleConfig): TrainSchedule {
  const key = `${cfg.betaSchedule}:${cfg.betaStart}:${cfg.betaEnd}:${cfg.numTrainTimesteps}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const betas = makeBetas(cfg);
  const n = betas.length;
  const alphasCumprod = new Float32Array(n);
  // torch's CPU cumprod accumulates float32 inputs in float64 and rounds each output.
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= f(1 - betas[i]);
    alphasCumprod[i] = acc;
  }
  const sigmas = alphasCumprod.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
  const logSigmas = sigmas.map((s) => f(Math.log(s)));
  const schedule = Object.freeze({ betas, alphasCumprod, sigmas, logSigmas });
  cache.set(key, schedule);
  return schedule;
}
