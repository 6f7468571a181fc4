// Where a download comes from: a Hugging Face repo file or a direct URL, checked and turned into
// the URL and headers of the first request.
import { checkScheme } from './http.js';
import { DownloadError } from './errors.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';

export interface HfFileSource {
  kind: 'hf';
  /** `owner/name` (or a legacy single name like `gpt2`). */
  repo: string;
  /** Path of the file inside the repo, e.g. `v1-5-pruned-emaonly.safetensors` or `vae/x.safetensors`. */
  file: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Hub endpoint; default https://huggingface.co (a mirror or a test server). */
  endpoint?: string;
  repoType?: 'model' | 'dataset';
  /** Access token for gated/private repos; sent to the endpoint only, never to the CDN. */
  token?: string;
}

export interface UrlSource {
  kind: 'url';
  url: string;
  /** Sent as `Authorization: Bearer …` to the URL's own origin. */
  token?: string;
}

export type DownloadSource = HfFileSource | UrlSource;

export interface ResolvedSource {
  url: URL;
  headers: Record<string, string>;
  /** transformers.js-style `name` (the repo id, or the host) and `file` for events. */
  name: string;
  file: string;
  /** Identity of the remote file, stored beside a .part so a resume never mixes two files. */
  key: string;
  hf?: { repo: string; file: string; revision: string; host: string };
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

function invalid(message: string): never {
  throw new DownloadError('invalid-source', message);
}

function checkRepoPath(file: string): string[] {
  const parts = file.split('/');
  if (
    !file ||
    file.startsWith('/') ||
    file.includes('\\') ||
    parts.some((p) => !p || p === '..' || p === '.')
  ) {
    invalid(
      `file ${JSON.stringify(file)} is not a path inside a repo (use forward slashes, no "..", no leading "/")`,
    );
  }
  return parts;
}

/** `{endpoint}/{repo}/resolve/{revision}/{path}` (datasets under `/datasets/`). */
export function hfResolveUrl(
  repo: string,
  file: string,
  revision = DEFAULT_REVISION,
  endpoint = DEFAULT_HF_ENDPOINT,
  repoType: 'model' | 'dataset' = 'model',
): URL {
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    invalid(
      `repo id ${JSON.stringify(repo)} is not valid; expected "owner/name", e.g. "stabilityai/sd-vae-ft-mse"`,
    );
  }
  if (!revision || revision.includes('..'))
    invalid(`revision ${JSON.stringify(revision)} is not valid`);
  let base: URL;
  try {
    base = new URL(endpoint);
  } catch {
    invalid(`endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. ${DEFAULT_HF_ENDPOINT})`);
  }
  checkScheme(base, 'endpoint');
  const path = checkRepoPath(file).map(encodeURIComponent).join('/');
  const prefix = repoType === 'dataset' ? 'datasets/' : '';
  // A revision like "refs/pr/1" is one path segment, so its slashes are encoded.
  const rel = `${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
  return new URL(rel, base.href.endsWith('/') ? base.href : `${base.href}/`);
}

const USER_AGENT = 'lora-studio (node)';

export function resolveSource(source: DownloadSource): ResolvedSource {
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    // Byte counts must be the file's own: no transparent compression.
    'accept-encoding': 'identity',
  };
  if (source.token !== undefined) {
    if (!/^[\x21-\x7e]+$/.test(source.token))
      invalid('the access token holds spaces or non-ASCII characters');
    headers.authorization = `Bearer ${source.token}`;
  }
  if (source.kind === 'hf') {
    const revision = source.revision ?? DEFAULT_REVISION;
    const url = hfResolveUrl(source.repo, source.file, revision, source.endpoint, source.repoType);
    return {
      url,
      headers,
      name: source.repo,
      file: source.file,
      key: url.href,
      hf: { repo: source.repo, file: source.file, revision, host: url.host },
    };
  }
  if (source.kind !== 'url') {
    invalid(
      `unknown source kind ${JSON.stringify((source as { kind: unknown }).kind)}; valid: hf, url`,
    );
  }
  let url: URL;
  try {
    url = new URL(source.url);
  } catch {
    invalid(`${JSON.stringify(source.url)} is not a URL`);
  }
  checkScheme(url, 'URL');
  const file = decodeURIComponent(url.pathname.split('/').pop() ?? '') || 'download';
  return { url, headers, name: url.host, file, key: url.href };
}
