// A1111 (stable-diffusion-webui) prompt syntax: emphasis brackets, explicit weights, escapes,
// BREAK, and extra-network tags such as <lora:name:0.8>. Written from the documented behaviour of
// `prompt_parser.parse_prompt_attention` and `extra_networks.parse_prompt`, so a prompt copied
// from A1111 or Civitai weighs its words the way it did there. Prompt editing (`[a:b:0.5]`) and
// alternation (`[a|b]`) are not interpreted: like parse_prompt_attention alone, they stay text.

/** A run of prompt text and its emphasis weight (1 = neutral). */
export interface WeightedText {
  readonly text: string;
  readonly weight: number;
}

/** A `<lora:…>` / `<lyco:…>` tag. */
export interface LoraRef {
  /** The name as typed (A1111 resolves it against file names and aliases). */
  readonly name: string;
  /** Text-encoder multiplier: 2nd positional argument or `te=`; 1 when absent. */
  readonly multiplier: number;
  /** UNet multiplier: 3rd positional argument or `unet=`; equals `multiplier` when absent. */
  readonly unetMultiplier: number;
  /** LyCORIS dynamic dimension: 4th positional argument or `dyn=`. */
  readonly dynDim?: number;
  readonly tag: 'lora' | 'lyco';
}

/** Any other `<type:args>` tag (`<hypernet:…>` …): A1111 removes these from the text too. */
export interface ExtraNetworkRef {
  readonly type: string;
  readonly args: readonly string[];
}

export interface ParsedPrompt {
  /** One array per BREAK-separated part; each part is its weighted text runs, equal weights merged. */
  readonly segments: readonly (readonly WeightedText[])[];
  readonly loras: readonly LoraRef[];
  readonly extraNetworks: readonly ExtraNetworkRef[];
}

/** A prompt that cannot be turned into conditioning (A1111 would fail the generation too). */
export class PromptSyntaxError extends Error {
  override name = 'PromptSyntaxError';
}

const ROUND = 1.1;
const SQUARE = 1 / 1.1;
/**
 * Open brackets allowed at once. A run is multiplied once per bracket open around it, so this
 * bounds the work at runs × MAX_NESTING; real prompts stay under ten levels.
 */
export const MAX_NESTING = 1000;

// A1111's attention lexer, alternatives in its order: escapes, a lone backslash (dropped), brackets,
// `:weight)` closing a round bracket, and text runs that stop at any of `\()[]:`.
const ATTENTION = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/gu;

// `\s*\bBREAK\b\s*` with Python's Unicode word boundary (JS `\b` only knows ASCII).
const BREAK_RE = /\s*(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])\s*/u;

// A1111's `<(\w+):([^>]+)>` with Python's Unicode `\w`.
const EXTRA_NET = /<([\p{L}\p{N}_]+):([^>]+)>/gu;

// A value quoted in an error message, shortened so a pasted 10 000-character prompt stays readable.
function quoted(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

/** Marker between BREAK-separated parts in {@link parseAttention}'s flat output. */
export const BREAK = Symbol('BREAK');

/**
 * The flat list A1111's parse_prompt_attention returns: weighted text runs in order with
 * {@link BREAK} markers, adjacent equal weights merged, empty runs dropped.
 *
 * Semantics: `(x)` ×1.1, `[x]` ÷1.1, `(x:1.3)` ×1.3, nesting multiplies; `\(` `\)` `\[` `\]` `\\`
 * are literal; an unclosed `(` / `[` applies its factor to the rest of the prompt; a stray `)` or
 * `]` is literal text, as is `(a:abc)`'s `:abc` (only `[+-]?[.\d]+` is a weight, so `1e3` is text).
 * One deliberate difference: A1111 multiplies its BREAK marker along with the text, so a BREAK
 * inside brackets stops being recognised and the word "BREAK" gets encoded; here it always breaks.
 *
 * Cost: every closing bracket multiplies the runs it encloses in closing order, as A1111 does
 * (so the floats match A1111's bit for bit); text between two brackets is one run, and at most
 * {@link MAX_NESTING} brackets may be open, so the work is at most runs × MAX_NESTING.
 */
export function parseAttention(text: string): (WeightedText | typeof BREAK)[] {
  const texts: string[] = [];
  const weights: number[] = [];
  const isBreak: boolean[] = [];
  const round: number[] = [];
  const square: number[] = [];
  // Whether the last run may absorb new text: no bracket event and no BREAK since it was pushed,
  // so both always receive the same multiplications.
  let open = false;

  const pushText = (piece: string) => {
    const parts = piece.split(BREAK_RE);
    parts.forEach((part, i) => {
      if (i > 0) {
        texts.push('');
        weights.push(1);
        isBreak.push(true);
        open = false;
      }
      if (open) texts[texts.length - 1] += part;
      else {
        texts.push(part);
        weights.push(1);
        isBreak.push(false);
        open = true;
      }
    });
  };
  const multiply = (start: number, factor: number) => {
    for (let p = start; p < weights.length; p++) weights[p] *= factor;
    open = false;
  };

  for (const m of text.matchAll(ATTENTION)) {
    const tok = m[0];
    const weight = m[1];
    if (tok[0] === '\\') pushText(tok.slice(1));
    else if (tok === '(' || tok === '[') {
      if (round.length + square.length >= MAX_NESTING)
        throw new PromptSyntaxError(
          `more than ${MAX_NESTING} brackets are open at offset ${m.index}; ` +
            'close them or escape literal ones as \\( and \\[',
        );
      (tok === '(' ? round : square).push(texts.length);
      open = false;
    } else if (weight !== undefined && round.length > 0) {
      const w = Number(weight);
      if (!Number.isFinite(w))
        throw new PromptSyntaxError(
          `weight ${quoted(weight)} in ${quoted(tok)} is ` +
            (Number.isNaN(w) ? 'not a number; write (text:1.2)' : 'too large to represent'),
        );
      multiply(round.pop()!, w);
    } else if (tok === ')' && round.length > 0) multiply(round.pop()!, ROUND);
    else if (tok === ']' && square.length > 0) multiply(square.pop()!, SQUARE);
    else pushText(tok);
  }
  for (const start of round) multiply(start, ROUND);
  for (const start of square) multiply(start, SQUARE);

  // Merge adjacent equal weights (empty runs included, as A1111 does), then drop empty runs.
  const out: (WeightedText | typeof BREAK)[] = [];
  let pending: { text: string; weight: number } | undefined;
  const flush = () => {
    if (pending && pending.text !== '') out.push({ text: pending.text, weight: pending.weight });
    pending = undefined;
  };
  for (let i = 0; i < texts.length; i++) {
    if (isBreak[i]) {
      flush();
      out.push(BREAK);
      continue;
    }
    if (!Number.isFinite(weights[i]))
      throw new PromptSyntaxError(
        `emphasis weight of ${quoted(texts[i])} is ${weights[i]}; ` +
          'weights must be finite (check for huge (text:weight) values or very deep nesting)',
      );
    if (pending && pending.weight === weights[i]) pending.text += texts[i];
    else {
      flush();
      pending = { text: texts[i], weight: weights[i] };
    }
  }
  flush();
  return out;
}

// Python float() for the strings a multiplier can be, without JS Number's extras ('' → 0, '0x10').
function parseMultiplier(value: string, what: string, tag: string): number {
  const s = value.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s))
    throw new PromptSyntaxError(`${what} ${quoted(value)} in ${quoted(tag)} is not a number`);
  const n = Number(s);
  if (!Number.isFinite(n))
    throw new PromptSyntaxError(`${what} ${quoted(value)} in ${quoted(tag)} is not finite`);
  return n;
}

function loraFromArgs(type: 'lora' | 'lyco', args: readonly string[], tag: string): LoraRef {
  // A1111's ExtraNetworkParams: an item with exactly one '=' is named, everything else positional.
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const item of args) {
    const parts = item.split('=');
    if (parts.length === 2) named.set(parts[0], parts[1]);
    else positional.push(item);
  }
  const name = positional[0];
  if (name === undefined || name.trim() === '')
    throw new PromptSyntaxError(`${quoted(tag)} names no network; write <${type}:name:0.8>`);
  const te = named.has('te')
    ? parseMultiplier(named.get('te')!, 'te multiplier', tag)
    : positional.length > 1
      ? parseMultiplier(positional[1], 'multiplier', tag)
      : 1;
  const unet = named.has('unet')
    ? parseMultiplier(named.get('unet')!, 'unet multiplier', tag)
    : positional.length > 2
      ? parseMultiplier(positional[2], 'unet multiplier', tag)
      : te;
  const dynText = named.get('dyn') ?? positional[3];
  let dynDim: number | undefined;
  if (dynText !== undefined) {
    dynDim = Number(dynText.trim());
    if (!/^\d{1,9}$/.test(dynText.trim()))
      throw new PromptSyntaxError(
        `dyn ${quoted(dynText)} in ${quoted(tag)} must be a non-negative integer`,
      );
  }
  return {
    name,
    multiplier: te,
    unetMultiplier: unet,
    ...(dynDim !== undefined ? { dynDim } : {}),
    tag: type,
  };
}

/**
 * Remove every `<type:arg:arg…>` tag from the prompt, as A1111 does before parsing emphasis;
 * `lora` and `lyco` tags become {@link LoraRef}s, the others are returned as they are.
 */
export function extractExtraNetworks(text: string): {
  text: string;
  loras: LoraRef[];
  extraNetworks: ExtraNetworkRef[];
} {
  const loras: LoraRef[] = [];
  const extraNetworks: ExtraNetworkRef[] = [];
  const rest = text.replace(EXTRA_NET, (tag: string, type: string, args: string) => {
    const items = args.split(':');
    if (type === 'lora' || type === 'lyco') loras.push(loraFromArgs(type, items, tag));
    else extraNetworks.push({ type, args: items });
    return '';
  });
  return { text: rest, loras, extraNetworks };
}

/** Parse an A1111 prompt: extra-network tags out, then emphasis, split into BREAK parts. */
export function parsePrompt(text: string): ParsedPrompt {
  if (typeof text !== 'string')
    throw new PromptSyntaxError(`prompt must be a string, got ${typeof text}`);
  const { text: rest, loras, extraNetworks } = extractExtraNetworks(text);
  const segments: WeightedText[][] = [[]];
  for (const item of parseAttention(rest)) {
    if (item === BREAK) segments.push([]);
    else segments[segments.length - 1].push(item);
  }
  return { segments, loras, extraNetworks };
}
