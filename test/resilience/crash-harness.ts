// Crash-kill harness: a real training run on the tiny SD model in a child process, killed with
// SIGKILL at seeded moments — at named fault points (core/faults: cache writes, inside an atomic
// file write, mid-step, before a step's DB commit, checkpoint, export) and after random delays.
// After each kill the data dir must be sound (SQLite integrity, every visible safetensors file
// complete, the newest state valid) and the next child must resume from the last complete
// checkpoint; each episode ends with a child that finishes, whose LoRA must equal an
// uninterrupted run's. Shared by test/resilience/crash-kill.test.ts and the report command.
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DB_FILE_NAME, openDatabase } from '../../core/store/index.js';
import { latestTrainState, runDirOf } from '../../core/train/index.js';
import { checkDataDir, filesUnder, loraTensors, maxDiff } from './crash-checks.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';
import { mulberry32 } from './rng.js';

const CHILD = join(import.meta.dirname, 'crash-child.ts');
const CHILD_TIMEOUT_MS = 120_000;

export interface KillRecord {
  episode: number;
  /** `<fault point>@<n>` or `timer+<ms>`. */
  target: string;
  /** The last fault point the child passed (where the kill landed). */
  landedAfter: string;
  /** Steps the killed child had finished (its last progress), and where the next one resumed. */
  stepAtKill: number;
  resumedFrom: number;
  stepsLost: number;
  /** Problems found after this kill (empty = survived). */
  problems: string[];
}

export interface CrashReport {
  kills: KillRecord[];
  survived: number;
  episodes: number;
  /** Largest |Δ| between an episode's final LoRA and the uninterrupted run's, per episode. */
  finalMaxDiff: number[];
  /**
   * Orphan `*.tmp` files left by kills inside atomic writes (invisible to readers) at the end of
   * the episodes: in run folders (a resume removes them, so 0) and elsewhere (caches, loras).
   */
  orphanTmpFiles: { runs: number; other: number };
  problems: string[];
  seconds: number;
}

interface ChildOutcome {
  killed: boolean;
  code: number | null;
  lastFault: string;
  progress: number;
  checkpoints: number[];
  resume: number | undefined;
  donePath?: string;
  stderr: string;
}

/** Run one child; `stopSpec` freezes it at a fault point (then killed), `timerMs` kills later. */
function runChild(
  dataDir: string,
  cfgPath: string,
  kill: { stopSpec?: string; timerMs?: number },
  startStep = 0,
): Promise<ChildOutcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, LORA_STUDIO_FAULT_TRACE: '1' };
  if (kill.stopSpec) env.LORA_STUDIO_FAULT_STOP = kill.stopSpec;
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, cfgPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  const out: ChildOutcome = {
    killed: false,
    code: null,
    lastFault: 'start',
    progress: startStep,
    checkpoints: [],
    resume: undefined,
    stderr: '',
  };
  const killNow = () => {
    if (out.killed) return;
    out.killed = true;
    child.kill('SIGKILL');
  };
  let buf = '';
  child.stderr.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [tag, arg] = line.split(' ');
      if (tag === '@@fault') out.lastFault = arg;
      else if (tag === '@@stopped') {
        out.lastFault = `${arg} (frozen)`;
        killNow();
      } else if (tag === '@@resume') {
        out.resume = Number(arg);
        if (out.progress < out.resume) out.progress = out.resume;
      } else if (tag === '@@progress') out.progress = Number(arg);
      else if (tag === '@@checkpoint') out.checkpoints.push(Number(arg));
      else if (tag === '@@done') out.donePath = arg;
      else out.stderr += `${line}\n`;
    }
  });
  const timer = kill.timerMs !== undefined ? setTimeout(killNow, kill.timerMs) : undefined;
  const guard = setTimeout(() => {
    out.stderr += `child ran past ${CHILD_TIMEOUT_MS} ms\n`;
    killNow();
  }, CHILD_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(guard);
      out.code = code;
      resolve(out);
    }),
  );
}

export interface CrashHarnessOptions {
  kills: number;
  seed: number;
  /** Kills per episode (a fresh data dir, so cache phases come round again). */
  killsPerEpisode?: number;
  steps?: number;
  /** Episodes run side by side (default 2). */
  parallel?: number;
  log?: (line: string) => void;
}

const EVERY = 2; // checkpoint every 2 steps

interface EpisodeState {
  /** Steps of the newest checkpoint on disk (what the next child resumes from). */
  resumeStep: number;
  cacheMissesLeft: number;
  /** Kill kinds still to do this round. */
  queue: string[];
}

const CACHE_ITEMS = 8; // 4 latents + 4 caption embeddings of the tiny dataset

const KINDS = [
  'step',
  'db-commit',
  'checkpoint',
  'checkpoint-write',
  'export',
  'export-write',
  'exported',
  'timer',
] as const;

/**
 * A kill target for the next child, given where the run stands. Each episode first kills during
 * caching, then works through the other phases in a seeded order (each once before any twice).
 */
function chooseTarget(
  rnd: () => number,
  e: EpisodeState,
  steps: number,
  every: number,
): { stopSpec?: string; timerMs?: number; label: string } {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const left = steps - e.resumeStep;
  const ckptsLeft: number[] = [];
  for (let s = e.resumeStep + 1; s < steps; s++) if (s % every === 0) ckptsLeft.push(s);
  if (e.queue.length === 0) {
    const q: string[] = [...KINDS];
    for (let i = q.length - 1; i > 0; i--) {
      const j = int(0, i);
      [q[i], q[j]] = [q[j], q[i]];
    }
    e.queue.push(...q);
  }
  const available = (k: string) =>
    (!k.startsWith('cache') || e.cacheMissesLeft > 0) &&
    (!k.startsWith('checkpoint') || ckptsLeft.length > 0);
  const at = e.queue.findIndex(available);
  const kind = at >= 0 ? e.queue.splice(at, 1)[0] : 'timer';
  const writesBefore = e.cacheMissesLeft;
  const spec = (s: string) => ({ stopSpec: s, label: s });
  switch (kind) {
    case 'cache':
      return spec(`cache.put@${int(1, e.cacheMissesLeft)}`);
    case 'cache-write':
      return spec(`safetensors.write@${int(1, e.cacheMissesLeft)}`);
    case 'step':
      return spec(`train.step@${int(1, left)}`);
    case 'db-commit':
      return spec(`train.db-commit@${int(1, left)}`);
    case 'checkpoint':
      return spec(`train.checkpoint@${int(1, ckptsLeft.length)}`);
    case 'checkpoint-write': {
      // Each checkpoint writes the LoRA, then the state file.
      return spec(`safetensors.write@${writesBefore + int(1, 2 * ckptsLeft.length)}`);
    }
    case 'export':
      return spec('train.export@1');
    case 'export-write':
      return spec(`safetensors.write@${writesBefore + 2 * ckptsLeft.length + 1}`);
    case 'exported':
      return spec('train.exported@1');
    default: {
      const ms = int(500, 6000);
      return { timerMs: ms, label: `timer+${ms}ms` };
    }
  }
}

export async function runCrashHarness(o: CrashHarnessOptions): Promise<CrashReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const steps = o.steps ?? 6;
  const perEpisode = o.killsPerEpisode ?? 10;
  const { root, dataDir: base } = await makeTinyDataset();
  const cfgPath = join(base, '..', 'run.json');
  await writeFile(
    cfgPath,
    JSON.stringify(tinyConfig(root, { max_train_steps: steps, save_every_n_steps: EVERY })),
  );
  const report: CrashReport = {
    kills: [],
    survived: 0,
    episodes: 0,
    finalMaxDiff: [],
    orphanTmpFiles: { runs: 0, other: 0 },
    problems: [],
    seconds: 0,
  };
  // The uninterrupted run with the same seed, alongside the first episodes (2 cores: children
  // mostly wait on one thread each while they build graphs and sessions).
  const reference = runChild(`${base}-reference`, cfgPath, {}).then(async (ref) => {
    if (ref.code !== 0 || !ref.donePath)
      throw new Error(`reference run failed (exit ${ref.code}): ${ref.stderr}`);
    log(`reference run: ${steps} steps → ${ref.donePath}`);
    return loraTensors(ref.donePath);
  });
  const episodes = Math.ceil(o.kills / perEpisode);
  const parallel = o.parallel ?? 2;
  let next = 0;
  const worker = async () => {
    while (next < episodes) {
      const ep = ++next;
      const kills = Math.min(perEpisode, o.kills - (ep - 1) * perEpisode);
      await runEpisode({ ep, kills, base, cfgPath, steps, seed: o.seed, report, reference, log });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, episodes) }, worker));
  report.kills.sort((a, b) => a.episode - b.episode);
  report.episodes = episodes;
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

interface EpisodeInput {
  ep: number;
  kills: number;
  base: string;
  cfgPath: string;
  steps: number;
  seed: number;
  report: CrashReport;
  reference: Promise<Map<string, Float32Array>>;
  log: (line: string) => void;
}

/** A fresh data dir: `kills` killed children, then one that finishes; every kill checked. */
async function runEpisode(x: EpisodeInput): Promise<void> {
  const { ep, steps, report, log } = x;
  const rnd = mulberry32(x.seed * 1000 + ep);
  const dataDir = `${x.base}-episode${ep}`;
  const e: EpisodeState = {
    resumeStep: 0,
    cacheMissesLeft: CACHE_ITEMS,
    // Phases that only come round early in an episode go first.
    queue: ['cache', 'cache-write', 'checkpoint', 'checkpoint-write'],
  };
  let killsHere = 0;
  // Kills whose resume point is not known yet (a child killed before it reports its start
  // leaves its predecessor's record open too).
  let pending: KillRecord[] = [];
  let lastCheckpoint = 0;
  for (;;) {
    const wantKill = killsHere < x.kills;
    const target = wantKill ? chooseTarget(rnd, e, steps, EVERY) : { label: 'none' };
    // A child killed before it reports its start has done no step past the newest checkpoint.
    const c = await runChild(dataDir, x.cfgPath, target, e.resumeStep);
    if (c.resume === undefined && !c.killed)
      report.problems.push(`episode ${ep}: a child failed before it started: ${c.stderr.trim()}`);
    if (c.resume !== undefined) {
      for (const p of pending) {
        p.resumedFrom = c.resume;
        p.stepsLost = p.stepAtKill - p.resumedFrom;
        if (c.resume < lastCheckpoint || c.resume > p.stepAtKill)
          p.problems.push(
            `resumed from step ${c.resume}; the last complete checkpoint was ${lastCheckpoint}`,
          );
        if (p.problems.length === 0) report.survived++;
        log(
          `episode ${ep} [${p.target}] after ${p.landedAfter}: step ${p.stepAtKill} → ` +
            `resumed at ${p.resumedFrom}, ${p.stepsLost} lost` +
            (p.problems.length ? `; ${p.problems.join('; ')}` : ''),
        );
      }
      pending = [];
    }
    lastCheckpoint = Math.max(lastCheckpoint, ...c.checkpoints);
    if (!c.killed) {
      await finishEpisode(x, dataDir, c);
      if (wantKill) log(`episode ${ep}: a child finished before its kill (${target.label})`);
      // A kill target the child never reached: the run is done, the episode too.
      return;
    }
    killsHere++;
    const rec: KillRecord = {
      episode: ep,
      target: target.label,
      landedAfter: c.lastFault,
      stepAtKill: c.progress,
      resumedFrom: -1,
      stepsLost: 0,
      problems: await checkDataDir(dataDir),
    };
    report.kills.push(rec);
    pending.push(rec);
    const latest = await latestTrainState(runDirOf(dataDir, 1));
    e.resumeStep = latest?.step ?? 0;
    e.cacheMissesLeft = await cacheMissesLeft(dataDir);
  }
}

/** The finished run: one final LoRA equal to the reference, every step recorded once. */
async function finishEpisode(x: EpisodeInput, dataDir: string, c: ChildOutcome): Promise<void> {
  const { ep, report, steps } = x;
  if (c.code !== 0 || !c.donePath) {
    report.problems.push(`episode ${ep}: child exited ${c.code}: ${c.stderr.trim()}`);
    return;
  }
  const names = (await readdir(join(dataDir, 'loras'))).filter((n) => n.endsWith('.safetensors'));
  if (names.length !== 1)
    report.problems.push(`episode ${ep}: loras folder holds ${names.join(', ')} (expected one)`);
  const d = maxDiff(await loraTensors(c.donePath), await x.reference);
  report.finalMaxDiff.push(d);
  if (!(d < 1e-5))
    report.problems.push(`episode ${ep}: final LoRA differs by ${d} from the reference`);
  const db = openDatabase(join(dataDir, DB_FILE_NAME), { readonly: true });
  const rows = db.prepare('SELECT step FROM run_steps WHERE run_id = 1 ORDER BY step').all();
  const arts = db.prepare('SELECT path FROM artifacts WHERE run_id = 1').all();
  const status = db.prepare('SELECT status FROM training_runs WHERE id = 1').get() as {
    status: string;
  };
  db.close();
  const got = rows.map((r) => (r as { step: number }).step).join(',');
  const want = Array.from({ length: steps }, (_, i) => i).join(',');
  if (got !== want) report.problems.push(`episode ${ep}: run_steps rows ${got}, expected ${want}`);
  const finals = arts.filter((a) => (a as { path: string }).path.includes('/loras/'));
  if (finals.length !== 1)
    report.problems.push(`episode ${ep}: ${finals.length} artifacts rows for the final LoRA`);
  if (status.status !== 'completed')
    report.problems.push(`episode ${ep}: run status ${status.status}, expected completed`);
  const temps = (await filesUnder(dataDir)).filter((f) => f.endsWith('.tmp'));
  const inRuns = temps.filter((f) => f.startsWith(join(dataDir, 'runs'))).length;
  report.orphanTmpFiles.runs += inRuns;
  report.orphanTmpFiles.other += temps.length - inRuns;
}

async function cacheMissesLeft(dataDir: string): Promise<number> {
  try {
    const db = openDatabase(join(dataDir, DB_FILE_NAME), { readonly: true });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM train_cache').get() as { n: number }).n;
    db.close();
    return Math.max(0, CACHE_ITEMS - n);
  } catch {
    return CACHE_ITEMS;
  }
}
