// The Models screen in a real browser against the serve-mode server: configure an A1111-style
// folder through Settings' suggestion, Rescan, see kinds and families, compute a LoRA's hashes
// and read its kohya metadata. Screenshot: test-output/e2e/models-library.png.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fakeGenerate } from '../service/fake-generate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
const FIX = path.join(root, 'test', 'fixtures');
const WAIT = { timeout: 20_000 };

describe('Models screen in Chromium (serve mode)', () => {
  let dataDir: string;
  let webui: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    dataDir = makeTempDir('lora-studio-e2e-models-');
    // An A1111 install as users have it: checkpoints and LoRAs in their own folders.
    webui = path.join(dataDir, 'stable-diffusion-webui');
    const sd = path.join(webui, 'models', 'Stable-diffusion');
    const lora = path.join(webui, 'models', 'Lora');
    mkdirSync(sd, { recursive: true });
    mkdirSync(lora, { recursive: true });
    copyFileSync(
      path.join(FIX, 'tiny_sd', 'tiny_sd_ldm.safetensors'),
      path.join(sd, 'tiny_sd_ldm.safetensors'),
    );
    copyFileSync(
      path.join(FIX, 'lora', 'lora_kohya.safetensors'),
      path.join(lora, 'my_style.safetensors'),
    );

    service = createApiService({ dataDir, generate: fakeGenerate().fn });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, colorScheme: 'dark' });
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

  it('adds the A1111 model folders through Settings', async () => {
    await page.getByTestId('nav-settings').click();
    const folders = page.getByTestId('model-folders');
    await folders.getByLabel('A1111 or ComfyUI install folder').fill(webui);
    await folders.getByRole('button', { name: 'Suggest from an A1111/ComfyUI folder' }).click();
    await folders.getByText(path.join(webui, 'models', 'Lora')).waitFor(WAIT);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(() => service.store.settings.getAll().modelDirs, WAIT)
      .toEqual([
        path.join(webui, 'models', 'Stable-diffusion'),
        path.join(webui, 'models', 'Lora'),
      ]);
  });

  it('rescans and lists the models with kind and family', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByRole('button', { name: 'Rescan folders' }).click();
    const checkpoint = page.getByTestId('model-row-tiny_sd_ldm');
    await checkpoint.waitFor(WAIT);
    expect(await checkpoint.locator('td').nth(1).textContent()).toBe('Checkpoint');
    expect(await checkpoint.locator('td').nth(2).textContent()).toBe('SD 1.5');
    const lora = page.getByTestId('model-row-my_style');
    await lora.waitFor(WAIT);
    expect(await lora.locator('td').nth(1).textContent()).toBe('LoRA');
  });

  it('computes a LoRA’s hashes and shows its kohya metadata', async () => {
    await page.getByTestId('model-row-my_style').getByRole('button', { name: 'my_style' }).click();
    const details = page.getByTestId('model-details');
    await details.getByRole('heading', { name: 'my_style' }).waitFor(WAIT);
    await details.getByRole('button', { name: 'Compute hashes' }).click();
    const hashes = details.getByTestId('model-hashes');
    await hashes.getByText('AutoV3 (LoRA hash)').waitFor(WAIT);
    const row = service.store.models.list({ kind: 'lora' })[0];
    expect(row.hashes.autov3).toMatch(/^[0-9a-f]{12}$/);
    expect(await hashes.textContent()).toContain(row.hashes.autov2);
    const metadata = details.getByTestId('model-metadata');
    await metadata.getByText('ss_network_dim', { exact: true }).waitFor(WAIT);
    expect(await metadata.textContent()).toContain('Network rank (dim)');
    await page.screenshot({ path: path.join(screenshotDir, 'models-library.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
