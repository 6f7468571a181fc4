// Serve mode: the API contract over loopback HTTP + WebSocket, and the built renderer.
//   POST /api/<method>     JSON input, `Authorization: Bearer <token>` → { ok, result | error }
//   GET  /events?token=…   WebSocket; one ApiEvent JSON per message
//   GET  /, /assets/…      dist/renderer; `/?token=…` sets an HttpOnly session cookie
//   GET  /files/generations/<id>.png   a generated image (cookie or bearer token)
//   GET  /files/thumbs/<imageId>.webp  a dataset image's thumbnail (same auth)
//   GET  /files/grids/<gridId>[/<cell>].png  a saved LoRA comparison grid or cell (same auth)
//   POST /generate, GET /jobs/<id>      REST-style aliases of generate.start and jobs.get
// Every request must carry a loopback Host (DNS-rebinding guard) and no foreign Origin.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  API_ERROR_HTTP_STATUS,
  IMAGE_INPUT_METHODS,
  type ApiError,
  type ApiEvent,
  type ApiMethodName,
} from '../api.js';
import { packageRoot, type ApiService } from '../service/index.js';
import {
  LOOPBACK_HOST,
  allowedHosts,
  bearerToken,
  checkHostAndOrigin,
  cookieName,
  newToken,
  readCookie,
  sessionCookie,
  tokenMatches,
} from './security.js';
import { hasRenderer, resolveStaticPath, sendFile } from './static-files.js';

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
/** For methods that carry image bytes as base64 (IMAGE_INPUT_METHODS). */
export const DEFAULT_IMAGE_BODY_LIMIT_BYTES = 48 * 1024 * 1024;
export const API_PREFIX = '/api/';
export const EVENTS_PATH = '/events';
export const FILES_PREFIX = '/files/';
export const GENERATE_ALIAS = '/generate';
export const JOBS_PREFIX = '/jobs/';
// The only file URLs there are: an id, nothing a path could be smuggled through.
const GENERATION_FILE_RE = /^\/files\/generations\/([1-9][0-9]{0,14})\.png$/;
const THUMB_FILE_RE = /^\/files\/thumbs\/([1-9][0-9]{0,14})\.webp$/;
// A saved grid's sheet or one of its cells: `/files/grids/<id>.png`, `/files/grids/<id>/<cell>.png`.
const GRID_FILE_RE = /^\/files\/grids\/([0-9]{13}-[0-9a-f]{8})(?:\/([0-9]{1,3}))?\.png$/;

export interface ServeOptions {
  service: ApiService;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Only loopback is accepted; present so a wrong value fails loudly instead of silently. */
  host?: string;
  /** Folder with the built renderer (index.html); default `<repo>/dist/renderer`. */
  rendererDir?: string;
  bodyLimitBytes?: number;
  /** Body limit of the methods in IMAGE_INPUT_METHODS. */
  imageBodyLimitBytes?: number;
}

export interface RunningServer {
  readonly port: number;
  readonly token: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The page to open: `http://127.0.0.1:<port>/?token=<token>` */
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly error: ApiError,
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError, headers = {}): void {
  sendJson(res, API_ERROR_HTTP_STATUS[error.code], { ok: false, error }, headers);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}

/**
 * Reads the body up to `limit` bytes. Past the limit it keeps draining (up to 16×, then drops
 * the connection) so the client still receives the 413 instead of a reset.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = new HttpError({
    code: 'payload_too_large',
    message: `request body exceeds ${limit} bytes`,
  });
  if (declared > limit * 16) return Promise.reject(tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > limit * 16) req.destroy();
    });
    req.on('end', () => (size > limit ? reject(tooLarge) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(tooLarge);
    });
  });
}

function parseJsonBody(body: Buffer): unknown {
  const text = body.toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError({
      code: 'bad_request',
      message: `request body is not valid JSON: ${(err as Error).message}`,
    });
  }
}

const NOT_BUILT_MESSAGE =
  'LoRA Studio: the web UI is not built yet.\n\n' +
  'Run `npm run build:renderer` in the repository, then reload this page.\n' +
  'The API is available meanwhile at POST /api/<method>.\n';

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? LOOPBACK_HOST;
  if (host !== LOOPBACK_HOST && host !== 'localhost') {
    throw new Error(
      `refusing to listen on "${host}": serve mode binds to loopback only ` +
        `(valid: ${LOOPBACK_HOST}, localhost)`,
    );
  }
  const requestedPort = opts.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new Error(`port ${requestedPort} is not valid (valid: 0…65535; 0 picks a free port)`);
  }
  const { service } = opts;
  const token = newToken();
  const rendererDir = path.resolve(
    opts.rendererDir ?? path.join(packageRoot(), 'dist', 'renderer'),
  );
  const bodyLimit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const imageBodyLimit = opts.imageBodyLimitBytes ?? DEFAULT_IMAGE_BODY_LIMIT_BYTES;
  let port = 0; // known once listening; every check below runs after that

  function requireBearer(req: IncomingMessage): void {
    if (!tokenMatches(token, bearerToken(req))) {
      throw new HttpError({
        code: 'unauthorized',
        message: 'missing or wrong token: send "Authorization: Bearer <token>" (printed by serve)',
      });
    }
  }

  /** `GET /jobs/<id>`: poll a job without a JSON body (same answer as jobs.get). */
  async function handleJobPoll(req: IncomingMessage, res: ServerResponse, pathname: string) {
    if (req.method !== 'GET') {
      throw new HttpError(
        { code: 'method_not_allowed', message: `${req.method} ${pathname}: use GET` },
        { Allow: 'GET' },
      );
    }
    requireBearer(req);
    let jobId: string;
    try {
      jobId = decodeURIComponent(pathname.slice(JOBS_PREFIX.length));
    } catch {
      throw new HttpError({ code: 'bad_request', message: `bad job id in ${pathname}` });
    }
    const outcome = await service.dispatch('jobs.get', { jobId });
    if (outcome.ok) sendJson(res, 200, outcome);
    else sendError(res, outcome.error);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, pathname: string) {
    if (req.method !== 'POST') {
      throw new HttpError(
        { code: 'method_not_allowed', message: `${req.method} ${pathname}: use POST` },
        { Allow: 'POST' },
      );
    }
    requireBearer(req);
    const contentType = req.headers['content-type'];
    if (contentType && !/^application\/json\s*(;|$)/i.test(contentType)) {
      throw new HttpError({
        code: 'unsupported_media_type',
        message: `Content-Type ${JSON.stringify(contentType)} is not supported (valid: application/json)`,
      });
    }
    let method: string;
    try {
      method = decodeURIComponent(pathname.slice(API_PREFIX.length));
    } catch {
      throw new HttpError({ code: 'bad_request', message: `bad method name in ${pathname}` });
    }
    const limit = IMAGE_INPUT_METHODS.includes(method as ApiMethodName)
      ? imageBodyLimit
      : bodyLimit;
    const input = parseJsonBody(await readBody(req, limit));
    const outcome = await service.dispatch(method, input);
    if (outcome.ok) sendJson(res, 200, outcome);
    else sendError(res, outcome.error);
  }

  /** Generated images, by generations row id; the row (not the URL) says which file. */
  async function handleFile(req: IncomingMessage, res: ServerResponse, rawPath: string) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(
        { code: 'method_not_allowed', message: `${req.method} ${rawPath}: use GET` },
        { Allow: 'GET, HEAD' },
      );
    }
    const given = bearerToken(req) ?? readCookie(req, cookieName(port));
    if (!tokenMatches(token, given)) {
      throw new HttpError({
        code: 'unauthorized',
        message: 'missing or wrong token: open the page with ?token=… or send a bearer token',
      });
    }
    const match = GENERATION_FILE_RE.exec(rawPath);
    const thumb = match ? null : THUMB_FILE_RE.exec(rawPath);
    const grid = match || thumb ? null : GRID_FILE_RE.exec(rawPath);
    const file = match
      ? await service.generationImagePath(Number(match[1]))
      : thumb
        ? await service.imageThumbnailPath(Number(thumb[1]))
        : grid
          ? await service.gridImagePath(
              grid[1],
              grid[2] === undefined ? undefined : Number(grid[2]),
            )
          : null;
    if (!file) {
      throw new HttpError({
        code: 'not_found',
        message: match
          ? `no image for generation #${match[1]} (no such row, or its file is gone)`
          : thumb
            ? `no thumbnail for image #${thumb[1]} (no such row, not imported, or its file is gone)`
            : grid
              ? `no grid image ${grid[1]}${grid[2] ? `/${grid[2]}` : ''}`
              : `${rawPath}: not found (valid: /files/generations/<id>.png, /files/thumbs/<id>.webp, /files/grids/<id>.png)`,
      });
    }
    sendFile(res, file, req.method === 'HEAD', {
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
  }

  function handlePage(req: IncomingMessage, res: ServerResponse, url: URL, rawPath: string) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(
        { code: 'method_not_allowed', message: `${req.method} ${rawPath}: use GET` },
        { Allow: 'GET, HEAD' },
      );
    }
    const headers: Record<string, string> = {};
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null) {
      if (!tokenMatches(token, queryToken)) {
        return sendText(res, 401, 'Wrong token. Open the URL that `lora-studio serve` printed.\n');
      }
      headers['Set-Cookie'] = sessionCookie(port, token);
    } else if (!tokenMatches(token, readCookie(req, cookieName(port)))) {
      return sendText(
        res,
        401,
        'Not authorised. Open the URL that `lora-studio serve` printed (it carries ?token=…).\n',
      );
    }
    if (!hasRenderer(rendererDir)) return sendText(res, 503, NOT_BUILT_MESSAGE);
    const resolved = resolveStaticPath(rendererDir, rawPath);
    if (!resolved.ok) return sendText(res, resolved.status, `${resolved.reason}\n`);
    if (resolved.file.endsWith('.html')) {
      const ws = allowedHosts(port)
        .map((h) => `ws://${h}`)
        .join(' ');
      headers['Content-Security-Policy'] =
        `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; ` +
        `img-src 'self' data: blob:; connect-src 'self' ${ws}; object-src 'none'; ` +
        `base-uri 'none'; frame-ancestors 'none'`;
      headers['Cache-Control'] = 'no-store';
    }
    sendFile(res, resolved.file, req.method === 'HEAD', headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const rawUrl = req.url ?? '/';
    // Keep the raw path: WHATWG URL parsing would silently collapse `..` before we can refuse it.
    const rawPath = rawUrl.split('?')[0];
    try {
      const refused = checkHostAndOrigin(req, port);
      if (refused) throw new HttpError({ code: 'forbidden', message: refused });
      const url = new URL(rawUrl, `http://${LOOPBACK_HOST}:${port}`);
      if (rawPath.startsWith(API_PREFIX)) await handleApi(req, res, rawPath);
      else if (rawPath === GENERATE_ALIAS) await handleApi(req, res, `${API_PREFIX}generate.start`);
      else if (rawPath.startsWith(JOBS_PREFIX)) await handleJobPoll(req, res, rawPath);
      else if (rawPath.startsWith(FILES_PREFIX)) await handleFile(req, res, rawPath);
      else if (rawPath === EVENTS_PATH) {
        throw new HttpError({
          code: 'bad_request',
          message: `${EVENTS_PATH} is a WebSocket endpoint (connect with ws://…${EVENTS_PATH}?token=…)`,
        });
      } else handlePage(req, res, url, rawPath);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        // Unread request bodies would otherwise stall keep-alive connections.
        if (!req.complete) res.setHeader('Connection', 'close');
        return sendError(res, err.error, err.headers);
      }
      sendError(res, { code: 'internal', message: `internal error: ${(err as Error).message}` });
    }
  }

  const server = http.createServer((req, res) => void handle(req, res));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const clients = new Set<WebSocket>();

  function rejectUpgrade(socket: Duplex, status: number, reason: string) {
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
    );
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refused = checkHostAndOrigin(req, port);
    if (refused) return rejectUpgrade(socket, 403, refused);
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}:${port}`);
    if (url.pathname !== EVENTS_PATH) return rejectUpgrade(socket, 404, 'no such endpoint');
    const given = url.searchParams.get('token') ?? readCookie(req, cookieName(port));
    if (!tokenMatches(token, given)) return rejectUpgrade(socket, 401, 'missing or wrong token');
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => ws.terminate());
      const ready: ApiEvent = {
        status: 'ready',
        appVersion: service.appVersion,
        at: new Date().toISOString(),
      };
      ws.send(JSON.stringify(ready));
    });
  });

  const unsubscribe = service.onEvent((event) => {
    const text = JSON.stringify(event);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    unsubscribe();
    throw err;
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : requestedPort;
  const origin = `http://${LOOPBACK_HOST}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    port,
    token,
    origin,
    url: `${origin}/?token=${token}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        for (const ws of clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
