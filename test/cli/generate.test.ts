// `lora-studio generate` through the commander program (in process) on the tiny SD fixture:
// the fixture loop's flags reproduce diffusers' latents, img2img with an external VAE, a LoRA by
// file and by prompt tag on the single-file checkpoint, and flag errors.
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../core/cli.js';
import { generateCommand } from '../../core/cli/generate.js';
import { parseInfotext } from '../../core/generate/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import {
  FIXTURE_PROMPT,
  LORA_KOHYA,
  TINY_LDM,
  TINY_SD,
  get,
  maxAbs,
  maxAbsDiff,
  readLatents,
  readPng,
} from '../generate/pipeline-helpers.js';
import { floats, loadTensors } from '../schedulers/fixtures.js';

const dir = makeTempDir('lora-studio-cli-gen-');
afterAll(() => removeDir(dir));

/** Run `generate ARGS` in process; returns stdout and stderr text. */
async function runGenerate(args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const cmd = generateCommand({ write: (t) => (out += t) }, { write: (t) => (err += t) });
  await new Command('lora-studio')
    .addCommand(cmd.exitOverride())
    .parseAsync(['generate', '--data-dir', dir, ...args], { from: 'user' });
  return { out, err };
}

describe('lora-studio generate', () => {
  it('is a command of the program', () => {
    expect(buildProgram().commands.map((c) => c.name())).toContain('generate');
  });

  it('the fixture loop’s flags give diffusers’ final latents; prints the written paths', async () => {
    const out = path.join(dir, 'txt2img');
    const { out: printed, err } = await runGenerate([
      '--model',
      TINY_SD,
      '--prompt',
      FIXTURE_PROMPT,
      '--negative',
      '',
      '--sampler',
      'Euler',
      '--steps',
      '4',
      '--cfg',
      '7.5',
      '--seed',
      '42',
      '--width',
      '64',
      '--height',
      '64',
      '--batch-count',
      '2',
      '--batch-size',
      '1',
      '--clip-skip',
      '1',
      '--ep',
      'cpu',
      '--out',
      out,
      '--save-latents',
    ]);
    expect(printed).toBe(`${path.join(out, '00000-42.png')}\n${path.join(out, '00001-43.png')}\n`);
    expect(err).toContain('image 2/2: step 4/4');
    const ref = await loadTensors('pipeline/txt2img_euler_4steps.safetensors');
    const want = floats(ref, 'final_latents');
    const got = get(
      await readLatents(path.join(out, '00000-42.latents.safetensors')),
      'final_latents',
    );
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5 * maxAbs(want));
    const info = parseInfotext((await readPng(path.join(out, '00001-43.png'))).parameters!);
    expect(info).toMatchObject({ prompt: FIXTURE_PROMPT, seed: 43, steps: 4, cfgScale: 7.5 });
  });

  it('img2img with --init-image, --strength and an external --vae', async () => {
    const out = path.join(dir, 'img2img');
    const init = path.join(dir, 'init.png');
    await copyFile(path.join(dir, 'txt2img', '00000-42.png'), init);
    const vae = path.join(TINY_SD, 'vae', 'diffusion_pytorch_model.safetensors');
    const { out: printed } = await runGenerate([
      '--model',
      TINY_SD,
      '--prompt',
      'a horse',
      '--sampler',
      'Euler a',
      '--steps',
      '4',
      '--seed',
      '5',
      '--width',
      '64',
      '--height',
      '64',
      '--init-image',
      init,
      '--strength',
      '0.5',
      '--vae',
      vae,
      // A bare VAE file cannot show its group count (8 here).
      '--config-overrides',
      '{"vae":{"norm_num_groups":8}}',
      '--ep',
      'cpu',
      '--out',
      out,
      '--json',
      '--quiet',
    ]);
    const [img] = JSON.parse(printed) as { path: string; infotext: string }[];
    expect((await stat(img.path)).size).toBeGreaterThan(0);
    const info = parseInfotext(img.infotext);
    expect(info).toMatchObject({
      seed: 5,
      denoisingStrength: 0.5,
      vae: 'diffusion_pytorch_model.safetensors',
    });
    expect(info.vaeHash).toMatch(/^[0-9a-f]{10}$/);
  });

  it('a LoRA by file and by <lora:…> tag (--lora-dir) on the single-file checkpoint', async () => {
    const loras = path.join(dir, 'loras');
    await mkdir(loras, { recursive: true });
    await copyFile(LORA_KOHYA, path.join(loras, 'Style.safetensors'));
    const overrides = JSON.stringify({
      unet: { norm_num_groups: 8 },
      vae: { norm_num_groups: 8 },
      textEncoder: { num_attention_heads: 4 },
    });
    // A single file has no tokenizer folder; the tiny model needs its own vocabulary.
    const common = [
      '--model',
      TINY_LDM,
      '--config-overrides',
      overrides,
      '--steps',
      '2',
      '--seed',
      '9',
    ];
    common.push('--tokenizer', path.join(TINY_SD, 'tokenizer'));
    common.push('--width', '64', '--height', '64', '--ep', 'cpu', '--quiet', '--save-latents');
    {
      const a = await runGenerate([
        ...common,
        '--out',
        path.join(dir, 'a'),
        '--lora',
        `${LORA_KOHYA}:0.7`,
      ]);
      const b = await runGenerate([
        ...common,
        '--out',
        path.join(dir, 'b'),
        '--prompt',
        '<lora:style:0.7>',
        '--lora-dir',
        loras,
      ]);
      const fa = get(
        await readLatents(a.out.trim().replace(/\.png$/, '.latents.safetensors')),
        'final_latents',
      );
      const fb = get(
        await readLatents(b.out.trim().replace(/\.png$/, '.latents.safetensors')),
        'final_latents',
      );
      expect(fb).toEqual(fa);
      const info = parseInfotext((await readPng(b.out.trim())).parameters!);
      expect(info.loraHashes?.map((l) => l.name)).toEqual(['style']);
      expect(info.model).toBe('tiny_sd_ldm');
    }
  });

  it('refuses bad flags with the valid values', async () => {
    await expect(
      runGenerate(['--model', TINY_SD, '--out', dir, '--sampler', 'LMS']),
    ).rejects.toThrow(/Allowed choices are Euler, Euler a/);
    await expect(
      runGenerate([
        '--model',
        TINY_SD,
        '--out',
        dir,
        '--width',
        '72',
        '--height',
        '64',
        '--ep',
        'cpu',
      ]),
    ).rejects.toThrow(/width 72 is not a multiple of 64/);
    await expect(
      runGenerate(['--model', TINY_SD, '--out', dir, '--strength', '0.5']),
    ).rejects.toThrow(/--strength is for img2img; give --init-image too/);
  });
});
