// The HTTP protocol's failure modes and guards: auth, validation, limits, Host/Origin.
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiService } from '../../core/service/index.js';
import { startServer } from '../../core/server/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { rawRequest, startHarness, type Harness } from './harness.js';

interface ErrorBody {
  ok: false;
  error: { code: string; message: string };
}

describe('HTTP protocol', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('prints a loopback URL carrying a 64-hex-digit token', () => {
    expect(h.server.url).toBe(`http://127.0.0.1:${h.server.port}/?token=${h.server.token}`);
    expect(h.server.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 401 without a token', async () => {
    const res = await h.api('system.info', {}, { Authorization: '' });
    expect(res.status).toBe(401);
    expect((res.json() as ErrorBody).error.code).toBe('unauthorized');
  });

  it('answers 401 for a wrong token (same length and other lengths)', async () => {
    const wrong = 'f'.repeat(64) === h.server.token ? 'e'.repeat(64) : 'f'.repeat(64);
    for (const token of [wrong, 'short', `${h.server.token}x`]) {
      const res = await h.api('system.info', {}, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
    }
  });

  it('answers 400 naming the field for malformed input', async () => {
    const res = await h.api('datasets.get', { id: 'seven' });
    expect(res.status).toBe(400);
    const body = res.json() as ErrorBody;
    expect(body).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(body.error.message).toMatch(/^datasets\.get: id: .*"seven"/);
  });

  it('answers 400 naming a nested field and listing valid keys', async () => {
    const res = await h.api('runs.create', {
      name: 'r',
      datasetId: 1,
      baseModelId: 1,
      config: { rank: 8, colour: 'red' },
    });
    expect(res.status).toBe(400);
    expect((res.json() as ErrorBody).error.message).toMatch(/config: .*"colour".*valid: .*rank/);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await h.api('system.info', undefined, {});
    expect(res.status).toBe(200); // an empty body means {}
    const bad = await rawRequest(h.server.port, {
      method: 'POST',
      path: '/api/system.info',
      headers: { Authorization: `Bearer ${h.server.token}`, 'Content-Type': 'application/json' },
      body: '{"oops',
    });
    expect(bad.status).toBe(400);
    expect((bad.json() as ErrorBody).error.message).toMatch(/not valid JSON/);
  });

  it('answers 404 listing the valid methods for an unknown one', async () => {
    const res = await h.api('models.explode', {});
    expect(res.status).toBe(404);
    const body = res.json() as ErrorBody;
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toMatch(/"models\.explode".*valid: .*models\.list/);
  });

  it('answers 404 for a missing row and 409 for a duplicate', async () => {
    expect((await h.api('datasets.get', { id: 999_999 })).status).toBe(404);
    expect((await h.api('datasets.create', { name: 'twice' })).status).toBe(200);
    const dup = await h.api('datasets.create', { name: 'twice' });
    expect(dup.status).toBe(409);
    expect((dup.json() as ErrorBody).error.message).toMatch(/twice/);
  });

  it('answers 413 for a body over 1 MiB', async () => {
    const big = JSON.stringify({ name: 'x', description: 'a'.repeat(1024 * 1024 + 10) });
    const res = await h.api('datasets.create', JSON.parse(big));
    expect(res.status).toBe(413);
    expect((res.json() as ErrorBody).error.code).toBe('payload_too_large');
    // The server is still fine afterwards.
    expect((await h.api('system.info', {})).status).toBe(200);
  });

  it('answers 405 for GET on an API method and 415 for a non-JSON content type', async () => {
    const get = await rawRequest(h.server.port, {
      path: '/api/system.info',
      headers: { Authorization: `Bearer ${h.server.token}` },
    });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const form = await h.api('system.info', {}, { 'Content-Type': 'text/plain' });
    expect(form.status).toBe(415);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${h.server.port}`, '127.0.0.1:1']) {
      const res = await h.api('system.info', {}, { Host: host });
      expect(res.status).toBe(403);
      expect((res.json() as ErrorBody).error.message).toContain('Host');
    }
    expect((await h.api('system.info', {}, { Host: `localhost:${h.server.port}` })).status).toBe(
      200,
    );
  });

  it('refuses a foreign Origin and accepts its own', async () => {
    for (const origin of [
      'https://evil.example',
      'null',
      `http://127.0.0.1:${h.server.port + 1}`,
    ]) {
      const res = await h.api('system.info', {}, { Origin: origin });
      expect(res.status).toBe(403);
      expect((res.json() as ErrorBody).error.message).toContain('Origin');
    }
    const own = await h.api('system.info', {}, { Origin: h.server.origin });
    expect(own.status).toBe(200);
  });
});

describe('binding', () => {
  it('refuses any host but loopback, naming the valid ones', async () => {
    const dir = makeTempDir();
    const service = createApiService({ dataDir: dir });
    try {
      await expect(startServer({ service, host: '0.0.0.0' })).rejects.toThrow(
        /refusing to listen on "0.0.0.0".*valid: 127\.0\.0\.1/,
      );
      await expect(startServer({ service, port: 70000 })).rejects.toThrow(/port 70000/);
    } finally {
      service.close();
      removeDir(dir);
    }
  });

  it('listens on 127.0.0.1 only', async () => {
    const dir = makeTempDir();
    const service = createApiService({ dataDir: dir });
    const server = await startServer({ service });
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    const connects = (host: string) =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(server.port, host);
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    try {
      expect(server.origin).toBe(`http://127.0.0.1:${server.port}`);
      expect(await connects('127.0.0.1')).toBe(true);
      // Another interface of this machine must not reach it (skipped where there is none).
      if (external) expect(await connects(external)).toBe(false);
    } finally {
      await server.close();
      service.close();
      removeDir(dir);
    }
  });
});
