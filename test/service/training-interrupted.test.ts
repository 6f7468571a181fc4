// Runs a dead process left `running` or `queued` become `interrupted` when a service starts (no
// job of the new process can be working on them); other statuses are left alone. The resume
// from the Train screen is test/e2e/train-interrupted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunStatus } from '../../core/api.js';
import { createApiService } from '../../core/service/index.js';
import { openStore } from '../../core/store/index.js';
import { apiConfigOf, parseRunConfig } from '../../core/train/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

describe('interrupted runs at service start', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('marks running and queued runs interrupted, saying why; leaves the others', () => {
    const store = openStore(dir);
    const config = apiConfigOf(
      parseRunConfig({ pretrained_model_name_or_path: 'm', train_data_dir: 'd' }),
      10,
    );
    const statuses: RunStatus[] = ['running', 'queued', 'paused', 'completed', 'failed', 'draft'];
    const ids = statuses.map((status) => {
      const r = store.runs.create({ name: status, datasetId: null, baseModelId: null, config });
      store.runs.update(r.id, { status });
      return r.id;
    });
    store.close();
    const service = createApiService({ dataDir: dir });
    try {
      const after = ids.map((id) => service.store.runs.get(id)!);
      expect(after.map((r) => r.status)).toEqual([
        'interrupted',
        'interrupted',
        'paused',
        'completed',
        'failed',
        'draft',
      ]);
      expect(after[0].error).toMatch(/interrupted: the app stopped while the run was running/);
      expect(after[1].error).toMatch(/while the run was queued/);
      expect(after[2].error).toBeNull();
    } finally {
      service.close();
    }
  });
});
