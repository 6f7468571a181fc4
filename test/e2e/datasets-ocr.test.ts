// The OCR overlay preview in a real browser (serve mode): scan a dataset with one text image and
// one plain image (real PP-OCRv4 models), see the detected boxes drawn over the thumbnail, and
// watch the threshold slider change which images would be flagged, live, before re-applying it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { photoJpeg, svg } from '../dataset/helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
const POLL = { timeout: 30_000 };

describe('OCR overlay preview in Chromium (serve mode)', () => {
  let base: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let datasetId: number;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    base = makeTempDir('lora-studio-e2e-ocr-');
    const folder = path.join(base, 'pictures');
    mkdirSync(folder);
    const text = svg(
      480,
      360,
      '<rect width="480" height="360" fill="#fff"/><text x="24" y="120" font-family="DejaVu Sans, sans-serif" font-size="24" fill="#111">Hello world</text>',
    );
    writeFileSync(path.join(folder, 'poster.png'), await sharp(text).png().toBuffer());
    writeFileSync(path.join(folder, 'photo.jpg'), await photoJpeg(320, 240, 2));
    service = createApiService({ dataDir: path.join(base, 'data') });
    datasetId = (await service.call('datasets.create', { name: 'Posters' })).id;
    const { jobId } = await service.call('datasets.import', { datasetId, folder });
    for (;;) {
      const job = await service.call('jobs.get', { jobId });
      if (job.status === 'done') break;
      if (job.status !== 'running' && job.status !== 'queued') throw new Error(job.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    await page.goto(server.url);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
    if (base) removeDir(base);
  });

  it('draws the text boxes and flags live as the threshold moves', async () => {
    await page.getByTestId('nav-datasets').click();
    await page.getByTestId('dataset-open').click();
    await page.getByTestId('scan-button').click();
    await page
      .getByTestId('scan-progress')
      .locator('xpath=self::*[@data-status="done"]')
      .waitFor(POLL);
    const item = page.getByTestId('text-overlay-item');
    await expect.poll(() => item.count(), POLL).toBe(1);
    expect(await item.getByTestId('text-box').count()).toBeGreaterThan(0);
    const { images } = await service.call('datasets.textBoxes', { id: datasetId });
    expect(images).toHaveLength(2); // the photo is measured too, with no boxes
    const ratio = images.find((i) => i.boxes.length > 0)!.textRatio;
    // Default threshold 0.5 %: the poster is flagged, the photo is not.
    expect(ratio).toBeGreaterThan(0.005);
    await expect.poll(() => item.getAttribute('data-flagged'), POLL).toBe('true');
    expect(await page.getByTestId('live-flagged').textContent()).toMatch(/1 of 2 scanned/);
    await item.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(screenshotDir, 'datasets-ocr.png') });

    // Above the poster's share: nothing would be flagged, without a new scan.
    const above = Math.min(10, Math.ceil(ratio * 1000) / 10 + 0.1);
    expect(above / 100).toBeGreaterThan(ratio);
    await page.getByTestId('scan-threshold').fill(String(above));
    await expect.poll(() => item.getAttribute('data-flagged'), POLL).toBe('false');
    expect(await page.getByTestId('live-flagged').textContent()).toMatch(/0 of 2 scanned/);
    expect(problems).toEqual([]);
  });
});
