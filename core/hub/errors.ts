// Errors of the hub: each carries a machine-readable code (for the UI to pick an action) and a
// message a user can act on (what failed, for which file, what to do next).

export const DOWNLOAD_ERROR_CODES = [
  /** No connection could be made (DNS failure, refused, unreachable). */
  'offline',
  /** The host stopped answering for longer than the idle timeout. */
  'timeout',
  /** 401/403: gated or private repo, or a missing/refused token. */
  'unauthorized',
  /** 404: no such repo, revision or file. */
  'not-found',
  /** Any other HTTP status we cannot use. */
  'http',
  /** The connection broke mid-body; the partial file is kept for a resume. */
  'interrupted',
  /** The finished file's sha256 differs from the expected one; the file was removed. */
  'checksum',
  /** The finished file's size differs from what the server announced. */
  'size',
  /** The caller's AbortSignal fired; the partial file is kept for a resume. */
  'cancelled',
  /** More redirects than allowed, a redirect without Location, or to a bad scheme. */
  'redirects',
  /** The repo id, file, revision, URL or destination is not acceptable. */
  'invalid-source',
  /** The destination exists already (and overwrite was not asked for). */
  'exists',
  /** Another download to the same destination is running in this process. */
  'busy',
  /** A TLS failure or another network error that is not simply "offline". */
  'network',
] as const;

export type DownloadErrorCode = (typeof DOWNLOAD_ERROR_CODES)[number];

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly details: { status?: number; url?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DownloadError';
  }
}

/** A hash computation was cancelled through its AbortSignal. */
export class HashCancelledError extends Error {
  constructor(readonly path: string) {
    super(`${path}: hashing cancelled`);
    this.name = 'HashCancelledError';
  }
}
