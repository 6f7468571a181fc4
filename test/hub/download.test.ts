// Downloads against a loopback Hub + CDN: full transfer, resume after a cut, ignored Range,
// checksum rejection, offline/HTTP error messages, redirects, cancel + resume, progress events.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  downloadFile,
  DownloadError,
  hfResolveUrl,
  type DownloadEvent,
  type DownloadSource,
} from '../../core/hub/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { sha256, startCdn, startHub, testBytes, type TestServer } from './hub-server.js';

const REPO = 'tester/tiny-model';
const FILE = 'unet/model.safetensors';
const BODY = testBytes(600_000);
const FILES = new Map([[FILE, BODY]]);

let dir: string;
let servers: TestServer[] = [];
let n = 0;

beforeAll(() => {
  dir = makeTempDir('hub-download-');
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function setup(
  cdnMode: Parameters<typeof startCdn>[1] = {},
  hubMode: Parameters<typeof startHub>[3] = {},
) {
  const cdn = await startCdn(FILES, cdnMode);
  const hub = await startHub(REPO, FILES, cdn.url, hubMode);
  servers.push(cdn, hub);
  const source: DownloadSource = { kind: 'hf', repo: REPO, file: FILE, endpoint: hub.url };
  return { cdn, hub, source, dest: join(dir, `model-${++n}.safetensors`) };
}

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DownloadError);
  return e as DownloadError;
}

function checkProgress(events: DownloadEvent[], size: number, totalKnown = true) {
  const progress = events.filter((e) => e.status === 'progress');
  expect(progress.length).toBeGreaterThan(0);
  for (let i = 1; i < progress.length; i++) {
    expect(progress[i].loaded).toBeGreaterThanOrEqual(progress[i - 1].loaded);
  }
  const last = progress[progress.length - 1];
  expect(last.loaded).toBe(size);
  expect(last.total).toBe(size);
  expect(last.progress).toBe(100);
  for (const p of progress) {
    if (!totalKnown && p !== last) {
      expect(p.progress).toBeUndefined();
      continue;
    }
    expect(p.progress).toBeGreaterThanOrEqual(0);
    expect(p.progress).toBeLessThanOrEqual(100);
    expect(p.speed).toBeGreaterThanOrEqual(0);
  }
  expect(events[0].status).toBe('initiate');
  expect(events[events.length - 1].status).toBe('done');
}

describe('hfResolveUrl', () => {
  it('builds {endpoint}/{repo}/resolve/{revision}/{path} with encoded segments', () => {
    expect(hfResolveUrl('a/b', 'x y/z.safetensors').href).toBe(
      'https://huggingface.co/a/b/resolve/main/x%20y/z.safetensors',
    );
    expect(hfResolveUrl('a/b', 'f', 'refs/pr/1', 'http://127.0.0.1:9/mirror').href).toBe(
      'http://127.0.0.1:9/mirror/a/b/resolve/refs%2Fpr%2F1/f',
    );
  });

  it('refuses bad repo ids, paths and plain-http endpoints, naming the value', () => {
    expect(() => hfResolveUrl('a/b/c', 'f')).toThrow(/repo id "a\/b\/c" is not valid/);
    expect(() => hfResolveUrl('a/b', '../secret')).toThrow(/"\.\.\/secret" is not a path/);
    expect(() => hfResolveUrl('a/b', 'f', 'main', 'http://example.com')).toThrow(/must use https/);
  });
});

describe('downloadFile', () => {
  it('downloads through the Hub redirect, verifies the linked sha256 and reports progress', async () => {
    const { cdn, hub, source, dest } = await setup({ chunk: 50_000 });
    const events: DownloadEvent[] = [];
    const r = await downloadFile(
      { ...source, token: 'hf_secret' },
      { dest, onEvent: (e) => events.push(e), progressIntervalMs: 0 },
    );
    expect(r.sha256).toBe(sha256(BODY));
    expect(r.verifiedAgainst).toEqual(['source']);
    expect(r.size).toBe(BODY.length);
    expect(r.commit).toMatch(/^c0ffee/);
    expect(r.url.startsWith(cdn.url)).toBe(true);
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(`${dest}.part.json`)).toBe(false);
    // The token goes to the Hub, never across origins to the CDN.
    expect(hub.requests[0].authorization).toBe('Bearer hf_secret');
    expect(cdn.requests.every((q) => q.authorization === undefined)).toBe(true);
    checkProgress(events, BODY.length);
    expect(events.map((e) => e.status).slice(0, 2)).toEqual(['initiate', 'download']);
    const done = events[events.length - 1];
    expect(done).toMatchObject({ status: 'done', name: REPO, file: FILE, path: dest });
  });

  it('resumes with Range after a cut connection and ends with the right sha256', async () => {
    const { cdn, source, dest } = await setup({ cutAfter: 250_000 });
    const cut = await failure(downloadFile(source, { dest, retries: 0 }));
    expect(cut.code).toBe('interrupted');
    expect(cut.message).toMatch(/partial file is kept/);
    const kept = statSync(`${dest}.part`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(BODY.length);
    expect(existsSync(dest)).toBe(false); // a partial file never appears under the final name

    const events: DownloadEvent[] = [];
    const r = await downloadFile(source, {
      dest,
      onEvent: (e) => events.push(e),
      progressIntervalMs: 0,
    });
    expect(cdn.requests[cdn.requests.length - 1].range).toBe(`bytes=${kept}-`);
    expect(r.resumedFrom).toBe(kept);
    expect(r.sha256).toBe(sha256(BODY));
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(events.find((e) => e.status === 'download')).toMatchObject({ resumeFrom: kept });
    checkProgress(events, BODY.length);
  });

  it('resumes by itself within one call when retries are allowed', async () => {
    const { cdn, source, dest } = await setup({ cutAfter: 100_000, cutTimes: 2 });
    const r = await downloadFile(source, { dest, retries: 2, retryDelayMs: 5 });
    expect(r.sha256).toBe(sha256(BODY));
    expect(cdn.requests).toHaveLength(3);
    expect(cdn.requests[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('restarts cleanly when the server ignores Range or answers another range', async () => {
    for (const mode of [{ ignoreRange: true }, { wrongRange: true }]) {
      const cdnMode: Parameters<typeof startCdn>[1] = { cutAfter: 200_000 };
      const { cdn, source, dest } = await setup(cdnMode);
      await failure(downloadFile(source, { dest, retries: 0 }));
      Object.assign(cdnMode, mode);
      const events: DownloadEvent[] = [];
      const r = await downloadFile(source, {
        dest,
        onEvent: (e) => events.push(e),
        progressIntervalMs: 0,
      });
      expect(r.resumedFrom).toBe(0);
      expect(r.sha256).toBe(sha256(BODY));
      expect(readFileSync(dest).equals(BODY)).toBe(true);
      expect(cdn.requests[1].range).toMatch(/^bytes=\d+-$/);
      if (mode.wrongRange) expect(cdn.requests[2].range).toBeUndefined();
      checkProgress(events, BODY.length);
    }
  });

  it('rejects and removes a file whose sha256 differs, naming both hashes', async () => {
    const wrong = 'ab'.repeat(32);
    const { source, dest } = await setup();
    const e = await failure(downloadFile(source, { dest, sha256: wrong }));
    expect(e.code).toBe('checksum');
    expect(e.message).toContain(wrong);
    expect(e.message).toContain(sha256(BODY));
    expect(e.message).toMatch(/rejected and removed/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);

    const bad = await setup({}, { linkedEtag: wrong });
    const e2 = await failure(downloadFile(bad.source, { dest: bad.dest }));
    expect(e2.code).toBe('checksum');
    expect(e2.message).toMatch(/announced by 127\.0\.0\.1/);
    expect(existsSync(bad.dest)).toBe(false);
  });

  it('checks a caller-given sha256 on a direct URL (no hub headers)', async () => {
    const cdn = await startCdn(FILES, { noLength: true });
    servers.push(cdn);
    const dest = join(dir, `direct-${++n}.bin`);
    const events: DownloadEvent[] = [];
    const r = await downloadFile(
      { kind: 'url', url: `${cdn.url}/files/${encodeURIComponent(FILE)}` },
      {
        dest,
        sha256: sha256(BODY).toUpperCase(),
        onEvent: (e) => events.push(e),
        progressIntervalMs: 0,
      },
    );
    expect(r.verifiedAgainst).toEqual(['caller']);
    checkProgress(events, BODY.length, false); // total unknown until the end, still ends at 100 %
  });

  it("never takes a direct server's ETag for a checksum", async () => {
    const cdn = await startCdn(FILES, { etag: `"${'ef'.repeat(32)}"` });
    servers.push(cdn);
    const r = await downloadFile(
      { kind: 'url', url: `${cdn.url}/files/${encodeURIComponent(FILE)}` },
      { dest: join(dir, `etag-${++n}.bin`) },
    );
    expect(r.verifiedAgainst).toEqual([]);
    expect(r.sha256).toBe(sha256(BODY));
  });

  it('finishes a .part that is already whole (416 on resume) without new bytes', async () => {
    const { cdn, source, dest } = await setup({ cutAfter: 100_000 });
    await failure(downloadFile(source, { dest, retries: 0 }));
    writeFileSync(`${dest}.part`, BODY); // as if the process died after the last write
    const r = await downloadFile(source, { dest });
    expect(cdn.requests[cdn.requests.length - 1].range).toBe(`bytes=${BODY.length}-`);
    expect(r).toMatchObject({ resumedFrom: BODY.length, size: BODY.length });
    expect(r.verifiedAgainst).toEqual(['source']);
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('says "offline" when the host cannot be reached', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    const e = await failure(
      downloadFile(
        { kind: 'hf', repo: REPO, file: FILE, endpoint: `http://127.0.0.1:${port}` },
        { dest: join(dir, 'offline.safetensors') },
      ),
    );
    expect(e.code).toBe('offline');
    expect(e.message).toContain(
      `could not reach 127.0.0.1:${port} — you appear to be offline; pick a local file instead or retry`,
    );
  });

  it('names the repo and file on 404 and asks for a token on 401/403', async () => {
    const { source, dest } = await setup();
    const e404 = await failure(downloadFile({ ...source, file: 'nope.safetensors' }, { dest }));
    expect(e404.code).toBe('not-found');
    expect(e404.details.status).toBe(404);
    expect(e404.message).toMatch(
      /tester\/tiny-model has no file "nope.safetensors" at revision "main"/,
    );

    const gated = await setup({}, { status: 401 });
    const e401 = await failure(downloadFile(gated.source, { dest: gated.dest }));
    expect(e401.code).toBe('unauthorized');
    expect(e401.message).toMatch(/gated or private.*set a Hugging Face access token/);

    const refused = await setup({}, { status: 403, errorCode: 'GatedRepo' });
    const e403 = await failure(
      downloadFile({ ...refused.source, token: 'hf_x' }, { dest: refused.dest }),
    );
    expect(e403.code).toBe('unauthorized');
    expect(e403.message).toMatch(/tester\/tiny-model is a gated repo \(403.*accept its terms/);
  });

  it('follows a redirect chain and stops at the redirect limit', async () => {
    const ok = await setup({}, { extraRedirects: 3 });
    const r = await downloadFile(ok.source, { dest: ok.dest });
    expect(r.sha256).toBe(sha256(BODY));
    expect(r.verifiedAgainst).toEqual(['source']);

    const loop = await setup({}, { extraRedirects: 20 });
    const e = await failure(downloadFile(loop.source, { dest: loop.dest, maxRedirects: 5 }));
    expect(e.code).toBe('redirects');
    expect(e.message).toMatch(/more than 5 redirects/);
  });

  it('times out a silent host', async () => {
    const { source, dest } = await setup({}, { hang: true });
    const e = await failure(downloadFile(source, { dest, idleTimeoutMs: 150, retries: 0 }));
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/sent nothing for 0\.15 s — the connection timed out/);
  });

  it('cancels mid-body keeping the .part, then resumes to the right file', async () => {
    const { cdn, source, dest } = await setup({ chunk: 16_384, delayMs: 5 });
    const ac = new AbortController();
    const events: DownloadEvent[] = [];
    const e = await failure(
      downloadFile(source, {
        dest,
        signal: ac.signal,
        progressIntervalMs: 0,
        onEvent: (ev) => {
          events.push(ev);
          if (ev.status === 'progress' && ev.loaded >= 100_000) ac.abort();
        },
      }),
    );
    expect(e.code).toBe('cancelled');
    const kept = statSync(`${dest}.part`).size;
    expect(kept).toBeGreaterThanOrEqual(100_000);
    expect(kept).toBeLessThan(BODY.length);
    expect(existsSync(dest)).toBe(false);

    const r = await downloadFile(source, { dest });
    expect(cdn.requests[cdn.requests.length - 1].range).toBe(`bytes=${kept}-`);
    expect(r.resumedFrom).toBe(kept);
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('starts over when the remote file changed since the .part began', async () => {
    const { cdn, source, dest } = await setup({ cutAfter: 200_000 });
    await failure(downloadFile(source, { dest, retries: 0 }));
    // A different announced sha256 for the same URL: the old prefix must not be reused.
    const sidecar = JSON.parse(readFileSync(`${dest}.part.json`, 'utf8')) as { sha256: string };
    writeFileSync(`${dest}.part.json`, JSON.stringify({ ...sidecar, sha256: 'cd'.repeat(32) }));
    const r = await downloadFile(source, { dest });
    expect(r.resumedFrom).toBe(0);
    expect(r.sha256).toBe(sha256(BODY));
    expect(cdn.requests[cdn.requests.length - 1].range).toBeUndefined();
  });

  it('refuses an existing destination, a busy one and a malformed sha256', async () => {
    const { source, dest } = await setup();
    writeFileSync(dest, 'x');
    expect((await failure(downloadFile(source, { dest }))).code).toBe('exists');
    const other = join(dir, `busy-${++n}.safetensors`);
    const first = downloadFile(source, { dest: other });
    expect((await failure(downloadFile(source, { dest: other }))).code).toBe('busy');
    await first;
    const e = await failure(downloadFile(source, { dest: join(dir, 'x.bin'), sha256: 'abc' }));
    expect(e.code).toBe('invalid-source');
    expect(e.message).toMatch(/"abc" is not 64 hex digits/);
  });
});
