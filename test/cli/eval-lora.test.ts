// `lora-studio eval --lora` and `lora-studio lora inspect` on the fixture LoRA (kohya and PEFT).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../core/cli/eval.js';
import { loraCommand, type LoraInspection } from '../../core/cli/lora.js';
import {
  parseSafetensors,
  serializeSafetensors,
  type TensorToWrite,
} from '../../core/formats/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fixturePath, loadRefs, maxAbsDiff, ref } from '../models/model-fixtures.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/lora-studio.mjs');
const TOL = 1e-4;
const SD = fixturePath('tiny_sd');
const KOHYA = fixturePath('lora/lora_kohya.safetensors');
const PEFT = fixturePath('lora/diffusers_format/pytorch_lora_weights.safetensors');
const INPUTS = fixturePath('lora/lora_ref.safetensors');

async function cli(
  make: (io: { write(t: string): void }) => Command,
  args: string[],
): Promise<string> {
  let printed = '';
  const cmd = make({ write: (t) => (printed += t) }).exitOverride();
  await new Command('lora-studio').addCommand(cmd).parseAsync(args, { from: 'user' });
  return printed;
}

async function noisePred(file: string): Promise<HostTensor> {
  const r = parseSafetensors(new Uint8Array(await readFile(file)), file);
  const bytes = (await r.read('noise_pred')).slice();
  return {
    dtype: 'float32',
    shape: r.info('noise_pred').shape,
    data: new Float32Array(bytes.buffer),
  };
}

describe('lora-studio eval --lora', () => {
  let dir: string;
  let refs: Map<string, HostTensor>;
  let lycoris: string;
  beforeAll(async () => {
    dir = makeTempDir();
    refs = await loadRefs('lora/lora_ref.safetensors');
    // The fixture LoRA plus one LoHa module and a key nobody understands.
    const r = parseSafetensors(new Uint8Array(await readFile(KOHYA)), KOHYA);
    const tensors: Record<string, TensorToWrite> = {};
    for (const name of r.names()) {
      const info = r.info(name);
      tensors[name] = { dtype: info.dtype, shape: info.shape, data: await r.read(name) };
    }
    const w = { dtype: 'float32' as const, shape: [2, 32], data: new Float32Array(64) };
    tensors['lora_unet_down_blocks_1_resnets_0_conv1.hada_w1_a'] = w;
    tensors['lora_unet_down_blocks_1_resnets_0_conv1.hada_w1_b'] = w;
    tensors.mystery_tensor = w;
    lycoris = path.join(dir, 'lycoris.safetensors');
    await writeFile(lycoris, serializeSafetensors(tensors, { ss_network_module: 'lycoris.kohya' }));
  });
  afterAll(() => removeDir(dir));
  const out = (name: string) => path.join(dir, name);

  it('the real launcher applies the kohya fixture LoRA: out_lora', async () => {
    const { stdout } = await run(process.execPath, [
      BIN,
      'eval',
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      INPUTS,
      '--lora',
      `${KOHYA}:1`,
      '--out',
      out('k.safetensors'),
    ]);
    expect(stdout).toMatch(/LoRA lora_kohya\.safetensors × 1: 128 module\(s\)/);
    expect(maxAbsDiff(await noisePred(out('k.safetensors')), ref(refs, 'out_lora'))).toBeLessThan(
      TOL,
    );
  });

  it('PEFT at strength 2, and kohya 0.5 stacked with PEFT 1, both give out_lora', async () => {
    await cli(evalCommand, [
      'eval',
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      INPUTS,
      '--lora',
      `${PEFT}:2`,
      '--out',
      out('p.safetensors'),
    ]);
    expect(maxAbsDiff(await noisePred(out('p.safetensors')), ref(refs, 'out_lora'))).toBeLessThan(
      TOL,
    );
    const printed = await cli(evalCommand, [
      'eval',
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      INPUTS,
      '--lora',
      `${KOHYA}:0.5`,
      '--lora',
      PEFT,
      '--out',
      out('s.safetensors'),
    ]);
    expect(printed).toMatch(
      /LoRA lora_kohya\.safetensors × 0\.5: 128 module\(s\)\n\s+LoRA pytorch_lora_weights\.safetensors × 1: 128/,
    );
    expect(maxAbsDiff(await noisePred(out('s.safetensors')), ref(refs, 'out_lora'))).toBeLessThan(
      TOL,
    );
  });

  it('refuses a LoRA with parts it cannot apply, naming them; --lora-partial applies the rest', async () => {
    const args = [
      'eval',
      '--component',
      'unet',
      '--model',
      SD,
      '--inputs',
      INPUTS,
      '--lora',
      lycoris,
    ];
    await expect(cli(evalCommand, [...args, '--out', out('l.safetensors')])).rejects.toThrow(
      /2 LoRA part\(s\) cannot be applied.*\n.*lora_unet_down_blocks_1_resnets_0_conv1 — LoHa \(hada_\*\) is not supported yet\n.*mystery_tensor — key not understood/,
    );
    const printed = await cli(evalCommand, [
      ...args,
      '--lora-partial',
      '--out',
      out('l.safetensors'),
    ]);
    expect(printed).toMatch(
      /not applied: lycoris\.safetensors: lora_unet_down_blocks_1_resnets_0_conv1 — LoHa/,
    );
    expect(maxAbsDiff(await noisePred(out('l.safetensors')), ref(refs, 'out_lora'))).toBeLessThan(
      TOL,
    );
  });

  it('text-encoder with a UNet-only LoRA: nothing applied to it, and the summary says so', async () => {
    const te = await loadRefs('text/text_encoder_ref.safetensors');
    const printed = await cli(evalCommand, [
      'eval',
      '--component',
      'text-encoder',
      '--model',
      SD,
      '--lora',
      KOHYA,
      '--inputs',
      fixturePath('text/text_encoder_ref.safetensors'),
      '--out',
      out('te.safetensors'),
    ]);
    expect(printed).toMatch(
      /LoRA lora_kohya\.safetensors × 1: 0 module\(s\) \(128 for the other model left out\)/,
    );
    const file = out('te.safetensors');
    const r = parseSafetensors(new Uint8Array(await readFile(file)), file);
    const bytes = (await r.read('prompt_embeds')).slice();
    const got: HostTensor = {
      dtype: 'float32',
      shape: r.info('prompt_embeds').shape,
      data: new Float32Array(bytes.buffer),
    };
    expect(maxAbsDiff(got, ref(te, 'last_hidden_state'))).toBeLessThan(TOL);
  });

  it('lora inspect prints format, modules, ranks, alphas, ss_* metadata and what is not understood', async () => {
    const text = await cli(loraCommand, ['lora', 'inspect', lycoris]);
    expect(text).toMatch(/^format\s+kohya$/m);
    expect(text).toMatch(/^modules\s+128 UNet, 0 text encoder$/m);
    expect(text).toMatch(/^ranks\s+4 \(128\)$/m);
    expect(text).toMatch(/^alphas\s+8 \(128\)$/m);
    expect(text).toMatch(/^\s+ss_network_module\s+lycoris\.kohya$/m);
    expect(text).toMatch(
      /^\s+UNet\s+mid_block\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\s+rank 4\s+alpha 8\s+scale 2\s+32 → 32$/m,
    );
    expect(text).toMatch(
      /^not applicable \(1\):\n\s+lora_unet_down_blocks_1_resnets_0_conv1 — LoHa/m,
    );
    expect(text).toMatch(/^keys not understood \(1\):\n\s+mystery_tensor$/m);
  });

  it('lora inspect --json --model checks the PEFT file against the model’s layer sizes', async () => {
    const json = await cli(loraCommand, ['lora', 'inspect', PEFT, '--model', SD, '--json']);
    const r = JSON.parse(json) as LoraInspection;
    expect(r.format).toBe('peft');
    expect(r.applicable).toEqual({ unet: 128, text_encoder: 0 });
    expect(r.modules[0]).toMatchObject({ rank: 4, alpha: 4, alphaFromFile: false });
    expect(r.unsupported).toEqual([]);
    expect(r.unknownKeys).toEqual([]);
  });
});
