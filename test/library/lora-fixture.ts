// A kohya LoRA with training metadata: the fixture's tensors, its header's `__metadata__`
// replaced (header rewritten, data bytes unchanged), as a file a test can register.
import fs from 'node:fs';
import path from 'node:path';

export const LORA_FIXTURE = path.resolve('test/fixtures/lora/lora_kohya.safetensors');
export const TINY_SD = path.resolve('test/fixtures/tiny_sd');

export const TRAINING_METADATA: Record<string, string> = {
  ss_network_module: 'networks.lora',
  ss_network_dim: '4',
  ss_network_alpha: '8.0',
  ss_sd_model_name: 'tiny_sd',
  ss_base_model_version: 'sd_v1',
  ss_resolution: '(64, 64)',
  ss_steps: '120',
  ss_epoch: '3',
  ss_optimizer: 'torch.optim.adamw.AdamW',
  ss_learning_rate: '0.0001',
  ss_lr_scheduler: 'constant',
  ss_tag_frequency: JSON.stringify({
    '5_cat': { cat: 10, 'orange fur': 7, sitting: 3 },
    '2_dog': { dog: 4, sitting: 6, grass: 1 },
  }),
};

export function writeLoraWithMetadata(file: string, metadata = TRAINING_METADATA): string {
  const bytes = fs.readFileSync(LORA_FIXTURE);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), bytes.subarray(8 + n)]));
  return file;
}
