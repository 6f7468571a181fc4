// The captioning models the dataset screen offers, as Hugging Face repo files fetched on
// demand with downloadFile (resume, progress, offline error). sha256 is left undefined where
// it could not be checked offline; large LFS files are still verified against the sha256 the
// Hub announces (X-Linked-Etag) on download.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadFile, type DownloadEvent } from './download.js';

export type CaptionModelKind = 'tagger' | 'captioner';

export interface CaptionModelFile {
  /** What the file is to the model's loader. */
  role: 'model' | 'tags' | 'vision' | 'decoder' | 'tokenizer';
  /** Path inside the repo. */
  file: string;
  sha256?: string;
}

export interface CaptionModelEntry {
  id: string;
  kind: CaptionModelKind;
  label: string;
  repo: string;
  revision?: string;
  files: readonly CaptionModelFile[];
}

export const CAPTION_MODELS: readonly CaptionModelEntry[] = Object.freeze([
  {
    id: 'wd-swinv2-tagger-v3',
    kind: 'tagger',
    label: 'WD SwinV2 tagger v3 (booru tags)',
    repo: 'SmilingWolf/wd-swinv2-tagger-v3',
    files: [
      { role: 'model', file: 'model.onnx' },
      { role: 'tags', file: 'selected_tags.csv' },
    ],
  },
  {
    id: 'wd-v1-4-moat-tagger-v2',
    kind: 'tagger',
    label: 'WD 1.4 MOAT tagger v2 (booru tags)',
    repo: 'SmilingWolf/wd-v1-4-moat-tagger-v2',
    files: [
      { role: 'model', file: 'model.onnx' },
      { role: 'tags', file: 'selected_tags.csv' },
    ],
  },
  {
    id: 'blip-image-captioning-base',
    kind: 'captioner',
    label: 'BLIP base (sentences)',
    repo: 'Xenova/blip-image-captioning-base',
    files: [
      { role: 'vision', file: 'onnx/vision_model.onnx' },
      { role: 'decoder', file: 'onnx/text_decoder_model_merged.onnx' },
      { role: 'tokenizer', file: 'tokenizer.json' },
    ],
  },
]);

export function captionModelEntry(id: string): CaptionModelEntry {
  const e = CAPTION_MODELS.find((m) => m.id === id);
  if (!e) {
    throw new Error(
      `unknown caption model "${id}"; known: ${CAPTION_MODELS.map((m) => m.id).join(', ')}`,
    );
  }
  return e;
}

/** Where an entry's files live under a models root: `<root>/<owner>--<name>/<file>`. */
export function captionModelDir(root: string, entry: CaptionModelEntry): string {
  return join(root, entry.repo.replace('/', '--'));
}

export type CaptionModelPaths = Partial<Record<CaptionModelFile['role'], string>>;

const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

/** Local paths of the entry's files, and which are not there yet. */
export async function localCaptionModel(
  root: string,
  entry: CaptionModelEntry,
): Promise<{ paths: CaptionModelPaths; missing: CaptionModelFile[] }> {
  const dir = captionModelDir(root, entry);
  const paths: CaptionModelPaths = {};
  const missing: CaptionModelFile[] = [];
  for (const f of entry.files) {
    paths[f.role] = join(dir, f.file);
    if (!(await isFile(paths[f.role]!))) missing.push(f);
  }
  return { paths, missing };
}

export interface EnsureOptions {
  endpoint?: string;
  token?: string;
  signal?: AbortSignal;
  /** Each file's events, plus which file of how many it is (0-based). */
  onEvent?: (event: DownloadEvent, index: number, count: number) => void;
}

/** Downloads the entry's missing files (resuming any .part) and returns every local path. */
export async function ensureCaptionModel(
  root: string,
  entry: CaptionModelEntry,
  opts: EnsureOptions = {},
): Promise<CaptionModelPaths> {
  const { paths, missing } = await localCaptionModel(root, entry);
  for (const [i, f] of missing.entries()) {
    await downloadFile(
      {
        kind: 'hf',
        repo: entry.repo,
        file: f.file,
        revision: entry.revision,
        endpoint: opts.endpoint,
        token: opts.token,
      },
      {
        dest: paths[f.role]!,
        sha256: f.sha256,
        signal: opts.signal,
        onEvent: (e) => opts.onEvent?.(e, i, missing.length),
      },
    );
  }
  return paths;
}
