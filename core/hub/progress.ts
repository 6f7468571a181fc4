// Transfer progress: throttled, monotonic, with speed over a sliding window and an ETA.
// Monotonic even when a server ignores a Range request and the transfer restarts from byte 0:
// then nothing is reported until the new transfer passes what was already shown.

export interface ProgressFigures {
  /** Bytes of the file on disk so far (a resumed prefix included). */
  loaded: number;
  /** The file's size when the server announced it. */
  total?: number;
  /** Percent 0…100 (transformers.js convention), when the total is known. */
  progress?: number;
  /** Bytes per second over the last few seconds. */
  speed: number;
  /** Seconds left at the current speed, when the total is known and data is flowing. */
  eta?: number;
}

const WINDOW_MS = 5000;

export class ProgressTracker {
  private reported = -1;
  private saidComplete = false;
  private lastEmit = -Infinity;
  private received = 0;
  private readonly samples: [number, number][] = [];

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Count bytes that arrived over the network (not a resumed prefix) for the speed. */
  addReceived(bytes: number): void {
    this.received += bytes;
    const t = this.now();
    this.samples.push([t, this.received]);
    while (this.samples.length > 2 && t - this.samples[0][0] > WINDOW_MS) this.samples.shift();
  }

  speed(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  /**
   * Figures to report for `loaded`, or undefined when it is too soon since the last report or
   * `loaded` has not passed what was reported already. `force` skips the time throttle.
   */
  next(loaded: number, total: number | undefined, force = false): ProgressFigures | undefined {
    // A final report may repeat the last `loaded` once, to add the 100 % it lacked.
    const completes = force && total !== undefined && loaded === total && !this.saidComplete;
    if (loaded < this.reported || (loaded === this.reported && !completes)) return undefined;
    const t = this.now();
    if (!force && t - this.lastEmit < this.intervalMs) return undefined;
    this.lastEmit = t;
    this.reported = loaded;
    const speed = this.speed();
    const figures: ProgressFigures = { loaded, speed };
    if (total !== undefined && total > 0) {
      figures.total = total;
      figures.progress = Math.min(100, (loaded / total) * 100);
      if (speed > 0) figures.eta = Math.max(0, (total - loaded) / speed);
    } else if (total === 0) {
      figures.total = 0;
      figures.progress = 100;
    }
    this.saidComplete = figures.progress === 100;
    return figures;
  }

  /** The highest `loaded` reported so far (-1 before the first report). */
  get lastReported(): number {
    return this.reported;
  }
}
