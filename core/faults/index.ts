// Fault injection for the resilience suite (test/resilience). Production code calls
// `faultPoint(name)` at the moments a crash matters (mid-step, inside a file write, before a DB
// commit) and `chargeDiskWrite(bytes, path)` before writing bytes. Both are no-ops unless a test
// arms them:
//   LORA_STUDIO_FAULT_TRACE=1          every fault point writes `@@fault <name>` to stderr
//   LORA_STUDIO_FAULT_STOP=<name>@<n>  the n-th time <name> is reached, report and freeze, so the
//                                      parent's kill -9 lands exactly there
//   setDiskBudget(bytes)               in-process: writes past the budget fail with ENOSPC
import { writeSync } from 'node:fs';

/** The named moments a crash test can stop at. */
export const FAULT_POINTS = [
  'cache.put', // a latent / text embedding about to be written
  'safetensors.write', // inside an atomic write: temp file holds the header only
  'train.step', // a step about to run
  'train.db-commit', // a step's row about to be committed
  'train.checkpoint', // a checkpoint about to be written
  'train.export', // the final LoRA about to be written
  'train.exported', // the final LoRA written and recorded, the run not yet marked completed
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

interface StopSpec {
  point: FaultPoint;
  nth: number;
}

function parseStop(spec: string | undefined): StopSpec | undefined {
  if (!spec) return undefined;
  const m = /^([a-z.-]+)@([1-9]\d*)$/.exec(spec);
  if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1]))
    throw new Error(
      `LORA_STUDIO_FAULT_STOP="${spec}" is not <point>@<n>; valid points: ${FAULT_POINTS.join(', ')}`,
    );
  return { point: m[1] as FaultPoint, nth: Number(m[2]) };
}

const trace = process.env.LORA_STUDIO_FAULT_TRACE === '1';
const stop = parseStop(process.env.LORA_STUDIO_FAULT_STOP);
const reached = new Map<FaultPoint, number>();

/** Mark a crash-relevant moment (free unless a test armed the env variables above). */
export function faultPoint(name: FaultPoint): void {
  if (!trace && !stop) return;
  const n = (reached.get(name) ?? 0) + 1;
  reached.set(name, n);
  // Synchronous write: the parent must see the line before the child moves on.
  if (trace) writeSync(2, `@@fault ${name}\n`);
  if (stop && stop.point === name && stop.nth === n) {
    writeSync(2, `@@stopped ${name}@${n}\n`);
    // Freeze (no event loop turn) until the parent's SIGKILL; give up after a minute.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  }
}

let diskBudget: number | undefined;

/**
 * Simulate a full disk (tests only): after `bytes` more bytes, writes that charge the budget fail
 * with ENOSPC. `undefined` gives the space back.
 */
export function setDiskBudget(bytes: number | undefined): void {
  diskBudget = bytes;
}

/** Called before writing `bytes` to `path`; throws an ENOSPC error once the budget is spent. */
export function chargeDiskWrite(bytes: number, path: string): void {
  if (diskBudget === undefined) return;
  if (bytes > diskBudget) {
    diskBudget = 0;
    const e = new Error(`ENOSPC: no space left on device, write '${path}'`) as Error & {
      code: string;
      path: string;
    };
    e.code = 'ENOSPC';
    e.path = path;
    throw e;
  }
  diskBudget -= bytes;
}
