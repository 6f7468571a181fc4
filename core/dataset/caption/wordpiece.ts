// BERT's WordPiece tokenizer (what BLIP's text decoder reads and writes): a basic pass that
// lower-cases, strips accents and splits on whitespace, punctuation and CJK characters, then
// greedy longest-match pieces with `##` continuations. Loads `vocab.txt` (one token per line,
// the id is the line number) or a tokenizers `tokenizer.json` (WordPiece model + added tokens).

export interface WordPieceOptions {
  lowercase?: boolean;
  unkToken?: string;
  /** Words longer than this become the unknown token (BERT: 100). */
  maxCharsPerWord?: number;
}

const isPunct = (ch: string) => /[\p{P}\p{S}]/u.test(ch) && !/[\p{L}\p{N}]/u.test(ch);
const isCjk = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0xf900 && cp <= 0xfaff);

/** Text after BERT's punctuation rules: ASCII symbols (`$`, `^`, …) count as punctuation too. */
function basicTokens(text: string, lowercase: boolean): string[] {
  let t = text.replace(/\p{Cc}/gu, ' ');
  if (lowercase)
    t = t
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
  const out: string[] = [];
  let cur = '';
  const flush = () => {
    if (cur) out.push(cur);
    cur = '';
  };
  for (const ch of t) {
    const cp = ch.codePointAt(0)!;
    if (/\s/u.test(ch)) flush();
    else if (isPunct(ch) || isCjk(cp)) {
      flush();
      out.push(ch);
    } else cur += ch;
  }
  flush();
  return out;
}

export class WordPieceTokenizer {
  private readonly byToken: ReadonlyMap<string, number>;
  private readonly special: ReadonlySet<number>;
  private readonly lowercase: boolean;
  private readonly unk: string;
  private readonly maxChars: number;

  constructor(
    /** Token of each id (holes allowed where a tokenizer.json skips ids). */
    private readonly tokens: readonly (string | undefined)[],
    specialTokens: readonly string[] = [],
    opts: WordPieceOptions = {},
  ) {
    const map = new Map<string, number>();
    tokens.forEach((t, id) => t !== undefined && !map.has(t) && map.set(t, id));
    this.byToken = map;
    this.lowercase = opts.lowercase ?? true;
    this.unk = opts.unkToken ?? '[UNK]';
    this.maxChars = opts.maxCharsPerWord ?? 100;
    if (!map.has(this.unk)) {
      throw new Error(`the vocabulary has no unknown token "${this.unk}"`);
    }
    const bracketed = tokens.filter((t): t is string => !!t && /^\[[A-Z]+\]$/.test(t));
    this.special = new Set(
      [...specialTokens, ...bracketed].map((t) => map.get(t)).filter((i) => i !== undefined),
    );
  }

  /** From `vocab.txt`: one token per line. */
  static fromVocabTxt(text: string, opts?: WordPieceOptions): WordPieceTokenizer {
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    return new WordPieceTokenizer(lines, [], opts);
  }

  /** From a Hugging Face tokenizers `tokenizer.json` with a WordPiece model. */
  static fromTokenizerJson(json: unknown): WordPieceTokenizer {
    const j = json as {
      model?: { type?: string; vocab?: Record<string, number>; unk_token?: string };
      normalizer?: { lowercase?: boolean } | null;
      added_tokens?: { id: number; content: string; special?: boolean }[];
    };
    if (j.model?.type !== 'WordPiece' || !j.model.vocab) {
      throw new Error(
        `tokenizer.json has a "${j.model?.type ?? 'missing'}" model; expected WordPiece (BERT)`,
      );
    }
    const tokens: (string | undefined)[] = [];
    for (const [t, id] of Object.entries(j.model.vocab)) tokens[id] = t;
    const special: string[] = [];
    for (const a of j.added_tokens ?? []) {
      tokens[a.id] = a.content;
      if (a.special) special.push(a.content);
    }
    return new WordPieceTokenizer(tokens, special, {
      lowercase: j.normalizer?.lowercase ?? true,
      unkToken: j.model.unk_token,
    });
  }

  /** Either file format, told apart by its content. */
  static fromFile(text: string): WordPieceTokenizer {
    return text.trimStart().startsWith('{')
      ? WordPieceTokenizer.fromTokenizerJson(JSON.parse(text))
      : WordPieceTokenizer.fromVocabTxt(text);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  idOf(token: string): number | undefined {
    return this.byToken.get(token);
  }

  tokenOf(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Token strings of a text (no special tokens added). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const word of basicTokens(text, this.lowercase)) {
      const chars = [...word];
      if (chars.length > this.maxChars) {
        out.push(this.unk);
        continue;
      }
      const pieces: string[] = [];
      let start = 0;
      while (start < chars.length) {
        let end = chars.length;
        let piece: string | undefined;
        for (; end > start; end--) {
          const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
          if (this.byToken.has(sub)) {
            piece = sub;
            break;
          }
        }
        if (!piece) break;
        pieces.push(piece);
        start = end;
      }
      // A word with any unmatched part is one unknown token, as in BERT.
      if (start < chars.length) out.push(this.unk);
      else out.push(...pieces);
    }
    return out;
  }

  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.byToken.get(t)!);
  }

  /** Ids back to text: special tokens skipped, `##` pieces glued, BERT's spacing clean-up. */
  decode(ids: readonly number[], skipSpecial = true): string {
    const words: string[] = [];
    for (const id of ids) {
      if (skipSpecial && this.special.has(id)) continue;
      const t = this.tokens[id] ?? this.unk;
      if (t.startsWith('##') && words.length) words[words.length - 1] += t.slice(2);
      else words.push(t);
    }
    return words
      .join(' ')
      .replace(/ ([.?!,])/g, '$1')
      .replace(/ ' /g, "'")
      .replace(/ (n't|'m|'s|'ve|'re)\b/g, '$1')
      .trim();
  }
}
