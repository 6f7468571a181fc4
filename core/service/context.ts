// What every handler receives, and the typed shape of the handler table.
import type {
  Api,
  ApiEvent,
  ApiMethodName,
  ApiOutput,
  ApiParsedInput,
  StoreEntity,
} from '../api.js';
import type { Store } from '../store/index.js';
import type { GenerateFn } from './generation-job.js';
import type { JobRunner } from './jobs.js';

export interface ServiceContext {
  readonly store: Store;
  readonly dataDir: string;
  readonly appVersion: string;
  readonly electronVersion: string | null;
  emit(event: ApiEvent): void;
  /** Tells every UI that rows of `entity` changed, so it refetches. */
  changed(entity: StoreEntity, ids: number[]): void;
  /** The queue of long work (one job at a time). */
  readonly jobs: JobRunner;
  /** The image pipeline (a dependency, so tests and other hosts can supply their own). */
  readonly generate: GenerateFn;
  /** The service itself as a client, for coordinator jobs (the demo) that call other methods. */
  readonly api: Api;
}

export type Handler<M extends ApiMethodName> = (
  input: ApiParsedInput<M>,
  ctx: ServiceContext,
) => ApiOutput<M> | Promise<ApiOutput<M>>;

/** One handler per contract method; the compiler flags a missing one. */
export type Handlers = { [M in ApiMethodName]: Handler<M> };
