// GET /files/generations/<id>.png: generated images over HTTP, by row id only. The token
// is needed (cookie or bearer), the URL cannot name a path, and only PNGs of generations rows
// are served. Also: methods that carry images accept larger bodies than the rest.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { solidPng } from '../service/fake-generate.js';
import { makeRendererDir, rawRequest, startHarness, type Harness } from './harness.js';

const PARAMS = {
  prompt: 'a cat',
  negativePrompt: '',
  sampler: 'euler' as const,
  steps: 4,
  cfgScale: 7,
  width: 64,
  height: 64,
  clipSkip: 1,
  loras: [],
};

describe('generated images over HTTP', () => {
  let base: string;
  let h: Harness;
  let cookie: string;
  let png: Uint8Array;
  let generationId: number;

  const get = (p: string, headers: Record<string, string> = {}, method = 'GET') =>
    rawRequest(h.server.port, { method, path: p, headers });
  const addRow = (filePath: string) =>
    h.service.store.generations.add({ modelId: null, filePath, seed: 1, params: PARAMS }).id;

  beforeAll(async () => {
    base = makeTempDir();
    h = await startHarness({ rendererDir: makeRendererDir(base) });
    const page = await get(`/?token=${h.server.token}`);
    cookie = (page.headers['set-cookie']?.[0] ?? '').split(';')[0];
    png = await solidPng(64, 64, 'a cat\nSteps: 4, Sampler: Euler, Seed: 1');
    const file = path.join(h.dir, 'outputs', 'cat.png');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, png);
    generationId = addRow(file);
  });
  afterAll(async () => {
    await h.close();
    removeDir(base);
  });

  it('serves a generation PNG with the session cookie or a bearer token', async () => {
    const url = `/files/generations/${generationId}.png`;
    const auth: Record<string, string>[] = [
      { Cookie: cookie },
      { Authorization: `Bearer ${h.server.token}` },
    ];
    for (const headers of auth) {
      const res = await rawRequest(h.server.port, { path: url, headers });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(Number(res.headers['content-length'])).toBe(png.length);
    }
    const head = await get(url, { Cookie: cookie }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('refuses requests without the token, and other methods', async () => {
    const url = `/files/generations/${generationId}.png`;
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { Cookie: 'lora_studio_1=nope' })).status).toBe(401);
    expect((await get(url, { Authorization: 'Bearer nope' })).status).toBe(401);
    const post = await get(url, { Cookie: cookie }, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    // A foreign Origin is refused before anything else (the server-wide guard).
    expect((await get(url, { Cookie: cookie, Origin: 'http://evil.example' })).status).toBe(403);
  });

  it('refuses path traversal in every spelling: URLs name row ids, never paths', async () => {
    const secret = path.join(base, 'secret.txt');
    expect(fs.existsSync(secret)).toBe(true);
    const attempts = [
      '/files/generations/../../secret.txt',
      '/files/../secret.txt',
      '/files/generations/%2e%2e/%2e%2e/secret.txt',
      '/files/generations/..%2f..%2fsecret.txt',
      '/files/generations/..\\..\\secret.txt',
      `/files/generations/${generationId}.png/../../secret.txt`,
      `/files/generations/${generationId}.png%00.txt`,
      `/files/generations/0${generationId}.png`,
      `/files/generations/-${generationId}.png`,
      `/files/generations/${generationId}.PNG`,
      `/files/generations/${generationId}`,
      `/files/generations/${encodeURIComponent(secret)}`,
      '/files//etc/passwd',
      '/files/generations/99999999999999999999.png',
    ];
    for (const attempt of attempts) {
      const res = await get(attempt, { Cookie: cookie });
      expect(res.status, attempt).toBe(404);
      expect(res.text, attempt).not.toContain('TOP SECRET');
      expect(res.json(), attempt).toMatchObject({ ok: false, error: { code: 'not_found' } });
    }
  });

  it('serves only PNG files of existing rows', async () => {
    expect((await get('/files/generations/424242.png', { Cookie: cookie })).status).toBe(404);
    // A row whose file is not a PNG (wrong bytes, wrong extension, a folder, gone).
    const fake = path.join(h.dir, 'fake.png');
    fs.writeFileSync(fake, 'TOP SECRET');
    const folder = path.join(h.dir, 'folder.png');
    fs.mkdirSync(folder);
    const rows = [
      addRow(fake),
      addRow(path.join(base, 'secret.txt')),
      addRow(folder),
      addRow(path.join(h.dir, 'gone.png')),
    ];
    for (const id of rows) {
      const res = await get(`/files/generations/${id}.png`, { Cookie: cookie });
      expect(res.status, String(id)).toBe(404);
      expect(res.text).not.toContain('TOP SECRET');
      expect(res.text).toMatch(new RegExp(`no image for generation #${id}`));
    }
    // generations.get withImage says the same in its own words.
    const viaApi = await h.api('generations.get', { id: rows[0], withImage: true });
    expect(viaApi.status).toBe(404);
    expect(viaApi.text).toMatch(/its image is missing or not a PNG/);
  });

  it('follows a symlinked PNG but not a symlink to another kind of file', async () => {
    const link = path.join(h.dir, 'link.png');
    fs.symlinkSync(path.join(h.dir, 'outputs', 'cat.png'), link);
    const sneaky = path.join(h.dir, 'sneaky.png');
    fs.symlinkSync(path.join(base, 'secret.txt'), sneaky);
    expect((await get(`/files/generations/${addRow(link)}.png`, { Cookie: cookie })).status).toBe(
      200,
    );
    const res = await get(`/files/generations/${addRow(sneaky)}.png`, { Cookie: cookie });
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('TOP SECRET');
  });

  it('accepts image-sized bodies for infotext.parse, not for other methods', async () => {
    const big = Buffer.concat([Buffer.from(png), Buffer.alloc(2 * 1024 * 1024)]).toString('base64');
    const parsed = await h.api('infotext.parse', { png: big });
    expect(parsed.status, parsed.text).toBe(200);
    expect(parsed.json()).toMatchObject({ ok: true, result: { params: { prompt: 'a cat' } } });
    const other = await h.api('datasets.create', { name: 'x', description: big });
    expect(other.status).toBe(413);
  });
});

describe('image files without a renderer build', () => {
  it('still serves images (the route does not depend on the UI)', async () => {
    const dir = makeTempDir();
    const h = await startHarness();
    try {
      const file = path.join(dir, 'x.png');
      fs.writeFileSync(file, await solidPng(8, 8));
      const id = h.service.store.generations.add({
        modelId: null,
        filePath: file,
        seed: 1,
        params: PARAMS,
      }).id;
      const res = await rawRequest(h.server.port, {
        path: `/files/generations/${id}.png`,
        headers: { Authorization: `Bearer ${h.server.token}` },
      });
      expect(res.status).toBe(200);
    } finally {
      await h.close();
      removeDir(dir);
    }
  });
});
