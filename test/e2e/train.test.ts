// The Train screen in Chromium against the real serve-mode server and the real trainer on the
// tiny demo model (test/fixtures/tiny_sd) and a generated 4-image 64×64 folder: the API's
// validation message in the form, then the "small test run" preset → Start → the loss chart
// gets points → the run completes → its LoRA opens in Generate.
// Screenshot: test-output/e2e/train-run.png.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTinyDataset } from '../train/run-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const TINY_SD = path.join(root, 'test', 'fixtures', 'tiny_sd');
const CHROMIUM = '/usr/bin/chromium';

describe('Train screen in Chromium (serve mode, tiny model)', () => {
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let datasetDir: string;
  const problems: string[] = [];
  const field = (label: string) => page.getByLabel(label, { exact: true });

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    const made = await makeTinyDataset();
    datasetDir = made.root;
    service = createApiService({ dataDir: made.dataDir });
    await service.call('settings.set', { executionProvider: 'cpu' });
    await service.call('models.add', { path: TINY_SD, kind: 'checkpoint', name: 'Tiny SD (demo)' });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1800 }, colorScheme: 'dark' });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A rejected runs.start is an expected 400 in the first test.
      if (message.type() === 'error' && !/400/.test(message.text()))
        problems.push(`console error: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
  });

  it('shows the API validation message for a bad config, and the VRAM estimate', async () => {
    await page.goto(`${server.url}#/train`);
    await field('Preset').selectOption('kohya-sd15');
    // 1.7 + 1 × 512² × 17 kB + 32 × 0.5 M × 18 B + 0.5 = 6.94 GB
    await expect
      .poll(() => page.getByTestId('vram-estimate').textContent())
      .toMatch(/Estimated GPU memory: 6\.9 GB/);
    await field('Base checkpoint').selectOption({ label: 'Tiny SD (demo)' });
    await field('Dataset folder').fill(datasetDir);
    await field('Network dim (rank)').fill('0');
    await page.getByRole('button', { name: 'Start training' }).click();
    const errors = page.getByTestId('train-errors');
    await errors.waitFor();
    expect(await errors.textContent()).toMatch(/network_dim: .*got 0/);
  });

  it('trains the small preset on the tiny model: live loss chart, completion, Open in Generate', async () => {
    await field('Preset').selectOption('small-test');
    await field('Name').fill('e2e_lora');
    await page.getByRole('button', { name: 'Start training' }).click();

    const panel = page.getByTestId('train-run');
    await panel.waitFor();
    await expect
      .poll(async () => Number(await page.getByTestId('loss-chart').getAttribute('data-points')), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    await page
      .locator('[data-testid="train-run"][data-status="completed"]')
      .waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('train-step').textContent()).toBe('6 / 6');
    await expect.poll(() => page.getByTestId('loss-chart').getAttribute('data-points')).toBe('6');
    expect(await page.getByTestId('lr-chart').getAttribute('data-points')).toBe('6');
    await page.getByTestId('loss-chart-smoothed').waitFor();
    const outputPath = await page.getByTestId('train-output-path').textContent();
    expect(outputPath).toMatch(/loras\/e2e_lora\.safetensors$/);
    await page.screenshot({ path: path.join(screenshotDir, 'train-run.png'), fullPage: true });

    await page.getByTestId('open-in-generate').click();
    await expect.poll(() => page.evaluate(() => location.hash)).toMatch(/^#\/generate\?lora=\d+$/);
    await page.getByText('e2e_lora').first().waitFor();
    expect(problems).toEqual([]);
  }, 40_000);
});
