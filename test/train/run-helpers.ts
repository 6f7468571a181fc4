// A 4-image 64×64 kohya-style dataset for the training-run tests (generated, no fixture files).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { fixturePath } from './helpers.js';

export async function makeTinyDataset(): Promise<{ root: string; dataDir: string }> {
  const base = await mkdtemp(join(tmpdir(), 'lora-run-'));
  const root = join(base, 'data');
  const folder = join(root, '1_tiny');
  await mkdir(folder, { recursive: true });
  const captions = ['tiny, red, square', 'tiny, green, circle', 'tiny, blue', 'tiny, red, blue'];
  for (let i = 0; i < 4; i++) {
    const px = Buffer.alloc(64 * 64 * 3);
    for (let j = 0; j < px.length; j++) px[j] = (j * (i + 3) + ((j / 192) | 0) * 7) & 255;
    await sharp(px, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toFile(join(folder, `img${i}.png`));
    await writeFile(join(folder, `img${i}.txt`), captions[i]);
  }
  return { root, dataDir: join(base, 'app') };
}

export function tinyConfig(root: string, extra: Record<string, unknown> = {}) {
  return {
    pretrained_model_name_or_path: fixturePath('tiny_sd'),
    train_data_dir: root,
    output_name: 'tiny',
    network_dim: 4,
    network_alpha: 4,
    learning_rate: 1e-3,
    resolution: 64,
    min_bucket_reso: 64,
    max_bucket_reso: 128,
    train_batch_size: 2,
    max_train_steps: 4,
    save_every_n_epochs: 0,
    save_every_n_steps: 2,
    save_precision: 'fp32',
    seed: 7,
    noise_offset: 0.05,
    ...extra,
  };
}
