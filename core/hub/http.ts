// One GET with redirects, on node:http/https rather than fetch (undici). Why: fetch decodes
// gzip/br transparently, which breaks byte counting for Range resumes; its redirect handling
// hides the first hop, where Hugging Face puts `X-Linked-Etag` (the LFS sha256) before sending
// us to its CDN; and it keeps the Authorization header across origins only by its own rules.
// Here every hop is ours: we read each hop's headers, drop the token when the origin changes,
// and get node's socket error codes (ECONNREFUSED, ENOTFOUND…) to tell "offline" apart.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { DownloadError } from './errors.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Socket errors that mean "no route to the host": reported as offline. */
const OFFLINE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
]);

export interface GetOptions {
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** Socket inactivity limit, connecting included. */
  idleTimeoutMs: number;
  maxRedirects: number;
}

/** Hub headers seen on any hop (Hugging Face sends them on the redirect to its CDN). */
export interface LinkedInfo {
  /** `X-Linked-Etag`, unquoted: the sha256 of an LFS file. */
  etag?: string;
  /** `X-Linked-Size`: the LFS file's size. */
  size?: number;
  /** `X-Repo-Commit`: the commit the revision resolved to. */
  commit?: string;
}

export interface OpenedResponse {
  res: IncomingMessage;
  /** Where the body comes from after redirects. */
  url: URL;
  linked: LinkedInfo;
  /** Call to stop the transfer (destroys the socket). */
  destroy(err?: Error): void;
  /** Set when the socket's idle timer fired (so a body error can be named a timeout). */
  state: SocketState;
}

export interface SocketState {
  timedOut: boolean;
  signal?: AbortSignal;
  idleTimeoutMs: number;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** https anywhere; plain http only to this machine (tests, local mirrors). */
export function checkScheme(url: URL, what: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new DownloadError(
    what === 'redirect' ? 'redirects' : 'invalid-source',
    `refusing ${what} ${url.href}: model downloads must use https ` +
      `(plain http is allowed only to localhost)`,
    { url: url.href },
  );
}

/** Strip quotes and a weak-validator prefix: `W/"abc"` → `abc`. */
export function unquoteEtag(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '');
}

export function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function offlineError(url: URL, code: string, cause: unknown): DownloadError {
  return new DownloadError(
    'offline',
    `could not reach ${url.host} — you appear to be offline; pick a local file instead or retry (${code})`,
    { url: url.href, cause },
  );
}

/** Map a socket-level error (no response yet, or a body cut short) to a DownloadError. */
export function networkError(err: unknown, url: URL, state: SocketState): DownloadError {
  if (err instanceof DownloadError) return err;
  if (state.signal?.aborted) {
    return new DownloadError('cancelled', `download from ${url.host} cancelled`, {
      url: url.href,
      cause: err,
    });
  }
  if (state.timedOut) {
    return new DownloadError(
      'timeout',
      `${url.host} sent nothing for ${state.idleTimeoutMs / 1000} s — the connection timed out; retry to resume`,
      { url: url.href, cause: err },
    );
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (OFFLINE_CODES.has(code)) return offlineError(url, code, err);
  return new DownloadError(
    'network',
    `network error talking to ${url.host}: ${(err as Error)?.message ?? String(err)}${code ? ` (${code})` : ''}`,
    { url: url.href, cause: err },
  );
}

function requestOnce(
  url: URL,
  headers: Record<string, string>,
  options: GetOptions,
): Promise<{ res: IncomingMessage; destroy(err?: Error): void; state: SocketState }> {
  return new Promise((resolve, reject) => {
    const state: SocketState = {
      timedOut: false,
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs,
    };
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: 'GET', headers, timeout: options.idleTimeoutMs });
    const onAbort = () => req.destroy();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('timeout', () => {
      state.timedOut = true;
      req.destroy();
    });
    req.on('error', (err) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(networkError(err, url, state));
    });
    req.on('response', (res) => {
      // The abort listener stays until the body is done: cancelling mid-body destroys the socket.
      res.on('close', () => options.signal?.removeEventListener('abort', onAbort));
      resolve({ res, destroy: (err?: Error) => req.destroy(err), state });
    });
    req.end();
  });
}

/**
 * GET `url`, following redirects up to `maxRedirects`. Resolves with the first non-redirect
 * response (any status: the caller decides), its final URL and the hub headers of all hops.
 */
export async function getFollowingRedirects(
  url: URL,
  options: GetOptions,
): Promise<OpenedResponse> {
  const linked: LinkedInfo = {};
  let current = url;
  let headers = { ...options.headers };
  for (let hop = 0; ; hop++) {
    if (options.signal?.aborted) {
      throw new DownloadError('cancelled', `download from ${current.host} cancelled`, {
        url: current.href,
      });
    }
    const { res, destroy, state } = await requestOnce(current, headers, options);
    linked.etag ??= unquoteEtag(header(res, 'x-linked-etag'));
    linked.commit ??= header(res, 'x-repo-commit');
    const size = Number(header(res, 'x-linked-size'));
    if (linked.size === undefined && Number.isSafeInteger(size) && size >= 0) linked.size = size;
    const status = res.statusCode ?? 0;
    if (!REDIRECTS.has(status)) return { res, url: current, linked, destroy, state };

    res.resume(); // discard the redirect's body so the socket can be reused
    const location = header(res, 'location');
    if (!location) {
      throw new DownloadError(
        'redirects',
        `${current.host} answered ${status} without a Location`,
        {
          status,
          url: current.href,
        },
      );
    }
    if (hop >= options.maxRedirects) {
      throw new DownloadError(
        'redirects',
        `more than ${options.maxRedirects} redirects starting at ${url.href} (last: ${location})`,
        { status, url: current.href },
      );
    }
    const next = new URL(location, current);
    checkScheme(next, 'redirect');
    if (next.origin !== current.origin) {
      // A token for huggingface.co must not travel to a CDN (or anywhere else).
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
      );
    }
    current = next;
  }
}

/** Read at most `limit` bytes of an error response's body, for a message. */
export async function readSmallBody(res: IncomingMessage, limit = 2048): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      n += chunk.length;
      if (n >= limit) break;
    }
  } catch {
    // An error page that breaks off is still an error page: use what arrived.
  }
  res.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
