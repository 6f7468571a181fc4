// The one implementation of the contract. Electron IPC and the loopback HTTP server both call
// `dispatch`, so validation, error mapping and events are identical on every transport.
import {
  apiMethods,
  API_METHOD_NAMES,
  isApiMethodName,
  type Api,
  type ApiError,
  type ApiEvent,
  type ApiEventListener,
  type ApiInput,
  type ApiMethodName,
  type ApiOutput,
} from '../api.js';
import { openStore, type Store } from '../store/index.js';
import { ServiceError, formatZodError, toApiError } from './errors.js';
import { appVersion } from './package-info.js';
import { libraryHandlers } from './library-handlers.js';
import { gridFilePath, libraryLoraHandlers } from './library-lora-handlers.js';
import { trainingHandlers } from './training-handlers.js';
import { markInterruptedRuns, trainingJobHandlers } from './training-jobs.js';
import { generateHandlers, generationImageFile } from './generate-handlers.js';
import { datasetHandlers, imageThumbnailFile } from './dataset-handlers.js';
import { captionHandlers } from './caption-handlers.js';
import { datasetResultHandlers } from './dataset-results.js';
import { modelHandlers } from './model-handlers.js';
import { settingsHandlers } from './settings-handlers.js';
import { demoHandlers } from './demo-handlers.js';
import { JobRunner } from './jobs.js';
import { createDefaultGenerate, type GenerateFn } from './default-generate.js';
import type { Handler, Handlers, ServiceContext } from './context.js';

const handlers: Handlers = {
  ...libraryHandlers,
  ...libraryLoraHandlers,
  ...trainingHandlers,
  ...trainingJobHandlers,
  ...generateHandlers,
  ...datasetHandlers,
  ...captionHandlers,
  ...datasetResultHandlers,
  ...modelHandlers,
  ...settingsHandlers,
  ...demoHandlers,
};

export interface ApiServiceOptions {
  dataDir: string;
  /** An already open store (the caller keeps ownership); otherwise one is opened in dataDir. */
  store?: Store;
  appVersion?: string;
  electronVersion?: string | null;
  /** The image pipeline; default: core/generate on a lazily created engine. */
  generate?: GenerateFn;
}

export type DispatchResult = { ok: true; result: unknown } | { ok: false; error: ApiError };

export interface ApiService extends Api {
  readonly dataDir: string;
  readonly store: Store;
  readonly appVersion: string;
  /** Runs `method` on untrusted input; never throws (failures come back as ApiError). */
  dispatch(method: string, input: unknown): Promise<DispatchResult>;
  emit(event: ApiEvent): void;
  /** The PNG of a generations row (for serve mode's file route), or null if it is gone. */
  generationImagePath(id: number): Promise<string | null>;
  /** An imported image's WebP thumbnail (for serve mode's file route), or null. */
  imageThumbnailPath(id: number): Promise<string | null>;
  /** A saved grid's sheet (or cell) PNG (for serve mode's file route), or null. */
  gridImagePath(id: string, cell?: number): Promise<string | null>;
  /** Cancels jobs, releases the engine; closes the store if the service opened it. */
  close(): void;
}

export function createApiService(opts: ApiServiceOptions): ApiService {
  const store = opts.store ?? openStore(opts.dataDir);
  // No job of this new service can be running yet: rows that say so were left by a dead process.
  markInterruptedRuns(store);
  const ownsStore = !opts.store;
  const version = opts.appVersion ?? appVersion();
  const listeners = new Set<ApiEventListener>();

  const emit = (event: ApiEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // A broken subscriber (e.g. a closed socket) must not stop the others or the caller.
      }
    }
  };

  const jobs = new JobRunner({ emit });
  const pipeline = opts.generate
    ? { generate: opts.generate, dispose() {} }
    : createDefaultGenerate(opts.dataDir, () => store.settings.getAll());

  const ctx: ServiceContext = {
    store,
    jobs,
    generate: pipeline.generate,
    dataDir: opts.dataDir,
    appVersion: version,
    electronVersion: opts.electronVersion ?? null,
    emit,
    changed: (entity, ids) =>
      emit({ status: 'changed', entity, ids, at: new Date().toISOString() }),
    // `service` is defined below; these run only after createApiService has returned.
    api: {
      call: (method, input) => service.call(method, input),
      onEvent: (listener) => service.onEvent(listener),
    },
  };

  async function run(method: string, rawInput: unknown): Promise<unknown> {
    if (!isApiMethodName(method)) {
      throw new ServiceError(
        'not_found',
        `unknown method "${method}" (valid: ${API_METHOD_NAMES.join(', ')})`,
      );
    }
    // Transports send nothing for input-less calls; treat that as {}.
    const schema = apiMethods[method].input;
    const parsed = schema.safeParse(rawInput ?? {}, { reportInput: true });
    if (!parsed.success) {
      throw new ServiceError('bad_request', `${method}: ${formatZodError(parsed.error, schema)}`);
    }
    const handler = handlers[method] as Handler<ApiMethodName>;
    return handler(parsed.data as never, ctx);
  }

  const service: ApiService = {
    dataDir: opts.dataDir,
    store,
    appVersion: version,

    async call<M extends ApiMethodName>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      try {
        return (await run(method, input)) as ApiOutput<M>;
      } catch (err) {
        if (err instanceof ServiceError) throw err;
        const e = toApiError(err);
        throw new ServiceError(e.code, e.message);
      }
    },

    async dispatch(method, input) {
      try {
        return { ok: true, result: await run(method, input) };
      } catch (err) {
        const error = toApiError(err);
        if (error.code === 'internal') {
          emit({
            status: 'log',
            level: 'error',
            message: `${method}: ${error.message}`,
            at: new Date().toISOString(),
          });
        }
        return { ok: false, error };
      }
    },

    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    emit,

    generationImagePath: (id) => generationImageFile(store, id),

    imageThumbnailPath: (id) => imageThumbnailFile(store, opts.dataDir, id),

    gridImagePath: (id, cell) => gridFilePath(opts.dataDir, id, cell),

    close() {
      jobs.close();
      pipeline.dispose();
      listeners.clear();
      if (ownsStore) store.close();
    },
  };
  return service;
}
