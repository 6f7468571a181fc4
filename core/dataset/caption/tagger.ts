// WD14-style image tagger (SmilingWolf's wd-v1-4-*/wd-*-v3 ONNX exports) through core/onnx.
// Their signature: one NHWC float32 input [N, S, S, 3] holding BGR values 0–255 of the image
// padded with white to a square and resized to S (448), and one output [N, tags] of sigmoid
// probabilities in the order of `selected_tags.csv`.
import { readFile } from 'node:fs/promises';
import { Session, type ExecutionProviderChoice } from '../../onnx/index.js';
import { DEFAULT_LIMITS, type ImageLimits, type ImageSource } from '../decode.js';
import { normalizedImage } from '../image-pipeline.js';
import { decideTags, type TagDecision, type TagRuleOptions } from './tag-rules.js';
import { parseTagsCsv, type TagLabel } from './tags-csv.js';

/** Side of the square input when the model leaves it symbolic. */
export const WD14_DEFAULT_SIZE = 448;

export interface TaggerOptions {
  /** The ONNX file (`model.onnx`). */
  modelPath: string;
  /** `selected_tags.csv`, or labels already parsed. */
  tagsPath?: string;
  labels?: readonly TagLabel[];
  ep?: ExecutionProviderChoice;
  intraOpNumThreads?: number;
  limits?: ImageLimits;
}

export interface TaggedImage extends TagDecision {
  /** The written tags joined kohya-style (`a, b, c`). */
  caption: string;
}

/** NHWC BGR 0–255 of an image padded white to a square of `size` (the WD14 pre-processing). */
export async function taggerInput(
  src: ImageSource,
  size: number,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<Float32Array> {
  const img = await normalizedImage(src, { background: '#ffffff', limits });
  const rgb = await img
    .removeAlpha()
    .resize(size, size, { fit: 'contain', background: '#ffffff', kernel: 'cubic' })
    .raw()
    .toBuffer();
  const out = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    out[p * 3] = rgb[p * 3 + 2];
    out[p * 3 + 1] = rgb[p * 3 + 1];
    out[p * 3 + 2] = rgb[p * 3];
  }
  return out;
}

export class WdTagger {
  private constructor(
    private readonly session: Session,
    readonly labels: readonly TagLabel[],
    /** Side of the square input. */
    readonly size: number,
    private readonly limits: ImageLimits,
  ) {}

  static async create(opts: TaggerOptions): Promise<WdTagger> {
    const labels =
      opts.labels ??
      (opts.tagsPath
        ? parseTagsCsv(await readFile(opts.tagsPath, 'utf8'))
        : failNoLabels(opts.modelPath));
    const session = await Session.create(opts.modelPath, {
      ep: opts.ep ?? 'cpu',
      intraOpNumThreads: opts.intraOpNumThreads,
    });
    try {
      const input = session.inner.inputMetadata[0];
      const shape = input?.isTensor ? input.shape : [];
      if (session.inputNames.length !== 1 || shape.length !== 4 || shape[3] !== 3) {
        throw new Error(
          `${opts.modelPath} is not a WD14-style tagger: inputs [${session.inputNames.join(', ')}] ` +
            `with shape [${shape.join(', ')}]; expected one NHWC input [N, S, S, 3]`,
        );
      }
      const out = session.inner.outputMetadata[0];
      const tags = out?.isTensor ? out.shape[1] : undefined;
      if (typeof tags === 'number' && tags !== labels.length) {
        throw new Error(
          `${opts.modelPath} has ${tags} outputs but the tags file lists ${labels.length} tags`,
        );
      }
      const size = typeof shape[1] === 'number' ? shape[1] : WD14_DEFAULT_SIZE;
      return new WdTagger(session, labels, size, opts.limits ?? DEFAULT_LIMITS);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  get executionProvider(): string {
    return this.session.executionProvider;
  }

  /** Probabilities per image (one per label), for a batch of images. */
  async predict(sources: readonly ImageSource[]): Promise<Float32Array[]> {
    if (!sources.length) return [];
    const per = this.size * this.size * 3;
    const batch = new Float32Array(per * sources.length);
    for (const [i, src] of sources.entries()) {
      batch.set(await taggerInput(src, this.size, this.limits), i * per);
    }
    const out = await this.session.run({
      [this.session.inputNames[0]]: {
        dtype: 'float32',
        shape: [sources.length, this.size, this.size, 3],
        data: batch,
      },
    });
    const probs = out[this.session.outputNames[0]];
    const n = this.labels.length;
    if (probs.data.length !== n * sources.length) {
      throw new Error(
        `tagger output has shape [${probs.shape.join(', ')}], expected [${sources.length}, ${n}]`,
      );
    }
    const data = probs.data as Float32Array;
    return sources.map((_, i) => data.slice(i * n, (i + 1) * n));
  }

  async tag(sources: readonly ImageSource[], rules: TagRuleOptions = {}): Promise<TaggedImage[]> {
    const probs = await this.predict(sources);
    return probs.map((p) => {
      const d = decideTags(this.labels, p, rules);
      return { ...d, caption: d.tags.map((t) => t.tag).join(', ') };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function failNoLabels(modelPath: string): never {
  throw new Error(`tagger ${modelPath}: give tagsPath (selected_tags.csv) or labels`);
}
