// The service's default image pipeline: core/generate on one GenerationEngine, created on the
// first generation (the engine keeps sessions warm between jobs, so it lives as long as the
// service) and loaded lazily, so opening the app does not load the model stack.
import path from 'node:path';
import type { GenerationEngine, generate as generateImages } from '../generate/index.js';
import type { Settings } from '../api.js';
import type { GenerateFn } from './generation-job.js';
import { applyEngineSettings } from './model-settings.js';

export type { GenerateFn };

export interface Pipeline {
  generate: GenerateFn;
  dispose(): void;
}

interface Loaded {
  engine: GenerationEngine;
  run: typeof generateImages;
}

/** Derived files (hash index, converted weights, optimised models) go to `<dataDir>/cache`. */
export function createDefaultGenerate(
  dataDir: string,
  settings?: () => Pick<Settings, 'cpuThreads' | 'keepModelWarm'>,
): Pipeline {
  let loaded: Promise<Loaded> | undefined;
  let disposed = false;
  const load = () => {
    loaded ??= import('../generate/index.js').then((mod) => ({
      engine: new mod.GenerationEngine({ cacheDir: path.join(dataDir, 'cache') }),
      run: mod.generate,
    }));
    // A failed import must not stick: the next job tries again.
    loaded.catch(() => (loaded = undefined));
    return loaded;
  };
  return {
    async generate(params, opts) {
      if (disposed) throw new Error('the image pipeline was shut down with the service');
      const { engine, run } = await load();
      if (settings) applyEngineSettings(engine, settings());
      return run(engine, params, opts);
    },
    dispose() {
      disposed = true;
      void loaded?.then(({ engine }) => engine.dispose()).catch(() => undefined);
    },
  };
}
