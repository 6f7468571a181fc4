// Serves the built renderer (dist/renderer). Request paths are untrusted: every segment is
// decoded and checked, and the final file must resolve (symlinks included) inside the root.
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
});

export type ResolvedPath =
  { ok: true; file: string } | { ok: false; status: 400 | 404; reason: string };

/**
 * Maps a raw request path (before any normalisation) to a file inside `root`.
 * Refuses `..`/`.` segments (plain or percent-encoded), empty segments, backslashes, NUL,
 * drive letters and anything that resolves outside `root`; unknown extension-less paths fall back to
 * index.html so client-side routes survive a reload.
 */
export function resolveStaticPath(root: string, rawPath: string): ResolvedPath {
  const segments: string[] = [];
  const parts = rawPath.split('/').slice(1);
  // `//x` smuggles an absolute path; only a trailing slash may leave a segment empty.
  if (parts.slice(0, -1).includes('')) {
    return { ok: false, status: 400, reason: `path not allowed: ${JSON.stringify(rawPath)}` };
  }
  for (const raw of parts) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return {
        ok: false,
        status: 400,
        reason: `bad percent-encoding in ${JSON.stringify(rawPath)}`,
      };
    }
    if (seg === '..' || seg === '.' || /[\\/\0:]/.test(seg)) {
      return { ok: false, status: 400, reason: `path not allowed: ${JSON.stringify(rawPath)}` };
    }
    if (seg !== '') segments.push(seg);
  }
  const realRoot = fs.realpathSync(root);
  const candidate = path.join(realRoot, ...segments);
  let file = candidate;
  let stat = statOrNull(file);
  if (stat?.isDirectory()) {
    file = path.join(candidate, 'index.html');
    stat = statOrNull(file);
  }
  if (!stat?.isFile()) {
    const last = segments[segments.length - 1] ?? '';
    if (path.extname(last) !== '') return { ok: false, status: 404, reason: 'not found' };
    file = path.join(realRoot, 'index.html');
  }
  const real = realpathOrNull(file);
  if (!real) return { ok: false, status: 404, reason: 'not found' };
  const rel = path.relative(realRoot, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    return { ok: false, status: 400, reason: `path not allowed: ${JSON.stringify(rawPath)}` };
  }
  return { ok: true, file: real };
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

function realpathOrNull(file: string): string | null {
  try {
    return fs.realpathSync(file);
  } catch {
    return null;
  }
}

export function hasRenderer(root: string): boolean {
  return statOrNull(path.join(root, 'index.html'))?.isFile() ?? false;
}

export function sendFile(
  res: ServerResponse,
  file: string,
  headOnly: boolean,
  extraHeaders: Record<string, string> = {},
): void {
  const ext = path.extname(file).toLowerCase();
  const size = fs.statSync(file).size;
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': String(size),
    // Vite's hashed assets could be cached forever, but a local server gains nothing from it
    // and a rebuilt UI must show up on reload.
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...extraHeaders,
  });
  if (headOnly) {
    res.end();
    return;
  }
  fs.createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
