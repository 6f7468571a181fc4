// Dataset preparation benchmark (`npm run bench:dataset [-- --count 200 --limit 960 --keep]`).
// Generates a folder of synthetic images (sizes 512–1536 px; JPEG, PNG with and without alpha,
// WebP; a quarter with text drawn on them) in a temp dir, then prints images/s on the CPU for:
//   1. importFolder, cold (hash, header check, decode, 256 px WebP thumbnail, working copy);
//   2. importFolder again on the same work dir (resume: nothing re-decoded);
//   3. the OCR text filter (PP-OCRv4 through core/onnx, CPU EP) on every imported image at
//      PaddleOCR's 960 px limit: detector + recognizer confirmation (the default), and the
//      detector alone — with how many text images were flagged and how many plain ones were;
//   4. tagging with a tiny random-weight model of the WD14 signature (448² NHWC BGR input): the
//      figure is our pre-processing (decode, white pad, resize, BGR) + session overhead, not the
//      speed of a real SwinV2/MOAT tagger; and BLIP captioning (tiny models, ≤ 20 tokens).
// `--no-ocr` skips step 3.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  BlipCaptioner,
  importFolder,
  parseTagsCsv,
  TextDetector,
  WdTagger,
  type ImportedImage,
} from '../core/dataset/index.js';
import {
  TINY_TAGS_CSV,
  TINY_VOCAB,
  writeTinyBlipDecoder,
  writeTinyBlipVision,
  writeTinyTagger,
} from '../test/dataset/caption-models.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Deterministic pseudo-random numbers (LCG), so every run benchmarks the same images. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WORDS = ['Hello world', 'SALE 50%', '@artist_name', 'Chapter 3', 'LoRA Studio', 'preview'];

function sceneSvg(w: number, h: number, rand: () => number, text: boolean): Buffer {
  const c = () =>
    `hsl(${Math.floor(rand() * 360)},${40 + Math.floor(rand() * 50)}%,${30 + Math.floor(rand() * 50)}%)`;
  const shapes = Array.from({ length: 12 }, () => {
    const x = Math.floor(rand() * w);
    const y = Math.floor(rand() * h);
    const r = Math.floor((0.05 + rand() * 0.2) * Math.min(w, h));
    return rand() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${c()}" fill-opacity="0.8"/>`
      : `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${r}" fill="${c()}"/>`;
  }).join('');
  const size = Math.round(Math.min(w, h) * (0.04 + rand() * 0.06));
  const words = text
    ? `<text x="${Math.floor(w * 0.05)}" y="${Math.floor(h * (0.2 + rand() * 0.7))}" font-family="DejaVu Sans, sans-serif" font-size="${size}" fill="${rand() < 0.5 ? '#fff' : '#111'}">${WORDS[Math.floor(rand() * WORDS.length)]}</text>`
    : '';
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="${c()}"/><stop offset="1" stop-color="${c()}"/></linearGradient></defs><rect width="${w}" height="${h}" fill="url(#g)"/>${shapes}${words}</svg>`,
  );
}

async function generate(dir: string, count: number): Promise<Map<string, boolean>> {
  const rand = rng(42);
  const hasText = new Map<string, boolean>();
  mkdirSync(join(dir, '10_subject'), { recursive: true });
  // Photo-ish grain so encoders and the detector see texture, not flat fills: one noise tile,
  // repeated (generating full-size noise per image costs more than the benchmark itself).
  const grain = await sharp({
    create: {
      width: 256,
      height: 256,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 18 },
    },
  })
    .png()
    .toBuffer();
  for (let i = 0; i < count; i++) {
    const w = 512 + 64 * Math.floor(rand() * 17);
    const h = 512 + 64 * Math.floor(rand() * 17);
    const text = i % 4 === 0;
    const scene = await sharp(sceneSvg(w, h, rand, text))
      .png({ compressionLevel: 0 })
      .toBuffer();
    const base = sharp(scene).composite([{ input: grain, tile: true, blend: 'soft-light' }]);
    const kind = i % 8;
    const name = `10_subject/img_${String(i).padStart(4, '0')}`;
    let file: string;
    if (kind < 5) file = `${name}.jpg`;
    else if (kind < 7) file = `${name}.png`;
    else file = `${name}.webp`;
    const out =
      kind < 5
        ? base.jpeg({ quality: 90 })
        : kind === 5
          ? base.png()
          : kind === 6
            ? base.ensureAlpha(0.8).png()
            : base.webp({ quality: 85 });
    writeFileSync(join(dir, file), await out.toBuffer());
    writeFileSync(join(dir, `${name}.txt`), `subject, sample ${i}, ${text ? 'text' : 'plain'}`);
    hasText.set(file, text);
  }
  return hasText;
}

const per = (n: number, ms: number) => (n / (ms / 1000)).toFixed(1);

async function ocrPass(
  images: ImportedImage[],
  truth: Map<string, boolean>,
  verify: boolean,
  limitSide: number,
) {
  let t = performance.now();
  const det = await TextDetector.create({ verify, limitSide });
  const createMs = performance.now() - t;
  let hits = 0;
  let falseAlarms = 0;
  t = performance.now();
  for (const img of images) {
    const r = await det.detect(img.workingCopy);
    if (r.flagged && truth.get(img.relPath)) hits++;
    if (r.flagged && !truth.get(img.relPath)) falseAlarms++;
  }
  const ms = performance.now() - t;
  await det.release();
  return { ms, createMs, hits, falseAlarms };
}

async function captionPasses(images: ImportedImage[], dir: string) {
  mkdirSync(dir, { recursive: true });
  const labels = parseTagsCsv(TINY_TAGS_CSV);
  const tagger = await WdTagger.create({ modelPath: writeTinyTagger(dir, labels.length), labels });
  let t = performance.now();
  let tags = 0;
  for (const img of images) tags += (await tagger.tag([img.workingCopy]))[0].tags.length;
  const tagMs = performance.now() - t;
  await tagger.release();
  const vocab = join(dir, 'vocab.txt');
  writeFileSync(vocab, TINY_VOCAB.join('\n'));
  const blip = await BlipCaptioner.create({
    visionModelPath: writeTinyBlipVision(dir),
    decoderModelPath: writeTinyBlipDecoder(dir, { vocabSize: TINY_VOCAB.length }),
    tokenizerPath: vocab,
  });
  t = performance.now();
  let tokens = 0;
  for (const img of images)
    tokens += (await blip.caption(img.workingCopy, { maxTokens: 20 })).ids.length;
  const blipMs = performance.now() - t;
  await blip.release();
  return { tagMs, tags, blipMs, tokens };
}

async function main(): Promise<void> {
  const count = arg('count', 200);
  if (process.argv.includes('--gen-only')) {
    // Only make the images (to look at them, or to feed another tool).
    const dir = mkdtempSync(join(tmpdir(), 'lora-studio-bench-gen-'));
    await generate(dir, count);
    console.log(dir);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'lora-studio-bench-dataset-'));
  const src = join(root, 'src');
  const work = join(root, 'work');
  console.log(
    `bench:dataset — node ${process.version}, ${cpus().length} cores, load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(
        ' ',
      )}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}, ${sharp.concurrency()} vips threads)`,
  );
  try {
    let t = performance.now();
    const truth = await generate(src, count);
    const withText = [...truth.values()].filter(Boolean).length;
    console.log(
      `generated ${count} images (${withText} with text) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
    );

    t = performance.now();
    const cold = await importFolder(src, work);
    const coldMs = performance.now() - t;
    t = performance.now();
    await importFolder(src, work);
    const warmMs = performance.now() - t;
    if (cold.images.length !== count)
      throw new Error(
        `imported ${cold.images.length} of ${count}: ${JSON.stringify(cold.skipped)}`,
      );
    const mp = cold.images.reduce((s, i) => s + (i.width * i.height) / 1e6, 0);

    const rows: string[][] = [
      [
        'import + thumbnail, cold',
        `${(coldMs / 1000).toFixed(2)} s`,
        per(count, coldMs),
        `${(mp / (coldMs / 1000)).toFixed(1)} MP/s`,
      ],
      ['import again (resume)', `${(warmMs / 1000).toFixed(2)} s`, per(count, warmMs), ''],
    ];
    const limit = arg('limit', 960);
    for (const verify of process.argv.includes('--no-ocr') ? [] : [true, false]) {
      const r = await ocrPass(cold.images, truth, verify, limit);
      rows.push([
        `OCR ${verify ? 'det + rec' : 'det only'}, ${limit} px`,
        `${(r.ms / 1000).toFixed(2)} s`,
        per(count, r.ms),
        `flagged ${r.hits}/${withText} text, ${r.falseAlarms}/${count - withText} plain; sessions ${(r.createMs / 1000).toFixed(1)} s`,
      ]);
    }
    const c = await captionPasses(cold.images, join(root, 'models'));
    rows.push(
      [
        'tag, tiny WD14-signature model',
        `${(c.tagMs / 1000).toFixed(2)} s`,
        per(count, c.tagMs),
        `448² input; ${(c.tags / count).toFixed(1)} tags/image`,
      ],
      [
        'caption, tiny BLIP-signature models',
        `${(c.blipMs / 1000).toFixed(2)} s`,
        per(count, c.blipMs),
        `384² input; ${(c.tokens / count).toFixed(1)} tokens/image`,
      ],
    );
    const head = ['step', 'time', 'images/s', 'notes'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ');
    console.log(
      [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n'),
    );
    console.log(
      `\n${count} images, ${mp.toFixed(0)} MP in all (mean ${(mp / count).toFixed(2)} MP)`,
    );
  } finally {
    if (!process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
}

await main();
