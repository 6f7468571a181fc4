// `npm run resilience [-- --long] [-- --seed N] [-- --skip-crash]`: the resilience figures of
// issue #11 — kills survived and steps lost (crash-kill harness), fuzz cases run/failed per
// target, faults injected/survived and security checks passed (the test/resilience files, run
// through vitest). The bounded variants run in CI as test/resilience/*.test.ts; --long does more.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { table } from '../bench/util.js';
import { runCrashHarness } from '../test/resilience/crash-harness.js';
import { fuzzApi } from '../test/resilience/fuzz/api-target.js';
import type { FuzzStats } from '../test/resilience/fuzz/fuzz-stats.js';
import { fuzzImageDecode, fuzzImageImport } from '../test/resilience/fuzz/image-target.js';
import { fuzzCheckpoints, fuzzLoras } from '../test/resilience/fuzz/safetensors-target.js';
import { fuzzPngParameters, fuzzPrompts } from '../test/resilience/fuzz/text-target.js';
import { CRASH_SEED, FUZZ_SEED } from '../test/resilience/seeds.js';
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js';

const long = process.argv.includes('--long');
const seedAt = process.argv.indexOf('--seed');
const seed = seedAt >= 0 ? Number(process.argv[seedAt + 1]) : undefined;
if (seed !== undefined && !Number.isInteger(seed)) throw new Error('--seed must be an integer');
const k = long ? 5 : 1;

async function crash(): Promise<void> {
  const r = await runCrashHarness({
    kills: long ? 60 : 20,
    seed: seed ?? CRASH_SEED,
    log: long ? (l) => console.log(`  ${l}`) : undefined,
  });
  const lost = r.kills.map((x) => x.stepsLost);
  console.log(`\nCrash-kill (kill -9 of a real training run, tiny SD model, CPU)`);
  console.log(
    table(
      ['figure', 'value'],
      [
        ['kills survived / total', `${r.survived} / ${r.kills.length}`],
        ['episodes (fresh data dirs), each ended by a full run', r.episodes],
        ['steps lost per kill', lost.join(' ')],
        [
          'steps lost: mean / max',
          `${(lost.reduce((a, b) => a + b, 0) / lost.length).toFixed(2)} / ${Math.max(...lost)}`,
        ],
        [
          'final LoRA max |Δ| vs uninterrupted run',
          r.finalMaxDiff.map((d) => d.toExponential(1)).join(' '),
        ],
        [
          'orphan temp files left: run folders / caches+loras',
          `${r.orphanTmpFiles.runs} / ${r.orphanTmpFiles.other}`,
        ],
        ['problems', r.problems.length + r.kills.flatMap((x) => x.problems).length],
        ['seconds', r.seconds.toFixed(0)],
      ],
    ),
  );
  const landed = new Map<string, number>();
  for (const x of r.kills) {
    const at = x.landedAfter.replace(/@\d+/, '').replace(' (frozen)', '');
    landed.set(at, (landed.get(at) ?? 0) + 1);
  }
  console.log(table(['kill landed at', 'kills'], [...landed].sort()));
}

async function fuzz(): Promise<void> {
  const dir = makeTempDir();
  const s = seed ?? FUZZ_SEED;
  const all: FuzzStats[] = [];
  try {
    all.push(await fuzzCheckpoints(dir, 300 * k, s));
    all.push(await fuzzLoras(800 * k, s));
    all.push(await fuzzImageDecode(200 * k, s));
    all.push(await fuzzImageImport(dir, 40 * k, s + 1));
    all.push(await fuzzPngParameters(300 * k, s));
    all.push(await fuzzPrompts(300 * k, s));
    all.push(await fuzzApi(300 * k, s));
  } finally {
    removeDir(dir);
  }
  console.log(
    `\nFuzzing (fast-check, seed ${s}; a case fails on a crash, an unclear error or a time box)`,
  );
  console.log(
    table(
      ['target', 'cases', 'results', 'clear errors', 'failed', 'slowest ms', 'heap+ MiB'],
      all.map((f) => [
        f.target,
        f.cases,
        f.results,
        f.clearErrors,
        f.failed,
        f.slowestMs.toFixed(0),
        f.memoryGrowthMiB,
      ]),
    ),
  );
  for (const f of all) for (const why of f.failures) console.log(`  FAILED ${f.target}: ${why}`);
}

interface VitestJson {
  testResults: { name: string; assertionResults: { status: string; title: string }[] }[];
}

/** Fault-injection and security tests through vitest; counts per file. */
function faultsAndSecurity(): void {
  const out = join(tmpdir(), `resilience-${process.pid}.json`);
  const files = [
    'test/resilience/faults-numeric.test.ts',
    'test/resilience/faults-resources.test.ts',
    'test/resilience/security.test.ts',
  ];
  spawnSync('npx', ['vitest', 'run', ...files, '--reporter=json', `--outputFile=${out}`], {
    stdio: 'ignore',
  });
  const json = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  rmSync(out, { force: true });
  const count = (name: string) => {
    const tests = json.testResults
      .filter((t) => t.name.includes(name))
      .flatMap((t) => t.assertionResults);
    return {
      total: tests.length,
      passed: tests.filter((t) => t.status === 'passed').length,
      tests,
    };
  };
  const faults = [count('faults-numeric'), count('faults-resources')];
  const security = count('security.test');
  console.log(`\nFault injection and security`);
  console.log(
    table(
      ['figure', 'value'],
      [
        ['numerical faults injected / survived', `${faults[0].total} / ${faults[0].passed}`],
        ['resource faults injected / survived', `${faults[1].total} / ${faults[1].passed}`],
        ['security checks passed / total', `${security.passed} / ${security.total}`],
      ],
    ),
  );
  for (const f of [...faults, security])
    for (const t of f.tests) if (t.status !== 'passed') console.log(`  FAILED ${t.title}`);
}

const t0 = performance.now();
if (!process.argv.includes('--skip-crash')) await crash();
await fuzz();
faultsAndSecurity();
console.log(
  `\nresilience report${long ? ' (--long)' : ''} in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
