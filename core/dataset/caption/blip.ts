// Natural-language captions with BLIP (Salesforce/blip-image-captioning-base as exported to
// ONNX by Xenova): a ViT vision model (`pixel_values` [N, 3, 384, 384] → `last_hidden_state`)
// and a BERT text decoder that attends to it (`input_ids`, `attention_mask`,
// `encoder_hidden_states`, optional `past_key_values.*` + `use_cache_branch` of a merged
// export → `logits`, `present.*`). Greedy decoding from `[DEC]` until `[SEP]` or maxLength.
import { readFile } from 'node:fs/promises';
import { Session, type ExecutionProviderChoice, type HostTensor } from '../../onnx/index.js';
import { DEFAULT_LIMITS, type ImageLimits, type ImageSource } from '../decode.js';
import { normalizedImage } from '../image-pipeline.js';
import { WordPieceTokenizer } from './wordpiece.js';

export const BLIP_IMAGE_SIZE = 384;
/** BLIP's processor normalises with OpenAI CLIP's statistics. */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
/** Tokens generated at most when the caller does not say (HF's BLIP default max_length 20 + prompt). */
export const DEFAULT_MAX_TOKENS = 30;

export interface BlipCaptionerOptions {
  visionModelPath: string;
  decoderModelPath: string;
  /** `tokenizer.json` or `vocab.txt`. */
  tokenizerPath: string;
  ep?: ExecutionProviderChoice;
  intraOpNumThreads?: number;
  limits?: ImageLimits;
}

export interface BlipCaptionOptions {
  /** New tokens at most (default 30). */
  maxTokens?: number;
  /** Conditional captioning: the caption continues this text (BLIP: "a picture of"). */
  prompt?: string;
}

export interface BlipCaption {
  text: string;
  /** Generated ids (prompt excluded, EOS excluded). */
  ids: number[];
  stoppedBy: 'eos' | 'max-tokens';
}

/** NCHW float32 of the image resized (bicubic, no crop) to size², scaled and CLIP-normalised. */
export async function blipPixelValues(
  src: ImageSource,
  size = BLIP_IMAGE_SIZE,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<Float32Array> {
  const rgb = await (
    await normalizedImage(src, { limits })
  )
    .removeAlpha()
    .resize(size, size, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  const plane = size * size;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + p] = (rgb[p * 3 + c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
    }
  }
  return out;
}

const ones = (n: number) => new BigInt64Array(n).fill(1n);

interface PastSpec {
  name: string;
  present: string;
  heads: number;
  headDim: number;
}

export class BlipCaptioner {
  private constructor(
    private readonly vision: Session,
    private readonly decoder: Session,
    readonly tokenizer: WordPieceTokenizer,
    private readonly past: readonly PastSpec[],
    readonly imageSize: number,
    private readonly limits: ImageLimits,
    readonly bosId: number,
    readonly eosId: number,
  ) {}

  static async create(opts: BlipCaptionerOptions): Promise<BlipCaptioner> {
    const tokenizer = WordPieceTokenizer.fromFile(await readFile(opts.tokenizerPath, 'utf8'));
    // BLIP starts captions with its added [DEC] token and ends them with [SEP].
    const bosId = tokenizer.idOf('[DEC]') ?? tokenizer.idOf('[CLS]');
    const eosId = tokenizer.idOf('[SEP]');
    if (bosId === undefined || eosId === undefined) {
      throw new Error(
        `${opts.tokenizerPath} lacks BLIP's [DEC] (or [CLS]) and [SEP] tokens; is it BLIP's tokenizer?`,
      );
    }
    const sessionOpts = { ep: opts.ep ?? 'cpu', intraOpNumThreads: opts.intraOpNumThreads };
    const vision = await Session.create(opts.visionModelPath, sessionOpts);
    let decoder: Session | undefined;
    try {
      decoder = await Session.create(opts.decoderModelPath, sessionOpts);
      const pixel = vision.inner.inputMetadata[0];
      const pshape = pixel?.isTensor ? pixel.shape : [];
      if (vision.inputNames.length !== 1 || pshape.length !== 4 || pshape[1] !== 3) {
        throw new Error(
          `${opts.visionModelPath} is not a BLIP vision model: inputs [${vision.inputNames.join(', ')}]; ` +
            'expected pixel_values [N, 3, S, S]',
        );
      }
      const missing = ['input_ids', 'encoder_hidden_states'].filter(
        (n) => !decoder!.inputNames.includes(n),
      );
      if (missing.length) {
        throw new Error(
          `${opts.decoderModelPath} is not a BLIP text decoder: missing input(s) ${missing.join(', ')} ` +
            `(it has ${decoder.inputNames.join(', ')})`,
        );
      }
      const past = pastSpecs(decoder);
      const size = typeof pshape[2] === 'number' ? pshape[2] : BLIP_IMAGE_SIZE;
      return new BlipCaptioner(
        vision,
        decoder,
        tokenizer,
        past,
        size,
        opts.limits ?? DEFAULT_LIMITS,
        bosId,
        eosId,
      );
    } catch (err) {
      await vision.release();
      await decoder?.release();
      throw err;
    }
  }

  /** The vision model's hidden states for one image: [1, tokens, hidden]. */
  async encodeImage(src: ImageSource): Promise<HostTensor> {
    const data = await blipPixelValues(src, this.imageSize, this.limits);
    const out = await this.vision.run({
      [this.vision.inputNames[0]]: {
        dtype: 'float32',
        shape: [1, 3, this.imageSize, this.imageSize],
        data,
      },
    });
    return out.last_hidden_state ?? out[this.vision.outputNames[0]];
  }

  /** Ids the decoder starts from: [DEC] then the prompt's tokens. */
  promptIds(prompt = ''): number[] {
    return [this.bosId, ...this.tokenizer.encode(prompt)];
  }

  async caption(src: ImageSource, opts: BlipCaptionOptions = {}): Promise<BlipCaption> {
    const encoded = await this.encodeImage(src);
    return this.generate(encoded, opts);
  }

  /**
   * Greedy decoding over encoder states. With a merged decoder the first step runs the whole
   * prompt without a cache and each later step only the newest token with the cache; without
   * cache inputs every step re-runs the whole sequence.
   */
  async generate(encoded: HostTensor, opts: BlipCaptionOptions = {}): Promise<BlipCaption> {
    const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new Error(`maxTokens is ${maxTokens}; it must be a whole number ≥ 1`);
    }
    const prompt = this.promptIds(opts.prompt);
    const seq = [...prompt];
    const names = this.decoder.inputNames;
    const cached = this.past.length > 0;
    let past: Record<string, HostTensor> = {};
    for (const p of this.past) {
      past[p.name] = {
        dtype: 'float32',
        shape: [1, p.heads, 0, p.headDim],
        data: new Float32Array(0),
      };
    }
    const generated: number[] = [];
    let stoppedBy: BlipCaption['stoppedBy'] = 'max-tokens';
    for (let step = 0; step < maxTokens; step++) {
      const fresh = cached && step > 0 ? seq.slice(-1) : seq;
      const pastLen = seq.length - fresh.length;
      const feeds: Record<string, HostTensor> = {
        input_ids: {
          dtype: 'int64',
          shape: [1, fresh.length],
          data: BigInt64Array.from(fresh, (v) => BigInt(v)),
        },
        encoder_hidden_states: encoded,
        ...past,
      };
      if (names.includes('attention_mask')) {
        feeds.attention_mask = { dtype: 'int64', shape: [1, seq.length], data: ones(seq.length) };
      }
      if (names.includes('encoder_attention_mask')) {
        const e = encoded.shape[1];
        feeds.encoder_attention_mask = { dtype: 'int64', shape: [1, e], data: ones(e) };
      }
      if (names.includes('use_cache_branch')) {
        feeds.use_cache_branch = {
          dtype: 'bool',
          shape: [1],
          data: Uint8Array.of(pastLen > 0 ? 1 : 0),
        };
      }
      const out = await this.decoder.run(feeds);
      const logits = out.logits ?? out[this.decoder.outputNames[0]];
      const next = argmaxLastRow(logits);
      if (cached) {
        past = {};
        for (const p of this.past) past[p.name] = out[p.present];
      }
      if (next === this.eosId) {
        stoppedBy = 'eos';
        break;
      }
      generated.push(next);
      seq.push(next);
    }
    const text = this.tokenizer.decode([...prompt.slice(1), ...generated]);
    return { text, ids: generated, stoppedBy };
  }

  async release(): Promise<void> {
    await this.vision.release();
    await this.decoder.release();
  }
}

function pastSpecs(decoder: Session): PastSpec[] {
  const specs: PastSpec[] = [];
  for (const m of decoder.inner.inputMetadata) {
    if (!m.name.startsWith('past_key_values.')) continue;
    const shape = m.isTensor ? m.shape : [];
    const [, heads, , headDim] = shape;
    const present = m.name.replace(/^past_key_values/, 'present');
    if (
      typeof heads !== 'number' ||
      typeof headDim !== 'number' ||
      !decoder.outputNames.includes(present)
    ) {
      throw new Error(
        `decoder cache input ${m.name} has shape [${shape.join(', ')}] and output ${present} ` +
          `${decoder.outputNames.includes(present) ? 'exists' : 'is missing'}; expected ` +
          '[batch, heads, past, headDim] with fixed heads and headDim, and a matching present.* output',
      );
    }
    specs.push({ name: m.name, present, heads, headDim });
  }
  return specs;
}

/** Index of the largest logit in the last position of [1, S, V] logits. */
export function argmaxLastRow(logits: HostTensor): number {
  const v = logits.shape[logits.shape.length - 1];
  const data = logits.data as Float32Array;
  const start = data.length - v;
  let best = 0;
  for (let i = 1; i < v; i++) if (data[start + i] > data[start + best]) best = i;
  return best;
}
