// Comparison grids on the tiny SD fixture: sheet dimensions, cell layout, fixed seeds (the
// strength-0 column is the image without the LoRA, strength 1 differs), before/after columns.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { GenerationEngine, generate } from '../../core/generate/index.js';
import {
  renderBeforeAfter,
  renderStrengthSweep,
  type GridOptions,
} from '../../core/library/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { LORA_KOHYA, TINY_CONFIGS, TINY_SD } from '../generate/pipeline-helpers.js';

const dir = makeTempDir('lora-studio-grids-');
const engine = new GenerationEngine({ cacheDir: `${dir}/cache`, configs: TINY_CONFIGS });
afterAll(async () => {
  await engine.dispose();
  removeDir(dir);
});

const base: GridOptions = {
  modelPath: TINY_SD,
  lora: LORA_KOHYA,
  prompts: ['a photograph of an astronaut riding a horse', 'a red house'],
  seed: 7,
  steps: 2,
  width: 64,
  height: 64,
  sampler: 'Euler',
  cfgScale: 7,
  negativePrompt: '',
  ep: 'cpu',
};

const pixels = async (png: Buffer) => new Uint8Array(await sharp(png).raw().toBuffer());

describe('renderStrengthSweep', () => {
  it('lays prompts × strengths out, strength 0 = no LoRA, strength 1 differs', async () => {
    const progress: number[] = [];
    const grid = await renderStrengthSweep(engine, {
      ...base,
      strengths: [0, 1],
      onProgress: (done, total) => progress.push(done / total),
    });
    expect(grid.columns).toEqual(['strength 0', 'strength 1']);
    expect(grid.cells.map((c) => [c.prompt, c.strength])).toEqual([
      [base.prompts[0], 0],
      [base.prompts[0], 1],
      [base.prompts[1], 0],
      [base.prompts[1], 1],
    ]);
    expect(grid.cells.every((c) => c.seed === 7)).toBe(true);
    expect(progress.at(-1)).toBe(1);
    const meta = await sharp(grid.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', grid.width, grid.height]);
    // 2 columns and 2 rows of 64 px cells, plus labels: wider and taller than the cells.
    expect(grid.width).toBeGreaterThan(2 * 64);
    expect(grid.height).toBeGreaterThan(2 * 64);

    const [plain] = await generate(engine, {
      modelPath: TINY_SD,
      prompt: base.prompts[0],
      negativePrompt: '',
      sampler: 'Euler',
      steps: 2,
      cfgScale: 7,
      seed: 7,
      width: 64,
      height: 64,
      batchCount: 1,
      batchSize: 1,
      clipSkip: 1,
      loras: [],
      ep: 'cpu',
      outputDir: `${dir}/plain`,
    });
    const noLora = await pixels(await readFile(plain.path));
    expect(await pixels(grid.cells[0].image)).toEqual(noLora);
    expect(await pixels(grid.cells[1].image)).not.toEqual(noLora);
  }, 120_000);

  it('refuses an empty prompt list and out-of-range strengths, naming them', async () => {
    await expect(renderStrengthSweep(engine, { ...base, prompts: [] })).rejects.toThrow(
      /prompts: give 1…16 prompts \(got 0\)/,
    );
    await expect(renderStrengthSweep(engine, { ...base, strengths: [0, 11] })).rejects.toThrow(
      /strengths: 11 is outside/,
    );
  });
});

describe('renderBeforeAfter', () => {
  it('is reproducible: the same cells twice, "with" differs from "without"', async () => {
    const opts = { ...base, prompts: [base.prompts[1]] };
    const a = await renderBeforeAfter(engine, opts);
    expect(a.columns).toEqual(['without LoRA', 'strength 1']);
    expect(a.cells.map((c) => c.strength)).toEqual([null, 1]);
    const b = await renderBeforeAfter(engine, opts);
    expect(await pixels(b.cells[1].image)).toEqual(await pixels(a.cells[1].image));
    expect(await pixels(a.cells[1].image)).not.toEqual(await pixels(a.cells[0].image));
    expect(await pixels(b.png)).toEqual(await pixels(a.png));
  }, 120_000);
});

describe('engine settings', () => {
  it('keep-model-warm off releases the sessions after a grid; threads apply to new sessions', async () => {
    engine.configure({ keepWarm: false, intraOpNumThreads: 1 });
    expect(engine.options.intraOpNumThreads).toBe(1);
    const released = engine.stats.sessionsReleased;
    await renderStrengthSweep(engine, { ...base, prompts: ['a red house'], strengths: [1] });
    expect(engine.warmKeys()).toEqual({});
    expect(engine.stats.sessionsReleased).toBeGreaterThan(released);
    engine.configure({ keepWarm: true, intraOpNumThreads: 0 });
    expect(engine.options.intraOpNumThreads).toBeUndefined();
  }, 120_000);
});
