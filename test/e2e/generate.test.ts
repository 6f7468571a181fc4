// The Generate screen in Chromium against the real serve-mode server and the real pipeline
// on the tiny demo model (test/fixtures/tiny_sd, registered through the API): type a prompt,
// 64×64, 4 steps, Generate → progress → the image in the gallery, loaded at 64×64; then the
// parameters go back to the form, and PNG info reads the file.
// Screenshots: test-output/e2e/generate*.png.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../core/api.js';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const TINY_SD = path.join(root, 'test', 'fixtures', 'tiny_sd');
const CHROMIUM = '/usr/bin/chromium';
/** The first generation creates the ORT sessions: allow for a busy CI machine. */
const GENERATION = { timeout: 45_000 };

const DESKTOP_BRIDGE = `
  (() => {
    const token = new URL(location.href).searchParams.get('token');
    window.app = Object.freeze({
      call: (method, input) =>
        fetch('/api/' + method, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
          body: JSON.stringify(input),
        }).then((response) => response.json()),
      onEvent: () => () => undefined,
    });
  })();
`;

describe('Generate screen in Chromium (serve mode, tiny model)', () => {
  let dataDir: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const events: ApiEvent[] = [];
  const problems: string[] = [];
  const field = (label: string) => page.getByLabel(label, { exact: true });

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    dataDir = makeTempDir('lora-studio-e2e-generate-');
    service = createApiService({ dataDir });
    service.onEvent((e) => events.push(e));
    // CI has no GPU: `auto` would first try WebGPU (Dawn fails on lavapipe), which costs ≈ 10 s
    // per cold start here. The EP choice has its own tests; this one is about the screen.
    await service.call('settings.set', { executionProvider: 'cpu' });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 }, colorScheme: 'dark' });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
    if (dataDir) removeDir(dataDir);
  });

  it('asks for a checkpoint first, pointing to Models', async () => {
    await page.goto(`${server.url}#/generate`);
    const empty = page.getByTestId('generate-empty');
    await empty.getByText(/No checkpoint registered yet/).waitFor();
    expect(await empty.getByRole('link', { name: 'Models' }).getAttribute('href')).toBe('#/models');
  });

  it('generates a 64×64 image on the tiny model and shows it in the gallery', async () => {
    // Registered through the API, as another window or the CLI would; the screen follows.
    const response = await fetch(`${server.origin}/api/models.add`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ path: TINY_SD, kind: 'checkpoint', name: 'Tiny SD (demo)' }),
    });
    expect(response.status).toBe(200);
    await expect.poll(() => field('Checkpoint').inputValue()).not.toBe('');
    expect(await field('Checkpoint').locator('option:checked').textContent()).toBe(
      'Tiny SD (demo)',
    );

    await field('Prompt').fill('a watercolor fox');
    await field('Negative prompt').fill('blurry');
    await field('Size').selectOption('64x64');
    await field('Steps').fill('4');
    await field('Seed (−1: random)').fill('1234');
    await field('Sampler').selectOption({ label: 'Euler' });
    await page.getByRole('button', { name: 'Generate' }).click();

    const progress = page.getByTestId('generate-progress');
    await progress.waitFor();
    await page.locator('[data-testid="generate-progress"][data-status="done"]').waitFor(GENERATION);
    expect(await page.getByTestId('generate-percent').textContent()).toBe('100 %');
    expect(await page.getByTestId('generate-step').textContent()).toBe('Step 4 of 4');
    expect(await page.getByTestId('generate-preview').count()).toBe(1);

    const item = page.getByTestId('gallery-item').first();
    await item.getByText('a watercolor fox').waitFor();
    await expect.poll(() => item.getAttribute('class')).toContain('latest');
    const image = item.getByTestId('generation-image');
    await expect
      .poll(() =>
        image.evaluate((img: HTMLImageElement) =>
          img.complete ? [img.naturalWidth, img.naturalHeight] : null,
        ),
      )
      .toEqual([64, 64]);
    expect(await item.textContent()).toMatch(/Euler · 4 steps · CFG 7 · 64×64/);
    expect(await item.textContent()).toMatch(/Seed 1234/);
    await page.screenshot({ path: path.join(screenshotDir, 'generate-result.png') });

    // The core's side: events rose to 100 %, and the row holds what was asked for.
    const progressValues = events.flatMap((e) => (e.status === 'progress' ? [e.progress] : []));
    expect(progressValues.at(-1)).toBe(1);
    expect(progressValues).toEqual([...progressValues].sort((a, b) => a - b));
    const { items } = await service.call('generations.list', {});
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      seed: 1234,
      params: { prompt: 'a watercolor fox', negativePrompt: 'blurry', steps: 4, sampler: 'euler' },
    });
    expect(items[0].params.infotext).toMatch(/Steps: 4, Sampler: Euler, .*Seed: 1234, Size: 64x64/);
  });

  it('sends an image’s parameters back to the form', async () => {
    await field('Prompt').fill('something else');
    await field('Steps').fill('9');
    await page.getByRole('button', { name: 'Random seed' }).click();
    expect(await field('Seed (−1: random)').inputValue()).toBe('-1');
    await page.getByRole('button', { name: 'Reuse last seed' }).click();
    expect(await field('Seed (−1: random)').inputValue()).toBe('1234');
    await field('Seed (−1: random)').fill('7');
    await page
      .getByTestId('gallery-item')
      .first()
      .getByRole('button', { name: 'Send to prompt' })
      .click();
    await page
      .getByTestId('toast-success')
      .getByText(/Parameters from image #1/)
      .waitFor();
    expect(await field('Prompt').inputValue()).toBe('a watercolor fox');
    expect(await field('Negative prompt').inputValue()).toBe('blurry');
    expect(await field('Steps').inputValue()).toBe('4');
    expect(await field('Seed (−1: random)').inputValue()).toBe('1234');
    expect(await field('Size').inputValue()).toBe('64x64');
  });

  it('reads PNG info from a dropped (chosen) PNG', async () => {
    const [generation] = (await service.call('generations.list', {})).items;
    await field('PNG file to read').setInputFiles({
      name: 'fox.png',
      mimeType: 'image/png',
      buffer: readFileSync(generation.filePath),
    });
    const result = page.getByTestId('png-info-result');
    await result.getByText(/Negative prompt: blurry/).waitFor();
    expect(await result.textContent()).toMatch(/Steps: 4, Sampler: Euler/);
    await field('Prompt').fill('changed');
    await result.getByRole('button', { name: 'Send to prompt' }).click();
    expect(await field('Prompt').inputValue()).toBe('a watercolor fox');
    await page.screenshot({
      path: path.join(screenshotDir, 'generate-png-info.png'),
      fullPage: true,
    });
  });

  it('shows the image over a desktop bridge too (base64, as over Electron IPC)', async () => {
    // Stands in for electron/preload.cts: a window.app bridge, so no file URL is used.
    const desktop = await browser.newPage({ colorScheme: 'dark' });
    desktop.on('pageerror', (error) => problems.push(`desktop page error: ${error.message}`));
    await desktop.addInitScript({ content: DESKTOP_BRIDGE });
    await desktop.goto(`${server.url}#/generate`);
    const image = desktop.getByTestId('gallery-item').first().getByTestId('generation-image');
    await expect
      .poll(() =>
        image.evaluate((img: HTMLImageElement) =>
          img.complete && img.src.startsWith('data:image/png;base64,')
            ? [img.naturalWidth, img.naturalHeight]
            : null,
        ),
      )
      .toEqual([64, 64]);
    await desktop.close();
  });

  it('cancels a generation from the Cancel button', async () => {
    await field('Steps').fill('150');
    await field('Batch count').fill('20');
    await page.getByRole('button', { name: 'Generate' }).click();
    const progress = page.locator('[data-testid="generate-progress"][data-status="running"]');
    await progress.getByText(/step [1-9]\d* of 150/i).waitFor(GENERATION);
    await progress.getByRole('button', { name: 'Cancel' }).click();
    await page
      .locator('[data-testid="generate-progress"][data-status="cancelled"]')
      .waitFor(GENERATION);
    expect(await page.getByTestId('generate-progress').getByText('Cancelled').count()).toBe(1);
    const [job] = await service.call('jobs.list', { kind: 'generate' });
    expect(job).toMatchObject({ status: 'cancelled', cancelRequested: true });
    expect(job.progress).toBeLessThan(1);
    expect(await page.getByRole('button', { name: 'Generate' }).isEnabled()).toBe(true);
  });

  it('logged no page or console errors', () => {
    expect(problems).toEqual([]);
  });
});
