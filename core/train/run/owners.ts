// Which library rows a run trains on: the base model row with the checkpoint's path and the
// dataset row imported from the training folder, so a run started from a config (CLI, API)
// still records its dataset and model ids. Paths are compared resolved (no symlink resolution:
// the rows store what the user picked).
import { resolve } from 'node:path';
import type { Store } from '../../store/index.js';

export interface RunOwners {
  datasetId: number | null;
  baseModelId: number | null;
}

export function runOwnersOf(
  store: Store,
  c: { pretrained_model_name_or_path: string; train_data_dir: string },
): RunOwners {
  const model = resolve(c.pretrained_model_name_or_path);
  const data = resolve(c.train_data_dir);
  const byPath =
    store.models.getByPath(c.pretrained_model_name_or_path) ??
    store.models.list({ kind: 'checkpoint' }).find((m) => resolve(m.path) === model);
  const dataset = store.datasets.list().find((d) => d.sourceDir && resolve(d.sourceDir) === data);
  return { datasetId: dataset?.id ?? null, baseModelId: byPath?.id ?? null };
}
