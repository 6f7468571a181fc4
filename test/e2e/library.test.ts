// The LoRA library and the generations history in a real browser against the serve-mode
// server, on the real pipeline (tiny SD fixture): scan an A1111 folder, open a LoRA's
// metadata (facts, sortable tag table), render a strength sweep and see it, export it for
// Civitai; in History search, open, send to Generate and delete (file + row).
// Screenshots: test-output/e2e/library-lora.png, test-output/e2e/history.png.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { TINY_SD, writeLoraWithMetadata } from '../library/lora-fixture.js';
import { solidPng } from '../service/fake-generate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
const WAIT = { timeout: 30_000 };
/** The first grid builds the tiny model's sessions; CI runs this beside other ORT tests. */
const RENDER = { timeout: 150_000 };

describe('LoRA library and history in Chromium (serve mode)', () => {
  let dataDir: string;
  let webui: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const waitForJobs = async () => {
    for (;;) {
      const jobs = await service.call('jobs.list', {});
      if (jobs.every((j) => ['done', 'error', 'cancelled'].includes(j.status))) return jobs;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    dataDir = makeTempDir('lora-studio-e2e-library-');
    webui = path.join(dataDir, 'stable-diffusion-webui');
    mkdirSync(path.join(webui, 'models', 'Stable-diffusion'), { recursive: true });
    writeLoraWithMetadata(path.join(webui, 'models', 'Lora', 'cats.safetensors'));

    // The real pipeline: grids run the tiny model on the CPU.
    service = createApiService({ dataDir });
    await service.call('settings.set', { modelDirs: [webui], executionProvider: 'cpu' });
    const ckpt = await service.call('models.add', { path: TINY_SD, kind: 'checkpoint' });
    await service.call('models.setDefault', { id: ckpt.id });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    await page.goto(server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
    if (dataDir) removeDir(dataDir);
  });

  it('scans the folder and shows the LoRA with its hashes and training metadata', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByRole('button', { name: 'Rescan folders' }).click();
    const row = page.getByTestId('model-row-cats');
    await row.waitFor(WAIT);
    await row.getByRole('button', { name: 'cats' }).click();
    const details = page.getByTestId('model-details');
    await details.getByRole('button', { name: 'Compute hashes' }).click();
    await details.getByTestId('model-hashes').getByText('AutoV3 (LoRA hash)').waitFor(WAIT);

    await page.getByTestId('nav-library').click();
    await page.getByTestId('lora-row').getByRole('button', { name: 'cats' }).click();
    const lora = page.getByTestId('lora-details');
    await lora.getByRole('heading', { name: 'cats' }).waitFor(WAIT);
    const autov2 = service.store.models.list({ kind: 'lora' })[0].hashes.autov2;
    expect(await lora.textContent()).toContain(autov2);
    const facts = lora.getByTestId('lora-facts');
    expect(await facts.textContent()).toContain('Dim (rank)4');
    expect(await facts.textContent()).toContain('Epochs3');
    expect(await lora.getByTestId('trigger-words').textContent()).toContain('orange fur');
    const tags = lora.getByTestId('tag-frequency');
    const firstTag = () => tags.locator('tbody tr').first().locator('td').first().textContent();
    expect(await firstTag()).toBe('cat');
    await tags.getByTestId('sort-tag').click();
    expect(await firstTag()).toBe('cat');
    await tags.getByTestId('sort-tag').click();
    expect(await firstTag()).toBe('sitting');
    await tags.getByTestId('sort-count').click();
    expect(await firstTag()).toBe('cat');
  });

  it('renders a strength sweep as a job and shows it', async () => {
    const lora = page.getByTestId('lora-details');
    await lora.getByLabel('Prompts (one per line)').fill('a red house');
    await lora.getByLabel('Strengths (sweep)').fill('0, 1');
    await lora.getByLabel('Steps').fill('2');
    await lora.getByLabel('Size').fill('64');
    await lora.getByRole('button', { name: 'Render strength sweep' }).click();
    const image = lora.getByTestId('grid-image');
    await image.waitFor(RENDER);
    await expect
      .poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth), WAIT)
      .toBeGreaterThan(2 * 64);
    const [grid] = (
      await service.call('library.lora', { id: service.store.models.list({ kind: 'lora' })[0].id })
    ).grids;
    expect(grid).toMatchObject({
      kind: 'strength-sweep',
      columns: ['strength 0', 'strength 1'],
    });
    expect(await image.getAttribute('src')).toBe(`/files/grids/${grid.id}.png`);
    await page.screenshot({ path: path.join(screenshotDir, 'library-lora.png'), fullPage: true });
  }, 180_000);

  it('exports the LoRA for Civitai into a folder given by path', async () => {
    const lora = page.getByTestId('lora-details');
    const folder = path.join(dataDir, 'civitai');
    await lora.getByLabel('Export for Civitai into (absolute folder path)').fill(folder);
    await lora.getByRole('button', { name: 'Export for Civitai' }).click();
    const result = lora.getByTestId('export-result');
    await result.waitFor(WAIT);
    expect(await result.textContent()).toContain(path.join(folder, 'cats.preview.png'));
    expect(existsSync(path.join(folder, 'cats.civitai.json'))).toBe(true);
  });

  it('searches the history, opens an image, sends it to Generate and deletes it', async () => {
    await waitForJobs();
    const outDir = path.join(dataDir, 'outputs', 'txt2img', 'seeded');
    mkdirSync(outDir, { recursive: true });
    const seeded = [];
    for (const prompt of ['a lighthouse at dusk', 'a castle on a hill', 'a lighthouse in fog']) {
      const file = path.join(outDir, `${prompt.replace(/ /g, '_')}.png`);
      const infotext = `${prompt}\nSteps: 3, Sampler: Euler, CFG scale: 5, Seed: 11, Size: 64x64`;
      writeFileSync(file, await solidPng(64, 64, infotext));
      seeded.push(
        service.store.generations.add({
          modelId: null,
          filePath: file,
          seed: 11,
          params: {
            prompt,
            negativePrompt: '',
            sampler: 'euler',
            steps: 3,
            cfgScale: 5,
            width: 64,
            height: 64,
            clipSkip: 1,
            loras: [],
            infotext,
          },
        }),
      );
    }
    await page.getByTestId('nav-history').click();
    await page.getByTestId('history-search').fill('lighthouse');
    await expect.poll(() => page.getByTestId('history-item').count(), WAIT).toBe(2);
    expect(await page.getByTestId('history-count').textContent()).toBe('1–2 of 2');
    await page.getByRole('button', { name: `Open image #${seeded[2].id}` }).click();
    const details = page.getByTestId('history-details');
    expect(await details.getByTestId('history-infotext').textContent()).toContain('Steps: 3');
    await page.screenshot({ path: path.join(screenshotDir, 'history.png'), fullPage: true });

    await details.getByRole('button', { name: 'Delete' }).click();
    await details.getByRole('button', { name: 'Delete file and entry?' }).click();
    await expect.poll(() => page.getByTestId('history-item').count(), WAIT).toBe(1);
    expect(service.store.generations.get(seeded[2].id)).toBeUndefined();
    expect(existsSync(seeded[2].filePath)).toBe(false);

    await page.getByRole('button', { name: `Open image #${seeded[0].id}` }).click();
    await page.getByTestId('send-to-generate').click();
    await expect
      .poll(() => page.locator('#gen-prompt').inputValue(), WAIT)
      .toBe('a lighthouse at dusk');
    expect(await page.locator('#gen-steps').inputValue()).toBe('3');
    expect(problems).toEqual([]);
  });
});
