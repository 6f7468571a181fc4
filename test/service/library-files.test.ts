// Saved grids over serve mode's file route (`/files/grids/<id>[/<cell>].png`, token required,
// ids only: nothing in the URL becomes a path), and the settings the engine follows.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveGrid } from '../../core/library/index.js';
import { applyEngineSettings, type ConfigurableEngine } from '../../core/service/model-settings.js';
import { rawRequest, startHarness, type Harness } from '../server/harness.js';
import { solidPng } from './fake-generate.js';

describe('GET /files/grids', () => {
  let h: Harness;
  let id: string;
  beforeAll(async () => {
    h = await startHarness();
    const png = Buffer.from(await solidPng(8, 8));
    fs.writeFileSync(path.join(h.dir, 'secret.png'), png);
    const grid = await saveGrid(
      h.dir,
      { loraModelId: 1, kind: 'before-after', seed: 1, settings: {} },
      {
        png,
        width: 8,
        height: 8,
        columns: ['a'],
        cells: [{ prompt: 'p', strength: 1, seed: 1, image: png }],
      },
    );
    id = grid.id;
  });
  afterAll(() => h.close());
  const get = (p: string, auth = true) =>
    rawRequest(h.server.port, {
      path: p,
      headers: auth ? { Authorization: `Bearer ${h.server.token}` } : {},
    });

  it('serves the sheet and a cell with the token, refuses without it', async () => {
    const sheet = await get(`/files/grids/${id}.png`);
    expect([sheet.status, sheet.headers['content-type']]).toEqual([200, 'image/png']);
    expect((await get(`/files/grids/${id}/0.png`)).status).toBe(200);
    expect((await get(`/files/grids/${id}.png`, false)).status).toBe(401);
  });

  it('answers 404 for unknown cells, other ids and traversal attempts', async () => {
    for (const p of [
      `/files/grids/${id}/1.png`,
      '/files/grids/1234567890123-deadbeef.png',
      `/files/grids/${id}/../../secret.png`,
      '/files/grids/..%2Fsecret.png',
      '/files/grids/secret.png',
    ]) {
      expect((await get(p)).status, p).toBe(404);
    }
  });
});

describe('applyEngineSettings', () => {
  it('passes keep-model-warm and CPU threads (0 = ORT chooses) to the engine', () => {
    const seen: unknown[] = [];
    const engine: ConfigurableEngine = { configure: (o) => seen.push(o) };
    applyEngineSettings(engine, { keepModelWarm: false, cpuThreads: 2 });
    applyEngineSettings(engine, { keepModelWarm: true, cpuThreads: 0 });
    expect(seen).toEqual([
      { keepWarm: false, intraOpNumThreads: 2 },
      { keepWarm: true, intraOpNumThreads: 0 },
    ]);
  });
});
