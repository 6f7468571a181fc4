// HTTP error statuses turned into messages that name the repo/file and say what to do.
// Hugging Face adds `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo,
// DisabledRepo) and `X-Error-Message`; we use them when present. Note that the Hub answers 401,
// not 404, for a repo that does not exist when no token is sent (it does not reveal private repos).
import type { IncomingMessage } from 'node:http';
import { DownloadError } from './errors.js';
import { header } from './http.js';
import type { ResolvedSource } from './source.js';

function hint(res: IncomingMessage, body: string): string {
  const fromHub = header(res, 'x-error-message');
  if (fromHub) return ` (${fromHub})`;
  const text = body.replace(/\s+/g, ' ').trim();
  // HTML error pages say nothing useful in a sentence; short text/JSON bodies often do.
  if (!text || text.startsWith('<')) return '';
  return ` (${text.length > 200 ? `${text.slice(0, 200)}…` : text})`;
}

export function describeHttpError(
  status: number,
  res: IncomingMessage,
  body: string,
  src: ResolvedSource,
  url: URL,
): DownloadError {
  const code = header(res, 'x-error-code');
  const statusText = `${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
  const details = { status, url: url.href };
  const more = hint(res, body);
  const hasToken = src.headers.authorization !== undefined;
  const hf = src.hf;
  if (hf) {
    const where = `${hf.repo}: "${hf.file}" at revision "${hf.revision}"`;
    if (code === 'GatedRepo') {
      return new DownloadError(
        'unauthorized',
        `${hf.repo} is a gated repo (${statusText}): accept its terms on its page on ${hf.host} while logged in, ` +
          `then set a Hugging Face access token${hasToken ? ' of that account' : ''} in Settings and retry${more}`,
        details,
      );
    }
    if (status === 401 || status === 403) {
      return new DownloadError(
        'unauthorized',
        hasToken
          ? `${hf.host} refused the access token for ${where} (${statusText}): the token has no read access to this repo, ` +
              `or its terms were not accepted — check the token and the model page${more}`
          : `${hf.host} refused ${where} (${statusText}): the repo is gated or private (or does not exist) — ` +
              `set a Hugging Face access token in Settings, accept the model's terms on its page, and retry${more}`,
        details,
      );
    }
    if (status === 404) {
      const what =
        code === 'RevisionNotFound'
          ? `${hf.repo} has no revision "${hf.revision}"`
          : code === 'RepoNotFound'
            ? `there is no repo "${hf.repo}" on ${hf.host}`
            : code === 'EntryNotFound'
              ? `${hf.repo} has no file "${hf.file}" at revision "${hf.revision}"`
              : `not found on ${hf.host}: ${where}`;
      return new DownloadError(
        'not-found',
        `${what} (${statusText}) — check the repo id, file name and revision${more}`,
        details,
      );
    }
    return new DownloadError(
      'http',
      `${hf.host} answered ${statusText} for ${where}${more}`,
      details,
    );
  }
  if (status === 401 || status === 403) {
    return new DownloadError(
      'unauthorized',
      `${url.host} refused ${src.file} (${statusText}): the download needs a login or an access token` +
        `${hasToken ? ' other than the one given' : ''}${more}`,
      details,
    );
  }
  if (status === 404 || status === 410) {
    return new DownloadError(
      'not-found',
      `${src.url.href} does not exist (${statusText}) — check the link${more}`,
      details,
    );
  }
  return new DownloadError(
    'http',
    `${url.host} answered ${statusText} for ${src.file}${more}`,
    details,
  );
}
