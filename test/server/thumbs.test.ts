// GET /files/thumbs/<imageId>.webp: dataset thumbnails over HTTP, by image row id only. The
// token is needed, the URL cannot name a path, and a row can only point the route at a WebP
// inside <dataDir>/datasets/.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { makeRendererDir, rawRequest, startHarness, type Harness } from './harness.js';

describe('dataset thumbnails over HTTP', () => {
  let base: string;
  let h: Harness;
  let cookie: string;
  let webp: Buffer;
  let datasetId: number;
  let n = 0;

  const get = (p: string, headers: Record<string, string> = {}) =>
    rawRequest(h.server.port, { path: p, headers });
  const addRow = (thumbPath: string) =>
    h.service.store.images.upsertImported(datasetId, [
      {
        path: `/src/${++n}.png`,
        relPath: `${n}.png`,
        workPath: thumbPath,
        thumbPath,
        format: 'png',
        repeats: 1,
        className: null,
        sha256: 'cd'.repeat(32),
        width: 8,
        height: 8,
        caption: null,
      },
    ])[0];

  beforeAll(async () => {
    base = makeTempDir();
    h = await startHarness({ rendererDir: makeRendererDir(base) });
    const page = await get(`/?token=${h.server.token}`);
    cookie = (page.headers['set-cookie']?.[0] ?? '').split(';')[0];
    datasetId = h.service.store.datasets.create({ name: 'thumbs' }).id;
    webp = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123' } })
      .webp()
      .toBuffer();
    fs.mkdirSync(path.join(h.dir, 'datasets', '1', 'thumbs'), { recursive: true });
    fs.writeFileSync(path.join(h.dir, 'datasets', '1', 'thumbs', 'a.webp'), webp);
    fs.writeFileSync(path.join(base, 'secret.webp'), webp); // a WebP outside the data dir
    fs.writeFileSync(path.join(base, 'secret.txt'), 'TOP SECRET');
  });
  afterAll(async () => {
    await h.close();
    removeDir(base);
  });

  it('serves an imported thumbnail with the token, refuses without', async () => {
    const id = addRow(path.join(h.dir, 'datasets', '1', 'thumbs', 'a.webp'));
    const res = await get(`/files/thumbs/${id}.webp`, { Cookie: cookie });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    expect(Number(res.headers['content-length'])).toBe(webp.length);
    const bearer = await get(`/files/thumbs/${id}.webp`, {
      Authorization: `Bearer ${h.server.token}`,
    });
    expect(bearer.status).toBe(200);
    expect((await get(`/files/thumbs/${id}.webp`)).status).toBe(401);
  });

  it('refuses path traversal in every spelling', async () => {
    const id = addRow(path.join(h.dir, 'datasets', '1', 'thumbs', 'a.webp'));
    const attempts = [
      '/files/thumbs/../../secret.txt',
      '/files/thumbs/%2e%2e/%2e%2e/secret.txt',
      '/files/thumbs/..%2f..%2fsecret.webp',
      '/files/thumbs/..\\..\\secret.webp',
      `/files/thumbs/${id}.webp/../../secret.txt`,
      `/files/thumbs/${id}.webp%00.txt`,
      `/files/thumbs/0${id}.webp`,
      `/files/thumbs/${id}.WEBP`,
      `/files/thumbs/${id}`,
      `/files/thumbs/${encodeURIComponent(path.join(base, 'secret.webp'))}`,
      '/files/thumbs/99999999999999999999.webp',
    ];
    for (const attempt of attempts) {
      const res = await get(attempt, { Cookie: cookie });
      expect(res.status, attempt).toBe(404);
      expect(res.text, attempt).not.toContain('TOP SECRET');
    }
  });

  it('serves only WebP files inside <dataDir>/datasets, whatever the row says', async () => {
    const outside = path.join(base, 'secret.webp');
    const link = path.join(h.dir, 'datasets', '1', 'thumbs', 'link.webp');
    fs.symlinkSync(outside, link);
    const notWebp = path.join(h.dir, 'datasets', '1', 'thumbs', 'fake.webp');
    fs.writeFileSync(notWebp, 'TOP SECRET');
    const rows = [
      addRow(outside),
      addRow(link),
      addRow(notWebp),
      addRow(path.join(h.dir, 'datasets', '1', 'thumbs', '..', '..', '..', '..', 'secret.txt')),
      addRow(path.join(h.dir, 'datasets', '1', 'thumbs', 'gone.webp')),
    ];
    for (const id of rows) {
      const res = await get(`/files/thumbs/${id}.webp`, { Cookie: cookie });
      expect(res.status, String(id)).toBe(404);
      expect(res.text).toMatch(new RegExp(`no thumbnail for image #${id}`));
    }
    const viaApi = await h.api('images.thumbnail', { id: rows[0] });
    expect(viaApi.status).toBe(404);
  });
});
