// Settings the image pipeline follows: CPU threads for the sessions it creates next and
// whether sessions stay loaded between generations (keep-model-warm).
import type { Settings } from '../api.js';

/** The part of GenerationEngine the settings drive (a structural type: no engine import). */
export interface ConfigurableEngine {
  configure(opts: { keepWarm?: boolean; intraOpNumThreads?: number }): void;
}

/** cpuThreads 0 lets onnxruntime choose; keepModelWarm false releases sessions after each job. */
export function applyEngineSettings(
  engine: ConfigurableEngine,
  settings: Pick<Settings, 'cpuThreads' | 'keepModelWarm'>,
): void {
  engine.configure({
    keepWarm: settings.keepModelWarm,
    intraOpNumThreads: settings.cpuThreads,
  });
}
