// REST-style aliases of the generation API: POST /generate → job id, GET /jobs/<id> → poll.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeGenerate } from '../service/fake-generate.js';
import { rawRequest, startHarness, type Harness } from './harness.js';

const TINY_SD = path.resolve('test/fixtures/tiny_sd');

describe('POST /generate and GET /jobs/<id>', () => {
  let h: Harness;
  const auth = () => ({ Authorization: `Bearer ${h.server.token}` });
  beforeAll(async () => {
    h = await startHarness({ generate: fakeGenerate().fn });
  });
  afterAll(async () => {
    await h.close();
  });

  it('starts a generation and polls it to done', async () => {
    const body = JSON.stringify({
      modelPath: TINY_SD,
      prompt: 'a fox',
      steps: 2,
      width: 64,
      height: 64,
    });
    const started = await rawRequest(h.server.port, {
      method: 'POST',
      path: '/generate',
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body,
    });
    expect(started.status).toBe(200);
    const { result } = started.json() as { result: { jobId: string } };
    expect(result.jobId).toMatch(/^generate-/);
    let job: { status: string; progress: number } = { status: 'queued', progress: 0 };
    for (let i = 0; i < 400 && job.status !== 'done'; i++) {
      const polled = await rawRequest(h.server.port, {
        path: `/jobs/${result.jobId}`,
        headers: auth(),
      });
      expect(polled.status).toBe(200);
      job = (polled.json() as { result: typeof job }).result;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(job).toMatchObject({ status: 'done', progress: 1 });
  });

  it('refuses requests without the token and wrong methods', async () => {
    const noToken = await rawRequest(h.server.port, { path: '/jobs/generate-1' });
    expect(noToken.status).toBe(401);
    const wrongMethod = await rawRequest(h.server.port, {
      method: 'GET',
      path: '/generate',
      headers: auth(),
    });
    expect(wrongMethod.status).toBe(405);
    const unknown = await rawRequest(h.server.port, { path: '/jobs/nope', headers: auth() });
    expect(unknown.status).toBe(404);
  });
});
