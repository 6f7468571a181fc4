// The two encoders a run needs before training — the VAE encoder (image → latents) and the text
// encoder (caption → embeddings) — loaded only on a cache miss, with every call counted so a run
// can show (and tests can check) that a warm cache skipped them.
import {
  ClipTokenizer,
  loadModelSessions,
  type ModelGraphName,
  type ModelSessions,
} from '../../models/index.js';
import { resizeToBucket, type Bucket } from '../../dataset/index.js';
import type { ExecutionProviderChoice } from '../../onnx/index.js';

export interface EncoderOptions {
  model: string;
  cacheDir: string;
  ep: ExecutionProviderChoice;
  clipSkip: number;
  tokenizerDir?: string;
  vaeScalingFactor: number;
}

export class Encoders {
  /** Images through the VAE and captions through the text encoder, by this instance. */
  readonly calls = { vae: 0, textEncoder: 0 };
  private readonly loaded = new Map<ModelGraphName, Promise<ModelSessions>>();
  private tokenizer?: Promise<ClipTokenizer>;

  constructor(private readonly o: EncoderOptions) {}

  private sessions(name: ModelGraphName): Promise<ModelSessions> {
    let p = this.loaded.get(name);
    if (!p) {
      p = loadModelSessions(this.o.model, {
        cacheDir: this.o.cacheDir,
        components: [name],
        ep: this.o.ep,
        dtype: 'float32',
        graphs: { textEncoder: { clipSkip: this.o.clipSkip } },
      });
      this.loaded.set(name, p);
    }
    return p;
  }

  /** Latents × scaling factor [1, 4, h/8, w/8] of an image cover-cropped to its bucket (mean). */
  async latents(
    imagePath: string,
    bucket: Bucket,
    flip: boolean,
  ): Promise<{ shape: number[]; data: Float32Array }> {
    const px = await resizeToBucket(imagePath, bucket, { format: 'raw' });
    const { width: W, height: H, channels: C } = px;
    const img = new Float32Array(3 * H * W);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const sx = flip ? W - 1 - x : x;
        for (let c = 0; c < 3; c++)
          img[c * H * W + y * W + x] = px.data[(y * W + sx) * C + c] / 127.5 - 1;
      }
    const s = (await this.sessions('vaeEncoder')).session('vaeEncoder');
    this.calls.vae++;
    const out = await s.run(
      { image: { dtype: 'float32', shape: [1, 3, H, W], data: img } },
      { outputs: ['latent_mean'] },
    );
    const mean = out.latent_mean;
    const data = Float32Array.from(mean.data as Float32Array, (v) => v * this.o.vaeScalingFactor);
    return { shape: [...mean.shape], data };
  }

  /** A caption's 77 token ids (what a step graph that trains the text encoder is fed). */
  async tokens(caption: string): Promise<number[]> {
    this.tokenizer ??= ClipTokenizer.load(this.o.tokenizerDir);
    return (await this.tokenizer).encodeForModel(caption);
  }

  /** Text-encoder output [1, 77, D] for a caption (clip skip applied in the graph). */
  async text(caption: string): Promise<{ shape: number[]; data: Float32Array }> {
    const ids = await this.tokens(caption);
    const s = (await this.sessions('textEncoder')).session('textEncoder');
    this.calls.textEncoder++;
    const out = await s.run(
      {
        input_ids: {
          dtype: 'int64',
          shape: [1, ids.length],
          data: BigInt64Array.from(ids, (x) => BigInt(x)),
        },
      },
      { outputs: ['prompt_embeds'] },
    );
    const e = out.prompt_embeds;
    return { shape: [...e.shape], data: (e.data as Float32Array).slice() };
  }

  async release(): Promise<void> {
    for (const p of this.loaded.values()) await (await p.catch(() => undefined))?.release();
    this.loaded.clear();
  }
}
