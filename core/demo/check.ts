// Does a demo model draw what it is asked for? Generates a fixed set of prompts through the normal
// generation path and scores the images with shapeStats (colour and background by nearest
// palette colour, shape by roundness).
import sharp from 'sharp';
import { generate, GenerationEngine, type GenerateParams } from '../generate/index.js';
import { DEMO_IMAGE_SIZE } from './demo-model-config.js';
import { shapeStats, type ShapeStats } from './image-stats.js';
import { shapeCaption, type ShapeColor, type ShapeKind } from './shapes.js';

/** Demo generation defaults: small, quick, and enough steps for clean shapes. */
export const DEMO_GENERATION: Pick<
  GenerateParams,
  'sampler' | 'steps' | 'cfgScale' | 'width' | 'height' | 'negativePrompt' | 'clipSkip' | 'ep'
> = Object.freeze({
  sampler: 'DPM++ 2M Karras',
  steps: 20,
  cfgScale: 5,
  width: DEMO_IMAGE_SIZE,
  height: DEMO_IMAGE_SIZE,
  negativePrompt: '',
  clipSkip: 1,
  ep: 'cpu',
});

export const CHECK_PROMPTS: readonly {
  shape: ShapeKind;
  color: ShapeColor;
  background: ShapeColor;
}[] = [
  { shape: 'circle', color: 'red', background: 'blue' },
  { shape: 'square', color: 'yellow', background: 'black' },
  { shape: 'triangle', color: 'white', background: 'green' },
  { shape: 'circle', color: 'green', background: 'white' },
  { shape: 'square', color: 'blue', background: 'yellow' },
  { shape: 'triangle', color: 'red', background: 'white' },
  { shape: 'circle', color: 'black', background: 'yellow' },
  { shape: 'square', color: 'white', background: 'red' },
  { shape: 'triangle', color: 'yellow', background: 'blue' },
];

/** RGB bytes of an image (file or bytes), resized to `side`×`side` when given. */
export async function readRgb(
  src: string | Buffer,
  side?: number,
): Promise<{ rgb: Uint8Array; size: number }> {
  let img = sharp(src).removeAlpha();
  if (side) img = img.resize(side, side, { fit: 'fill' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), size: info.width };
}

export interface CheckResult {
  readonly prompt: string;
  readonly ok: boolean;
  readonly shapeOk: boolean;
  readonly got: string;
  readonly stats: ShapeStats;
}

export async function checkDemoModel(
  modelPath: string,
  o: { cacheDir: string; outputDir: string; seed?: number },
): Promise<{ results: CheckResult[]; colorAccuracy: string; shapeAccuracy: string }> {
  const engine = new GenerationEngine({ cacheDir: o.cacheDir });
  const results: CheckResult[] = [];
  try {
    for (const [i, p] of CHECK_PROMPTS.entries()) {
      const prompt = shapeCaption(p);
      const [img] = await generate(engine, {
        ...DEMO_GENERATION,
        modelPath,
        prompt,
        seed: (o.seed ?? 1000) + i,
        batchCount: 1,
        batchSize: 1,
        loras: [],
        outputDir: o.outputDir,
      });
      const { rgb, size } = await readRgb(img.path);
      const stats = shapeStats(rgb, size);
      results.push({
        prompt,
        ok: stats.color === p.color && stats.background === p.background,
        shapeOk: stats.shape === p.shape,
        got: `${stats.color ?? 'nothing'} ${stats.shape ?? ''} on ${stats.background} (roundness ${stats.roundness.toFixed(2)})`,
        stats,
      });
    }
  } finally {
    await engine.dispose();
  }
  const frac = (k: 'ok' | 'shapeOk') => `${results.filter((r) => r[k]).length}/${results.length}`;
  return { results, colorAccuracy: frac('ok'), shapeAccuracy: frac('shapeOk') };
}
