// `lora-studio eval` through the commander program (in process): every component of the tiny
// SD fixture, from the diffusers folder and the single LDM file, against the reference tensors.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand, parseLoraArg } from '../../core/cli/eval.js';
import {
  parseSafetensors,
  serializeSafetensors,
  type TensorToWrite,
} from '../../core/formats/index.js';
import { buildUnetGraph, unetConfigFromJson } from '../../core/models/unet/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import {
  f32,
  fixturePath,
  loadJson,
  loadRefs,
  loadWeights,
  maxAbs,
  maxAbsDiff,
  ref,
  runGraph,
} from '../models/model-fixtures.js';

const TOL = 1e-4;
const SD = fixturePath('tiny_sd');
const LDM = fixturePath('tiny_sd/tiny_sd_ldm.safetensors');
const OVERRIDES = JSON.stringify({
  unet: { norm_num_groups: 8 },
  vae: { norm_num_groups: 8 },
  textEncoder: { num_attention_heads: 4 },
});

/** Run `eval ARGS` in process; returns what it printed. */
async function runEval(args: string[]): Promise<string> {
  let printed = '';
  const cmd = evalCommand({ write: (t) => (printed += t) }).exitOverride();
  await new Command('lora-studio').addCommand(cmd).parseAsync(['eval', ...args], { from: 'user' });
  return printed;
}

/** Output tensors of an eval run as float32 host tensors, plus the file's metadata. */
async function readOut(
  file: string,
): Promise<{ t: Map<string, HostTensor>; meta: Record<string, string> }> {
  const r = parseSafetensors(new Uint8Array(await readFile(file)), file);
  const t = new Map<string, HostTensor>();
  for (const name of r.names()) {
    const info = r.info(name);
    const bytes = (await r.read(name)).slice();
    t.set(name, {
      dtype: info.dtype as HostTensor['dtype'],
      shape: info.shape,
      data:
        info.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer),
    });
  }
  return { t, meta: { ...r.metadata } };
}

const bytesOf = (t: HostTensor): TensorToWrite => ({
  dtype: t.dtype,
  shape: t.shape,
  data: t.data,
});

describe('lora-studio eval', () => {
  let dir: string;
  let unetRefs: Map<string, HostTensor>;
  beforeAll(async () => {
    dir = makeTempDir();
    unetRefs = await loadRefs('unet/unet_ref.safetensors');
  });
  afterAll(() => removeDir(dir));
  const out = (name: string) => path.join(dir, name);

  it('unet from the diffusers folder: batch 2, scalar int64 timestep renamed with --map', async () => {
    const printed = await runEval([
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      fixturePath('unet/unet_ref.safetensors'),
      '--map',
      'timestep=timestep_a',
      '--out',
      out('a.safetensors'),
    ]);
    expect(printed).toMatch(/^unet on cpu \(float32\)/);
    expect(printed).toMatch(/noise_pred float32 \[2, 4, 16, 16\]/);
    const { t, meta } = await readOut(out('a.safetensors'));
    expect(meta).toMatchObject({ component: 'unet', model: 'tiny_sd', execution_provider: 'cpu' });
    expect(maxAbsDiff(t.get('noise_pred')!, ref(unetRefs, 'out_a'))).toBeLessThan(TOL);
  });

  it('unet from the single LDM file (--config-overrides from a file), per-sample fractional timesteps', async () => {
    const json = out('overrides.json');
    await writeFile(json, OVERRIDES);
    await runEval([
      '--component',
      'unet',
      '--model',
      LDM,
      '--config-overrides',
      json,
      '--inputs',
      fixturePath('unet/unet_ref.safetensors'),
      '--map',
      'timestep=timestep_b',
      '--out',
      out('b.safetensors'),
    ]);
    const { t } = await readOut(out('b.safetensors'));
    expect(maxAbsDiff(t.get('noise_pred')!, ref(unetRefs, 'out_b'))).toBeLessThan(TOL);
  });

  it('unet with batch 1 and a non-square 16×24 latent (graph built for the input shape)', async () => {
    const sample = f32(
      [1, 4, 16, 24],
      Array.from({ length: 4 * 16 * 24 }, (_, i) => Math.sin(i * 0.37)),
    );
    const ehs = ref(unetRefs, 'encoder_hidden_states');
    const context = f32([1, 77, 32], (ehs.data as Float32Array).subarray(0, 77 * 32));
    const timestep = f32([], [321.5]);
    const file = out('wide-in.safetensors');
    await writeFile(
      file,
      serializeSafetensors({
        sample: bytesOf(sample),
        timestep: bytesOf(timestep),
        encoder_hidden_states: bytesOf(context),
      }),
    );
    await runEval([
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      file,
      '--out',
      out('wide.safetensors'),
    ]);
    const got = (await readOut(out('wide.safetensors'))).t.get('noise_pred')!;
    expect(got.shape).toEqual([1, 4, 16, 24]);
    // The same through a graph with symbolic dims, built directly.
    const cfg = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
    const direct = await runGraph(
      buildUnetGraph(cfg, await loadWeights('tiny_sd/unet/diffusion_pytorch_model.safetensors')),
      { sample, timestep: f32([1], [321.5]), encoder_hidden_states: context },
    );
    expect(maxAbsDiff(got, direct.noise_pred)).toBeLessThan(1e-5);
    expect(maxAbs(got)).toBeGreaterThan(0.01);
  });

  it('text-encoder: input_ids with --clip-skip 2, and --prompt tokenized with the folder’s tokenizer', async () => {
    const refs = await loadRefs('text/text_encoder_ref.safetensors');
    await runEval([
      '--component',
      'text-encoder',
      '--model',
      SD,
      '--clip-skip',
      '2',
      '--inputs',
      fixturePath('text/text_encoder_ref.safetensors'),
      '--out',
      out('te.safetensors'),
    ]);
    const { t, meta } = await readOut(out('te.safetensors'));
    expect(meta.clip_skip).toBe('2');
    expect(maxAbsDiff(t.get('prompt_embeds')!, ref(refs, 'penultimate_final_ln'))).toBeLessThan(
      TOL,
    );
    expect(maxAbsDiff(t.get('last_hidden_state')!, ref(refs, 'last_hidden_state'))).toBeLessThan(
      TOL,
    );

    await runEval([
      '--component',
      'text-encoder',
      '--model',
      LDM,
      '--config-overrides',
      OVERRIDES,
      '--tokenizer',
      fixturePath('tiny_sd/tokenizer'),
      '--prompt',
      'a photograph of an astronaut riding a horse',
      '--prompt',
      '',
      '--out',
      out('te-prompt.safetensors'),
    ]);
    const p = (await readOut(out('te-prompt.safetensors'))).t;
    const refIds = ref(refs, 'input_ids').data as BigInt64Array;
    expect(Array.from(p.get('input_ids')!.data as BigInt64Array)).toEqual([
      ...refIds.subarray(0, 77),
      ...refIds.subarray(154, 231),
    ]);
    const last = ref(refs, 'last_hidden_state').data as Float32Array;
    const n = 77 * 32;
    const rows02 = f32([2, 77, 32], [...last.subarray(0, n), ...last.subarray(2 * n, 3 * n)]);
    expect(maxAbsDiff(p.get('prompt_embeds')!, rows02)).toBeLessThan(TOL);
  });

  it('text-encoder in float16 (outputs written as float32)', async () => {
    const refs = await loadRefs('text/text_encoder_ref.safetensors');
    const printed = await runEval([
      '--component',
      'text-encoder',
      '--model',
      SD,
      '--dtype',
      'float16',
      '--inputs',
      fixturePath('text/text_encoder_ref.safetensors'),
      '--out',
      out('te16.safetensors'),
    ]);
    expect(printed).toMatch(/^text-encoder on cpu \(float16\)/);
    const { t, meta } = await readOut(out('te16.safetensors'));
    expect(meta.dtype).toBe('float16');
    const want = ref(refs, 'last_hidden_state');
    const err = maxAbsDiff(t.get('prompt_embeds')!, want);
    console.log('text encoder float16 max abs error', err, 'of max', maxAbs(want));
    expect(err).toBeLessThan(0.02 * maxAbs(want));
  });

  it('vae-encode and vae-decode, with the VAE given as an external file (--vae)', async () => {
    const refs = await loadRefs('vae/vae_ref.safetensors');
    const vae = fixturePath('tiny_sd/vae/diffusion_pytorch_model.safetensors');
    const common = ['--model', LDM, '--config-overrides', OVERRIDES, '--vae', vae];
    await runEval([
      '--component',
      'vae-encode',
      ...common,
      '--inputs',
      fixturePath('vae/vae_ref.safetensors'),
      '--out',
      out('enc.safetensors'),
    ]);
    const enc = (await readOut(out('enc.safetensors'))).t;
    expect(maxAbsDiff(enc.get('latent_mean')!, ref(refs, 'latent_mean'))).toBeLessThan(TOL);
    expect(maxAbsDiff(enc.get('latent_std')!, ref(refs, 'latent_std'))).toBeLessThan(TOL);
    await runEval([
      '--component',
      'vae-decode',
      ...common,
      '--map',
      'latents=decode_input_z',
      '--inputs',
      fixturePath('vae/vae_ref.safetensors'),
      '--out',
      out('dec.safetensors'),
    ]);
    const dec = (await readOut(out('dec.safetensors'))).t;
    expect(maxAbsDiff(dec.get('image')!, ref(refs, 'decoded'))).toBeLessThan(TOL);
  });

  it('names the bad tensor and lists the expected inputs', async () => {
    const unetIn = fixturePath('unet/unet_ref.safetensors');
    await expect(
      runEval([
        '--component',
        'unet',
        '--model',
        SD,
        '--inputs',
        unetIn,
        '--out',
        out('x.safetensors'),
      ]),
    ).rejects.toThrow(
      /has no 'timestep'; it holds: .*timestep_a.*\n.*unet expects:\n.*sample float \[B, C, h, w\]/s,
    );
    await expect(
      runEval([
        '--component',
        'unet',
        '--model',
        SD,
        '--inputs',
        unetIn,
        '--map',
        'time=timestep_a',
        '--out',
        out('x.safetensors'),
      ]),
    ).rejects.toThrow(
      /--map "time=timestep_a": unet has no input 'time'; inputs: sample, timestep, encoder_hidden_states/,
    );
    // A latent with 3 channels and an odd size.
    const file = out('bad-in.safetensors');
    await writeFile(
      file,
      serializeSafetensors({
        sample: bytesOf(f32([1, 3, 12, 16], new Float32Array(3 * 12 * 16))),
        timestep: bytesOf(f32([2], [1, 2])),
        encoder_hidden_states: bytesOf(f32([1, 77, 32], new Float32Array(77 * 32))),
      }),
    );
    const err = await runEval([
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      file,
      '--out',
      out('x.safetensors'),
    ]).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /'sample' has 3 channels \(shape \[1, 3, 12, 16\]\); the UNet takes 4/,
    );
    expect((err as Error).message).toMatch(
      /'sample' is 12×16; height and width must be positive multiples of 8/,
    );
    expect((err as Error).message).toMatch(
      /'timestep' has shape \[2\]; it must be \[\] or \[1\] or \[1\]/,
    );
    expect((err as Error).message).toMatch(/expected inputs:\n\s+sample float \[B, 4, h, w\]/);
    const vaeIn = [
      '--inputs',
      fixturePath('vae/vae_ref.safetensors'),
      '--map',
      'latents=decode_input_z',
    ];
    await expect(
      runEval([
        '--component',
        'vae-decode',
        '--model',
        SD,
        '--dtype',
        'float16',
        ...vaeIn,
        '--out',
        out('x.safetensors'),
      ]),
    ).rejects.toThrow(/vae-decode runs in float32 only/);
    await expect(
      runEval(['--component', 'vae', '--model', SD, '--out', out('x.safetensors')]),
    ).rejects.toThrow(/Allowed choices are text-encoder, unet, vae-encode, vae-decode/);
  });

  it('parses --lora FILE[:STRENGTH], keeping a Windows drive colon in the path', () => {
    expect(parseLoraArg('style.safetensors')).toEqual({ path: 'style.safetensors', strength: 1 });
    expect(parseLoraArg('C:\\loras\\a.safetensors:0.5')).toEqual({
      path: 'C:\\loras\\a.safetensors',
      strength: 0.5,
    });
    expect(parseLoraArg('x.safetensors:-1.5e-1')).toEqual({
      path: 'x.safetensors',
      strength: -0.15,
    });
    expect(() => parseLoraArg(':0.5')).toThrow(/is not FILE\[:STRENGTH\]/);
  });
});
