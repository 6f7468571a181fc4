// A loopback stand-in for the Hugging Face Hub and its CDN (node:http on 127.0.0.1, ephemeral
// ports): `/{repo}/resolve/{rev}/{file}` answers 302 to the CDN with X-Linked-Etag/-Size/
// X-Repo-Commit, like the real Hub does for LFS files; the CDN serves bytes with Range support.
// Each behaviour a test needs (cut connections, ignored Range, slow bodies, errors) is a switch.
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  url: string;
  range?: string;
  authorization?: string;
}

export interface CdnMode {
  /** Destroy the socket after this many body bytes (on the next `cutTimes` requests). */
  cutAfter?: number;
  cutTimes?: number;
  /** Answer 200 with the whole file even when a Range is asked. */
  ignoreRange?: boolean;
  /** Answer a Range request with 206 for a different start than asked. */
  wrongRange?: boolean;
  /** Send the body in chunks of this size, one every `delayMs`. */
  chunk?: number;
  delayMs?: number;
  /** Omit Content-Length (chunked transfer). */
  noLength?: boolean;
  /** The ETag header to send (default: an opaque non-sha value). */
  etag?: string;
}

export interface HubMode {
  /** Override the X-Linked-Etag the Hub announces. */
  linkedEtag?: string;
  /** Answer the resolve URL with this status (and X-Error-Code). */
  status?: number;
  errorCode?: string;
  /** Redirect this many extra times before the CDN (a redirect chain on the Hub). */
  extraRedirects?: number;
  /** Accept the resolve request but never answer. */
  hang?: boolean;
}

export interface TestServer {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function testBytes(n: number, seed = 12345): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({
      url: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Serves `files` (name → bytes) at `/files/{name}` with the behaviours of `mode`. */
export function startCdn(files: Map<string, Buffer>, mode: CdnMode = {}): Promise<TestServer> {
  return listen((req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/files\//, ''));
    const body = files.get(name);
    if (!body) {
      res.writeHead(404).end('no such file');
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !mode.ignoreRange) start = Number(m[1]);
    if (start > body.length || (m && start === body.length && !mode.ignoreRange)) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const headers: Record<string, string | number> = {
      etag: mode.etag ?? '"cdn-etag-not-a-sha"',
    };
    if (m && !mode.ignoreRange) {
      const shown = mode.wrongRange ? Math.max(0, start - 1) : start;
      headers['content-range'] = `bytes ${shown}-${body.length - 1}/${body.length}`;
    }
    const part = body.subarray(start);
    if (!mode.noLength) headers['content-length'] = part.length;
    res.writeHead(m && !mode.ignoreRange ? 206 : 200, headers);
    const cut = mode.cutAfter !== undefined && (mode.cutTimes ?? 1) > 0;
    if (cut) mode.cutTimes = (mode.cutTimes ?? 1) - 1;
    const limit = cut ? Math.min(mode.cutAfter!, part.length) : part.length;
    const step = mode.chunk ?? 64 * 1024;
    let at = 0;
    const next = () => {
      if (res.destroyed) return;
      if (at >= limit) {
        if (cut) res.socket?.destroy();
        else res.end();
        return;
      }
      const slice = part.subarray(at, Math.min(limit, at + step));
      at += slice.length;
      res.write(slice, () => (mode.delayMs ? setTimeout(next, mode.delayMs) : next()));
    };
    next();
  });
}

/** The Hub: resolve URLs of `repo` redirect to `cdn` and announce sha256/size/commit. */
export function startHub(
  repo: string,
  files: Map<string, Buffer>,
  cdnUrl: string,
  mode: HubMode = {},
): Promise<TestServer> {
  return listen((req, res) => {
    const url = req.url ?? '';
    const hop = /^\/hop\/(\d+)\/(.*)$/.exec(url);
    if (hop) {
      const left = Number(hop[1]);
      res.writeHead(302, {
        location: left > 0 ? `/hop/${left - 1}/${hop[2]}` : `${cdnUrl}/files/${hop[2]}`,
      });
      res.end();
      return;
    }
    const prefix = `/${repo}/resolve/`;
    if (!url.startsWith(prefix)) {
      res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end('Repository not found');
      return;
    }
    if (mode.hang) return;
    const [, ...path] = url.slice(prefix.length).split('/');
    const name = decodeURIComponent(path.join('/'));
    const body = files.get(name);
    if (mode.status) {
      const headers = mode.errorCode ? { 'x-error-code': mode.errorCode } : {};
      res.writeHead(mode.status, headers).end(`error ${mode.status}`);
      return;
    }
    if (!body) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    const target =
      mode.extraRedirects !== undefined
        ? `/hop/${mode.extraRedirects}/${encodeURIComponent(name)}`
        : `${cdnUrl}/files/${encodeURIComponent(name)}`;
    res.writeHead(302, {
      location: target,
      'x-linked-etag': `"${mode.linkedEtag ?? sha256(body)}"`,
      'x-linked-size': String(body.length),
      'x-repo-commit': 'c0ffee0000000000000000000000000000000000',
      etag: '"git-blob-sha1-of-the-pointer"',
    });
    res.end();
  });
}
