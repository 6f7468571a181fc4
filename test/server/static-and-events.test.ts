// The renderer's static files (token → cookie, traversal refused) and the event WebSocket.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiEventSchema, type ApiEvent } from '../../core/api.js';
import { resolveStaticPath } from '../../core/server/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { makeRendererDir, rawRequest, startHarness, type Harness } from './harness.js';

describe('static files', () => {
  let base: string;
  let h: Harness;
  let cookie: string;
  beforeAll(async () => {
    base = makeTempDir();
    h = await startHarness({ rendererDir: makeRendererDir(base) });
  });
  afterAll(async () => {
    await h.close();
    removeDir(base);
  });

  const get = (p: string, headers: Record<string, string> = {}) =>
    rawRequest(h.server.port, { path: p, headers });

  it('refuses the page without a token, and with a wrong one', async () => {
    expect((await get('/')).status).toBe(401);
    expect((await get('/?token=nope')).status).toBe(401);
    expect((await get('/assets/app.js')).status).toBe(401);
  });

  it('serves index.html for /?token= and sets an HttpOnly SameSite=Strict cookie', async () => {
    const res = await get(`/?token=${h.server.token}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<title>LoRA Studio</title>');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    const setCookie = res.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    cookie = setCookie.split(';')[0];
    expect(cookie).toBe(`lora_studio_${h.server.port}=${h.server.token}`);
  });

  it('serves assets with the cookie, and index.html for client-side routes', async () => {
    const js = await get('/assets/app.js', { Cookie: cookie });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.text).toContain('console.log');
    const route = await get('/datasets/3', { Cookie: cookie });
    expect(route.status).toBe(200);
    expect(route.text).toContain('<title>LoRA Studio</title>');
    expect((await get('/assets/missing.js', { Cookie: cookie })).status).toBe(404);
  });

  it('refuses path traversal in every spelling', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%5csecret.txt',
      `/${encodeURIComponent(path.join(base, 'secret.txt'))}`,
      '//etc/passwd',
      '/C:%5cWindows%5cwin.ini',
      '/assets/app.js%00.html',
      '/%E0%A4%A',
    ];
    for (const p of attempts) {
      const res = await get(p, { Cookie: cookie });
      expect(res.text, p).not.toContain('TOP SECRET');
      expect([400, 404], p).toContain(res.status);
      if (/\.\.|%2e%2e|^\/\//i.test(p)) {
        expect(res.status, p).toBe(400);
      }
    }
  });

  it('refuses a symlink that escapes the renderer folder', () => {
    const root = path.join(base, 'renderer');
    fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
    expect(resolveStaticPath(root, '/link.txt')).toMatchObject({ ok: false, status: 400 });
    expect(resolveStaticPath(root, '/assets/app.js')).toMatchObject({ ok: true });
  });

  it('explains how to build the UI when dist/renderer is missing', async () => {
    const bare = await startHarness();
    try {
      const res = await rawRequest(bare.server.port, { path: `/?token=${bare.server.token}` });
      expect(res.status).toBe(503);
      expect(res.text).toContain('npm run build:renderer');
    } finally {
      await bare.close();
    }
  });
});

describe('event WebSocket', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  function connect(query: string, headers: Record<string, string> = {}) {
    return new WebSocket(`ws://127.0.0.1:${h.server.port}/events${query}`, { headers });
  }

  function rejection(ws: WebSocket): Promise<number> {
    return new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
  }

  it('pushes a ready event, then store changes as ApiEvent JSON', async () => {
    const ws = connect(`?token=${h.server.token}`);
    const events: ApiEvent[] = [];
    const changed = new Promise<ApiEvent>((resolve, reject) => {
      ws.on('message', (data) => {
        const event = apiEventSchema.parse(JSON.parse(String(data)));
        events.push(event);
        if (event.status === 'ready') {
          void h.api('datasets.create', { name: 'from-ws-test' });
        }
        if (event.status === 'changed') resolve(event);
      });
      ws.on('error', reject);
    });
    const event = await changed;
    ws.close();
    expect(events[0]).toMatchObject({ status: 'ready', appVersion: h.service.appVersion });
    expect(event).toMatchObject({ status: 'changed', entity: 'datasets' });
    expect(event.status === 'changed' && event.ids).toHaveLength(1);
  });

  it('refuses a missing or wrong token, a foreign Origin and a foreign Host', async () => {
    expect(await rejection(connect(''))).toBe(401);
    expect(await rejection(connect('?token=wrong'))).toBe(401);
    expect(
      await rejection(connect(`?token=${h.server.token}`, { Origin: 'https://evil.example' })),
    ).toBe(403);
    expect(await rejection(connect(`?token=${h.server.token}`, { Host: 'evil.example' }))).toBe(
      403,
    );
  });
});
