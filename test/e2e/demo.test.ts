// The main job on a fresh machine: `lora-studio demo` on the built-in tiny model and sample
// dataset (assets/), shortened to 120 steps — the loss falls, the exported LoRA is a
// kohya file with .alpha keys and ss_* metadata, and the images with the LoRA are closer to the
// dataset's colours than those without. Then the app's "Try the demo" button in Chromium: it
// starts, shows progress, and Cancel stops it with nothing left running.
// Screenshot: test-output/e2e/demo.png.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../core/formats/index.js';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import type { DemoReport } from '../../core/demo/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(root, 'bin', 'lora-studio.mjs');
const CHROMIUM = '/usr/bin/chromium';
const STEPS = 120;

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('lora-studio demo', () => {
  it(`trains, exports and compares in ${STEPS} steps (CLI)`, async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'demo-e2e-'));
    const out = path.join(tmp, 'out');
    const { code, out: log } = await run([
      'demo',
      '--steps',
      String(STEPS),
      '--out',
      out,
      '--data-dir',
      path.join(tmp, 'data'),
    ]);
    expect(code, log).toBe(0);
    expect(log).toMatch(/Training +\[#+/);
    expect(log).toContain(`output folder: ${out}`);

    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as DemoReport;
    // 30 stars + 1 watermarked copy, which the OCR filter leaves out.
    expect(report.images).toEqual({ imported: 31, skipped: 0, flaggedByOcr: 1, uncaptioned: 0 });
    expect(report.training.steps).toBe(STEPS);
    expect(report.training.endLoss).toBeLessThan(report.training.startLoss);
    // The LoRA moves the images toward the dataset (pink stars), and more with more strength.
    expect(report.closeness.after).toBeLessThan(report.closeness.before - 0.05);
    const sweep = report.closeness.sweep.map((s) => s.distance);
    expect(sweep[2]).toBeLessThan(sweep[0]);

    // The exported file: kohya names, 2-D/4-D down/up, an .alpha per module, ss_* metadata.
    const header = await readSafetensorsHeader(report.lora);
    const names = [...header.tensors.keys()];
    const modules = new Set(
      names.map((n) => n.replace(/\.(lora_down\.weight|lora_up\.weight|alpha)$/, '')),
    );
    expect(names.every((n) => n.startsWith('lora_unet_'))).toBe(true);
    expect(names).toHaveLength(modules.size * 3);
    for (const m of modules) {
      expect(header.tensors.get(`${m}.alpha`)!.shape).toEqual([]);
      expect(header.tensors.get(`${m}.lora_down.weight`)!.shape[0]).toBe(8);
    }
    const meta = header.metadata ?? {};
    expect(meta).toMatchObject({
      ss_network_module: 'networks.lora',
      ss_network_dim: '8',
      ss_network_alpha: '8.0', // kohya writes Python's str(float)
      ss_base_model_version: 'sd_v1',
      ss_steps: String(STEPS),
      ss_num_train_images: '300',
    });
    expect(JSON.parse(meta.ss_tag_frequency)).toBeTypeOf('object');

    // Grids: 3 prompt rows; before/after has 2 columns, the sweep 3 (0, 0.5, 1).
    const ba = await sharp(report.grids.beforeAfter).metadata();
    const sw = await sharp(report.grids.strengthSweep).metadata();
    expect(sw.width).toBeGreaterThan(ba.width!);
    expect(ba.height).toBe(sw.height);
  }, 300_000);
});

describe('Try the demo button in Chromium (serve mode)', () => {
  let service: ApiService | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
  });

  it('starts the demo, shows its progress, and Cancel stops it', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const shots = path.join(root, 'test-output', 'e2e');
    mkdirSync(shots, { recursive: true });
    service = createApiService({ dataDir: mkdtempSync(path.join(tmpdir(), 'demo-ui-')) });
    server = await startServer({
      service,
      port: 0,
      rendererDir: path.join(root, 'dist', 'renderer'),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.url}#/train`);
    await page.getByTestId('demo-start').click();
    const progress = page.getByTestId('demo-progress');
    await progress.waitFor();
    // It gets past import and the OCR scan into training.
    await expect
      .poll(() => page.getByTestId('demo-message').textContent(), { timeout: 120_000 })
      .toMatch(/step \d+\/600/);
    await page.screenshot({ path: path.join(shots, 'demo.png'), fullPage: true });
    await page.getByRole('button', { name: 'Cancel' }).first().click();
    await page.locator('[data-testid="demo-progress"][data-status="cancelled"]').waitFor({
      timeout: 60_000,
    });
    await expect
      .poll(async () => (await service!.call('jobs.list', { status: 'running' })).length, {
        timeout: 30_000,
      })
      .toBe(0);
    const datasets = await service.call('datasets.list', {});
    expect(datasets.map((d) => d.imageCount)).toEqual([31]);
    expect(problems).toEqual([]);
  }, 200_000);
});
