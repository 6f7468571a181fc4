// Starts a real loopback server on an ephemeral port over a temp data dir, plus raw HTTP
// helpers (node:http, because fetch would normalise paths and drop the Host header).
import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';
import {
  createApiService,
  type ApiService,
  type ApiServiceOptions,
} from '../../core/service/index.js';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

export interface Harness {
  dir: string;
  service: ApiService;
  server: RunningServer;
  /** POST /api/<method> with the right token unless overridden. */
  api(method: string, input?: unknown, headers?: Record<string, string>): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function rawRequest(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: { Host: `127.0.0.1:${port}`, ...req.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text) as unknown,
          });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

export async function startHarness(
  opts: { rendererDir?: string; generate?: ApiServiceOptions['generate'] } = {},
): Promise<Harness> {
  const dir = makeTempDir();
  const service = createApiService({ dataDir: dir, generate: opts.generate });
  const rendererDir = opts.rendererDir ?? path.join(dir, 'no-renderer');
  const server = await startServer({ service, port: 0, rendererDir });
  return {
    dir,
    service,
    server,
    api(method, input, headers = {}) {
      const body = input === undefined ? '' : JSON.stringify(input);
      return rawRequest(server.port, {
        method: 'POST',
        path: `/api/${method}`,
        headers: {
          Authorization: `Bearer ${server.token}`,
          'Content-Type': 'application/json',
          ...headers,
        },
        body,
      });
    },
    async close() {
      await server.close();
      service.close();
      removeDir(dir);
    },
  };
}

/** A minimal built renderer: index.html, one asset, and a secret file next to the root. */
export function makeRendererDir(base: string): string {
  const root = path.join(base, 'renderer');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>LoRA Studio</title>');
  fs.writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log("app")');
  fs.writeFileSync(path.join(base, 'secret.txt'), 'TOP SECRET');
  return root;
}
