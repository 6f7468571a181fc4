// fp16 compute — what the GPU EPs run the text encoder and UNet in — exercised on the CPU EP
// (its fp16 kernels), through the same generate(): fp16 feeds and outputs, converted weights,
// the VAE kept in fp32. Against the fp32 fixture loop it must stay close, not equal.
import { afterAll, describe, expect, it } from 'vitest';
import { GenerationEngine, generate } from '../../core/generate/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { floats, loadTensors } from '../schedulers/fixtures.js';
import { fixtureParams, get, maxAbs, maxAbsDiff, readLatents } from './pipeline-helpers.js';

const dir = makeTempDir('lora-studio-gen-fp16-');
afterAll(() => removeDir(dir));

describe('generate() in float16', () => {
  it('fp16 compute (the GPU EPs’ default), here on the CPU EP, stays close', async () => {
    const half = new GenerationEngine({ cacheDir: `${dir}/cache`, dtype: 'float16' });
    try {
      const [img] = await generate(half, fixtureParams(`${dir}/out`));
      expect(half.warmKeys().unet).toMatch(/\|float16\|/);
      expect(half.warmKeys().vaeDecoder).toMatch(/\|float32\|/); // the VAE always runs fp32
      const ref = await loadTensors('pipeline/txt2img_euler_4steps.safetensors');
      const want = floats(ref, 'final_latents');
      const err = maxAbsDiff(get(await readLatents(img.latentsPath!), 'final_latents'), want);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(1e-2 * maxAbs(want));
    } finally {
      await half.dispose();
    }
  });
});
