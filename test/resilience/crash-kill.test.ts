// kill -9 at ≥ 20 seeded moments of a real training run (tiny SD model, CPU, child processes):
// after every kill the data dir is sound and the next child resumes from the last complete
// checkpoint; every finished episode's LoRA equals the uninterrupted run's.
import { describe, expect, it } from 'vitest';
import { FAULT_POINTS } from '../../core/faults/index.js';
import { runCrashHarness, type CrashReport } from './crash-harness.js';

import { CRASH_SEED } from './seeds.js';

describe('crash-kill harness', () => {
  let report: CrashReport;

  it('survives 20 kills spread over caching, steps, DB commits, checkpoints and export', async () => {
    report = await runCrashHarness({ kills: 20, seed: CRASH_SEED });
    const lost = report.kills.map((k) => k.stepsLost);
    for (const k of report.kills)
      console.log(
        `  episode ${k.episode} [${k.target}] after ${k.landedAfter}: ${k.stepsLost} lost`,
      );
    console.log(
      `crash-kill: ${report.survived}/${report.kills.length} kills survived in ` +
        `${report.seconds.toFixed(0)} s; steps lost per kill ${lost.join(' ')}; ` +
        `orphan temp files: ${report.orphanTmpFiles.runs} in run folders, ` +
        `${report.orphanTmpFiles.other} elsewhere`,
    );
    expect(report.problems).toEqual([]);
    expect(report.kills.flatMap((k) => k.problems)).toEqual([]);
    expect(report.kills.length).toBeGreaterThanOrEqual(20);
    expect(report.survived).toBe(report.kills.length);
    // The steps lost never exceed one checkpoint interval (2) plus the step in flight.
    for (const k of report.kills) expect(k.stepsLost).toBeLessThanOrEqual(2);
    expect(report.finalMaxDiff.length).toBe(report.episodes);
    for (const d of report.finalMaxDiff) expect(d).toBeLessThan(1e-5);
    // A resume removes the half-written checkpoints a kill left in its run folder.
    expect(report.orphanTmpFiles.runs).toBe(0);
  }, 600_000);

  it('froze the child at every fault point at least once', () => {
    const frozen = new Set(
      report.kills
        .filter((k) => k.landedAfter.endsWith('(frozen)'))
        .map((k) => k.target.split('@')[0]),
    );
    expect([...frozen].sort()).toEqual([...FAULT_POINTS].sort());
  });
});
