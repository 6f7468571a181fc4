// The dataset editor in a real browser against the real serve-mode server: create a dataset
// from a generated folder (4 images with captions + 1 corrupt file), watch the import, see the
// thumbnails and the skipped file with its reason, edit a caption (saved on blur), find/replace
// over all captions, undo; auto-caption with a tiny local WD14-style tagger (picked by path) and
// undo it. Screenshots: test-output/e2e/datasets-import.png, datasets-caption.png.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { TINY_TAGS_CSV, writeTinyTagger } from '../dataset/caption-models.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
const POLL = { timeout: 30_000 };
const COLOURS = ['#c33', '#3c3', '#33c', '#cc3'];

describe('dataset import and caption editing in Chromium (serve mode)', () => {
  let base: string;
  let folder: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    base = makeTempDir('lora-studio-e2e-datasets-');
    folder = path.join(base, 'pictures');
    mkdirSync(folder);
    for (const [i, colour] of COLOURS.entries()) {
      const png = await sharp({
        create: { width: 96, height: 64 + i * 16, channels: 3, background: colour },
      })
        .png()
        .toBuffer();
      writeFileSync(path.join(folder, `img${i + 1}.png`), png);
      writeFileSync(path.join(folder, `img${i + 1}.txt`), `red fox, sample ${i + 1}`);
    }
    writeFileSync(path.join(folder, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const models = path.join(base, 'tagger');
    mkdirSync(models);
    writeTinyTagger(models, 11);
    writeFileSync(path.join(models, 'selected_tags.csv'), TINY_TAGS_CSV);
    service = createApiService({ dataDir: path.join(base, 'data') });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, colorScheme: 'dark' });
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

  it('creates a dataset from a folder and imports it with progress', async () => {
    await page.getByTestId('nav-datasets').click();
    await page.getByTestId('datasets-empty').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Foxes');
    await page.getByTestId('dataset-folder').fill(folder);
    await page.getByRole('button', { name: 'Create dataset' }).click();
    const progress = page.getByTestId('import-progress');
    await progress.locator('xpath=self::*[@data-status="done"]').waitFor(POLL);
    expect(await progress.textContent()).toContain('100 %');
    await page
      .getByTestId('toast-success')
      .getByText(/Import into “Foxes” finished/)
      .waitFor();
  });

  it('shows every thumbnail and the skipped file with its reason', async () => {
    await expect.poll(() => page.getByTestId('image-thumb').count(), POLL).toBe(4);
    // The thumbnails really loaded (the file route answered with a decodable WebP).
    await expect
      .poll(
        () =>
          page
            .getByTestId('image-thumb')
            .evaluateAll((imgs) =>
              imgs.every(
                (i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0,
              ),
            ),
        POLL,
      )
      .toBe(true);
    const skipped = page.getByTestId('skipped-item');
    expect(await skipped.count()).toBe(1);
    expect(await skipped.textContent()).toMatch(/broken\.jpg — corrupt: .+/);
    const table = page.getByTestId('datasets-table');
    await table.getByRole('cell', { name: '4', exact: true }).first().waitFor();
  });

  it('saves a caption edit on blur and undoes it', async () => {
    const card = page.locator('[data-testid="image-card"][data-rel-path="img2.png"]');
    const caption = card.getByTestId('caption-input');
    expect(await caption.inputValue()).toBe('red fox, sample 2');
    await caption.fill('red fox, sitting in snow');
    await page.getByTestId('find-input').click(); // blur
    await expect
      .poll(async () => {
        const { items } = await service.call('images.list', { datasetId: 1 });
        return items.find((i) => i.relPath === 'img2.png')?.caption;
      }, POLL)
      .toBe('red fox, sitting in snow');
    await page.getByTestId('tag-frequency').getByText('sitting in snow').waitFor();
    await page.getByTestId('undo-button').click();
    await expect.poll(() => caption.inputValue(), POLL).toBe('red fox, sample 2');
  });

  it('finds and replaces across all captions, and filters by tag', async () => {
    await page.getByTestId('find-input').fill('red fox');
    await page.getByTestId('replace-input').fill('arctic fox');
    await page.getByTestId('replace-button').click();
    await expect
      .poll(async () => {
        const { items } = await service.call('images.list', { datasetId: 1 });
        return items.map((i) => i.caption).sort();
      }, POLL)
      .toEqual([1, 2, 3, 4].map((n) => `arctic fox, sample ${n}`));
    await expect
      .poll(() => page.getByTestId('caption-input').first().inputValue(), POLL)
      .toMatch(/^arctic fox/);
    await page.getByTestId('tag-chip').filter({ hasText: 'sample 3' }).click();
    await expect.poll(() => page.getByTestId('image-card').count(), POLL).toBe(1);
    await page.screenshot({
      path: path.join(screenshotDir, 'datasets-import.png'),
      fullPage: true,
    });
    await page.getByTestId('tag-chip').filter({ hasText: 'sample 3' }).click();
    await expect.poll(() => page.getByTestId('image-card').count(), POLL).toBe(4);
    expect(problems).toEqual([]);
  });

  it('auto-captions with a tiny local tagger (overwrite + trigger word) and undoes it', async () => {
    const captions = async () =>
      (await service.call('images.list', { datasetId: 1 })).items.map((i) => i.caption).sort();
    const before = await captions();
    await page.getByTestId('caption-model').selectOption('local-tagger');
    await page.getByTestId('caption-path-model').fill(path.join(base, 'tagger', 'tagger.onnx'));
    await page
      .getByTestId('caption-path-tags')
      .fill(path.join(base, 'tagger', 'selected_tags.csv'));
    await page.getByTestId('caption-mode').selectOption('overwrite');
    await page.getByTestId('caption-trigger').fill('sks fox');
    // Threshold 0: every general tag of the tiny model's CSV is written.
    await page.getByTestId('caption-general').fill('0');
    await page.getByTestId('caption-button').click();
    const progress = page.getByTestId('caption-progress');
    await progress.locator('xpath=self::*[@data-status="done"]').waitFor(POLL);
    await expect
      .poll(async () => (await captions()).filter((c) => c.startsWith('sks fox, ')).length, POLL)
      .toBe(4);
    const after = await captions();
    for (const c of after) {
      expect(c.startsWith('sks fox, ')).toBe(true);
      expect(c.split(', ')).toEqual(expect.arrayContaining(['1girl', 'long hair', '^_^']));
    }
    await expect
      .poll(() => page.getByTestId('caption-input').first().inputValue(), POLL)
      .toMatch(/^sks fox, /);
    await page.screenshot({
      path: path.join(screenshotDir, 'datasets-caption.png'),
      fullPage: true,
    });
    await page.getByTestId('undo-button').click();
    await expect.poll(captions, POLL).toEqual(before);
    expect(problems).toEqual([]);
  });
});
