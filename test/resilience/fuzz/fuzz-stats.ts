// Bookkeeping shared by the fuzz targets: each case must end in a correct result or a clear
// error (an expected error class, or a message that names something), never a crash (TypeError,
// RangeError, …), never longer than its time box; and the heap must stay under a cap.

export interface FuzzStats {
  target: string;
  cases: number;
  results: number;
  clearErrors: number;
  failed: number;
  /** The first few failures, for the report. */
  failures: string[];
  /** Slowest case and the growth of heap + external memory across the run (MiB). */
  slowestMs: number;
  memoryGrowthMiB: number;
}

export interface FuzzLimits {
  /** Per-case time box (ms). */
  caseMs: number;
  /** Largest allowed heapUsed + external growth over the whole target (MiB). */
  memoryCapMiB: number;
}

export const DEFAULT_LIMITS: FuzzLimits = { caseMs: 2000, memoryCapMiB: 256 };

// Errors that mean "a bug", not "a clear refusal".
const CRASH_TYPES = [TypeError, RangeError, ReferenceError, SyntaxError];

const memNow = () => {
  const m = process.memoryUsage();
  return (m.heapUsed + m.external) / 2 ** 20;
};

export class FuzzRun {
  readonly stats: FuzzStats;
  private readonly mem0 = memNow();
  private peak = 0;

  constructor(
    target: string,
    private readonly expected: readonly (abstract new (...a: never[]) => Error)[],
    private readonly limits: FuzzLimits = DEFAULT_LIMITS,
  ) {
    this.stats = {
      target,
      cases: 0,
      results: 0,
      clearErrors: 0,
      failed: 0,
      failures: [],
      slowestMs: 0,
      memoryGrowthMiB: 0,
    };
  }

  private fail(label: string, why: string): void {
    this.stats.failed++;
    if (this.stats.failures.length < 5) this.stats.failures.push(`${label}: ${why}`);
  }

  /** Is this a clear error: an expected class, or a plain Error whose message says something. */
  isClear(e: unknown): boolean {
    if (!(e instanceof Error)) return false;
    if (this.expected.some((cls) => e instanceof cls)) return e.message.length > 10;
    if (CRASH_TYPES.some((cls) => e instanceof cls)) return false;
    return (
      e.message.length > 10 &&
      !/cannot read prop|is not a function|is not iterable|\[object Object\]/i.test(e.message)
    );
  }

  /**
   * Run one case. `check` may verify a successful result (return a string to fail it).
   * `clear` may accept extra errors (e.g. sharp's own decode messages) as clear.
   */
  async case<T>(
    label: string,
    fn: () => T | Promise<T>,
    check?: (v: T) => string | undefined,
    clear?: (e: Error) => boolean,
  ): Promise<void> {
    this.stats.cases++;
    const t0 = performance.now();
    try {
      const v = await fn();
      const bad = check?.(v);
      if (bad) this.fail(label, bad);
      else this.stats.results++;
    } catch (e) {
      if (this.isClear(e) || (e instanceof Error && clear?.(e) === true)) this.stats.clearErrors++;
      else
        this.fail(
          label,
          `unclear error ${(e as Error)?.name}: ${String((e as Error)?.message ?? e)}`,
        );
    }
    const ms = performance.now() - t0;
    this.stats.slowestMs = Math.max(this.stats.slowestMs, ms);
    if (ms > this.limits.caseMs)
      this.fail(label, `took ${ms.toFixed(0)} ms (box ${this.limits.caseMs})`);
    if (this.stats.cases % 25 === 0) this.sampleMemory();
  }

  private sampleMemory(): void {
    this.peak = Math.max(this.peak, memNow() - this.mem0);
  }

  finish(): FuzzStats {
    this.sampleMemory();
    this.stats.memoryGrowthMiB = Math.round(this.peak * 10) / 10;
    if (this.peak > this.limits.memoryCapMiB)
      this.fail('memory', `grew ${this.peak.toFixed(0)} MiB (cap ${this.limits.memoryCapMiB})`);
    return this.stats;
  }
}
