// Model downloads: resumable (HTTP Range into `<dest>.part`), verified (sha256 from the caller or
// from Hugging Face's X-Linked-Etag), observable (transformers.js-style events) and cancellable
// (AbortSignal; the .part stays for the next try). A file appears under its final name only
// after it is complete and verified, so a scan never sees half a model.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DownloadError } from './errors.js';
import { exists, fileSize, hashPrefix, readPartInfo, sleep, type PartInfo } from './part-file.js';
import {
  getFollowingRedirects,
  header,
  networkError,
  readSmallBody,
  type LinkedInfo,
  type OpenedResponse,
} from './http.js';
import { ProgressTracker, type ProgressFigures } from './progress.js';
import { resolveSource, type DownloadSource, type ResolvedSource } from './source.js';
import { describeHttpError } from './status.js';

export type DownloadEvent =
  | { status: 'initiate'; name: string; file: string; url: string }
  | { status: 'download'; name: string; file: string; resumeFrom: number; total?: number }
  | ({ status: 'progress'; name: string; file: string } & ProgressFigures)
  | { status: 'done'; name: string; file: string; path: string; size: number; sha256: string };

export interface DownloadOptions {
  /** Final path of the file; `<dest>.part` and `<dest>.part.json` hold an unfinished transfer. */
  dest: string;
  /** Expected sha256 (hex); checked in addition to the one the source announces. */
  sha256?: string;
  signal?: AbortSignal;
  onEvent?: (event: DownloadEvent) => void;
  /** Socket inactivity limit, connecting included (default 60 s). */
  idleTimeoutMs?: number;
  /** Default 10 (Hugging Face needs 1: resolve → CDN). */
  maxRedirects?: number;
  /** Automatic resumes after a cut connection or a timeout within this call (default 2). */
  retries?: number;
  /** Pause before each automatic resume (default 1000 ms, doubled each time). */
  retryDelayMs?: number;
  /** Minimum time between progress events (default 250 ms); the last one is always sent. */
  progressIntervalMs?: number;
  /** Replace an existing `dest` (default false: an existing file is an error). */
  overwrite?: boolean;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Which expected hashes the file was checked against (empty: none was available). */
  verifiedAgainst: ('caller' | 'source')[];
  /** Bytes that were already in the .part when this call started its last transfer. */
  resumedFrom: number;
  /** The URL the bytes came from (after redirects). */
  url: string;
  /** Hugging Face: the commit the revision resolved to (X-Repo-Commit). */
  commit?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const active = new Set<string>();

function sourceSha(linked: LinkedInfo, res: OpenedResponse, fromHub: boolean): string | undefined {
  // LFS files: X-Linked-Etag is the sha256 of the content. Like huggingface_hub, fall back to
  // the ETag, but only for Hub sources and only when it has a sha256's length (the Hub's ETag of
  // a small non-LFS file is a git blob sha1); other servers' ETags (S3's md5, opaque ids) are
  // never taken for a checksum, so a valid file is never rejected on a guess.
  const etag =
    linked.etag ?? (fromHub ? header(res.res, 'etag')?.replace(/^W\/|"/g, '') : undefined);
  const v = etag?.toLowerCase();
  return v && SHA256_HEX.test(v) ? v : undefined;
}

function parseContentRange(v: string | undefined): { start?: number; total?: number } {
  const m = v && /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return {};
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}

/** Download one file. Throws DownloadError (see its `code`) on every failure. */
export async function downloadFile(
  source: DownloadSource,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const src = resolveSource(source);
  const dest = resolve(options.dest);
  if (active.has(dest)) {
    throw new DownloadError(
      'busy',
      `${dest} is already being downloaded; wait for it or cancel it`,
    );
  }
  active.add(dest);
  try {
    return await run(src, dest, options);
  } finally {
    active.delete(dest);
  }
}

async function run(src: ResolvedSource, dest: string, o: DownloadOptions): Promise<DownloadResult> {
  const part = `${dest}.part`;
  const infoPath = `${dest}.part.json`;
  const expected = o.sha256?.toLowerCase();
  if (expected !== undefined && !SHA256_HEX.test(expected)) {
    throw new DownloadError(
      'invalid-source',
      `sha256 ${JSON.stringify(o.sha256)} is not 64 hex digits`,
    );
  }
  if (!o.overwrite && (await exists(dest))) {
    throw new DownloadError(
      'exists',
      `${dest} exists already; choose another name or allow overwriting`,
    );
  }
  await mkdir(dirname(dest), { recursive: true });
  const emit = (e: DownloadEvent) => o.onEvent?.(e);
  const ids = { name: src.name, file: src.file };
  // The sidecar holds a hash of the URL, not the URL: signed URLs carry tokens.
  const key = createHash('sha256').update(src.key).digest('hex');
  emit({ status: 'initiate', ...ids, url: src.url.href });

  const idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
  const tracker = new ProgressTracker(o.progressIntervalMs ?? 250);
  const retries = o.retries ?? 2;
  let delay = o.retryDelayMs ?? 1000;
  let restartFrom: number | undefined;
  for (let attempt = 0; ;) {
    const prior = await readPartInfo(infoPath);
    const start = restartFrom ?? (prior?.key === key ? await fileSize(part) : 0);
    restartFrom = undefined;
    const state = { part, infoPath, key, expected, start, prior, tracker, idleTimeoutMs, ids };
    try {
      return await transfer(src, dest, o, state);
    } catch (e) {
      if (e instanceof Restart) {
        restartFrom = e.from;
        continue;
      }
      const retriable =
        e instanceof DownloadError && (e.code === 'interrupted' || e.code === 'timeout');
      if (!retriable || attempt >= retries) throw e;
      attempt++;
      await sleep(delay, o.signal);
      delay *= 2;
    }
  }
}

/** Thrown inside one transfer to start over at `from` (0: the .part is not reusable). */
class Restart {
  constructor(readonly from: number) {}
}

interface TransferState {
  part: string;
  infoPath: string;
  key: string;
  expected?: string;
  start: number;
  prior?: PartInfo;
  tracker: ProgressTracker;
  idleTimeoutMs: number;
  ids: { name: string; file: string };
}

async function transfer(
  src: ResolvedSource,
  dest: string,
  o: DownloadOptions,
  s: TransferState,
): Promise<DownloadResult> {
  // Hash the kept prefix before asking for the rest, so the socket never idles meanwhile.
  let hash = createHash('sha256');
  await hashPrefix(s.part, s.start, hash, src.file, o.signal);
  const headers = { ...src.headers };
  if (s.start > 0) headers.range = `bytes=${s.start}-`;
  const opened = await getFollowingRedirects(src.url, {
    headers,
    signal: o.signal,
    idleTimeoutMs: s.idleTimeoutMs,
    maxRedirects: o.maxRedirects ?? 10,
  });
  const { res, linked } = opened;
  const status = res.statusCode ?? 0;
  const fromSource = sourceSha(linked, opened, src.hf !== undefined);
  let offset = 0;
  let total: number | undefined;
  const unexpected = (why: string) => {
    opened.destroy();
    return new DownloadError('http', `${opened.url.host} ${why} for ${src.file}`, {
      status,
      url: opened.url.href,
    });
  };
  if (s.start > 0 && s.prior?.sha256 && fromSource && s.prior.sha256 !== fromSource) {
    opened.destroy(); // the remote file changed since the .part was started
    throw new Restart(0);
  }
  if (status === 206) {
    const cr = parseContentRange(header(res, 'content-range'));
    if (cr.start !== s.start) {
      if (s.start === 0)
        throw unexpected(`sent bytes from ${cr.start} when the whole file was asked`);
      opened.destroy(); // a range we did not ask for: start clean rather than splice
      throw new Restart(0);
    }
    offset = s.start;
    total = cr.total ?? linked.size;
  } else if (status === 200) {
    // Also the answer of a server that ignores Range: then the .part is rewritten from byte 0.
    const length = Number(header(res, 'content-length'));
    total = Number.isSafeInteger(length) && length >= 0 ? length : linked.size;
    if (s.start > 0) hash = createHash('sha256');
  } else if (status === 416 && s.start > 0) {
    const cr = parseContentRange(header(res, 'content-range'));
    opened.destroy();
    if (cr.total !== s.start) throw new Restart(0);
    offset = total = s.start; // the .part is already whole
  } else {
    const body = await readSmallBody(res);
    throw describeHttpError(status, res, body, src, opened.url);
  }
  const info: PartInfo = { key: s.key, sha256: fromSource, total };
  await writeFile(s.infoPath, JSON.stringify(info));

  let loaded = offset;
  const report = (force: boolean) => {
    const f = s.tracker.next(loaded, total, force);
    if (f) o.onEvent?.({ status: 'progress', ...s.ids, ...f });
  };
  const fh = await open(s.part, offset > 0 ? 'r+' : 'w');
  try {
    await fh.truncate(offset);
    o.onEvent?.({
      status: 'download',
      ...s.ids,
      resumeFrom: offset,
      ...(total === undefined ? {} : { total }),
    });
    if (status !== 416) {
      loaded = await pump(opened, fh, hash, offset, src.file, s.tracker, (n) => {
        loaded = n;
        report(false);
      });
    }
    if (total !== undefined && loaded !== total) {
      throw new DownloadError(
        'interrupted',
        `the transfer of ${src.file} from ${opened.url.host} ended after ${loaded} of ${total} bytes; ` +
          'the partial file is kept — retry to resume',
        { url: opened.url.href },
      );
    }
    await fh.sync();
  } finally {
    await fh.close();
  }

  const sha256 = hash.digest('hex');
  const verifiedAgainst: ('caller' | 'source')[] = [];
  for (const [who, want] of [
    ['caller', s.expected],
    ['source', fromSource],
  ] as const) {
    if (want === undefined) continue;
    if (want !== sha256) {
      await rm(s.part, { force: true });
      await rm(s.infoPath, { force: true });
      const from = who === 'caller' ? 'given' : `announced by ${src.url.host}`;
      throw new DownloadError(
        'checksum',
        `checksum mismatch for ${src.file}: expected sha256 ${want} (${from}), got ${sha256}. ` +
          'The file was rejected and removed; retry the download.',
        { url: opened.url.href },
      );
    }
    verifiedAgainst.push(who);
  }
  await rename(s.part, dest);
  await rm(s.infoPath, { force: true });
  // The last progress event says 100 % (total is now known even if the server never said it).
  total = loaded;
  report(true);
  o.onEvent?.({ status: 'done', ...s.ids, path: dest, size: loaded, sha256 });
  return {
    path: dest,
    size: loaded,
    sha256,
    verifiedAgainst,
    resumedFrom: offset,
    url: opened.url.href,
    ...(linked.commit ? { commit: linked.commit } : {}),
  };
}

/** Stream the body into the .part at `offset`; returns the bytes on disk afterwards. */
async function pump(
  opened: OpenedResponse,
  fh: FileHandle,
  hash: Hash,
  offset: number,
  file: string,
  tracker: ProgressTracker,
  onBytes: (loaded: number) => void,
): Promise<number> {
  let loaded = offset;
  try {
    for await (const chunk of opened.res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      // Awaiting each write is the backpressure: the socket is not read faster than the disk.
      await fh.write(chunk, 0, chunk.length, loaded);
      loaded += chunk.length;
      tracker.addReceived(chunk.length);
      onBytes(loaded);
    }
  } catch (e) {
    const err = networkError(e, opened.url, opened.state);
    if (err.code === 'network' || err.code === 'offline') {
      throw new DownloadError(
        'interrupted',
        `the connection to ${opened.url.host} was cut after ${loaded} bytes of ${file}; ` +
          'the partial file is kept — retry to resume',
        { url: opened.url.href, cause: e },
      );
    }
    throw err;
  }
  return loaded;
}
