// A run a dead process left `running` (here: trained one step of two with a checkpoint, then put
// back to `running` as a crash leaves it): the next service start marks it `interrupted` (with
// a message saying why), the Train screen lists it so, and one click on its Resume button
// continues it from the checkpoint to completion. (The real kill -9 is test/train/run-cli.)
// Screenshot: test-output/e2e/train-interrupted.png.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { openStore } from '../../core/store/index.js';
import { trainLora } from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';

describe('Train screen: an interrupted run resumes with one click', () => {
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let runId: number;
  let lossAtStep0: number;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    mkdirSync(screenshotDir, { recursive: true });
    const { root: data, dataDir } = await makeTinyDataset();
    const store = openStore(dataDir);
    try {
      const stop = new AbortController();
      const r = await trainLora(
        tinyConfig(data, { output_name: 'crashed', max_train_steps: 2, save_every_n_steps: 1 }),
        {
          store,
          dataDir,
          signal: stop.signal,
          onEvent: (e) => e.type === 'progress' && stop.abort(),
        },
      );
      runId = r.runId;
      lossAtStep0 = r.steps[0].loss;
      store.runs.update(runId, { status: 'running', finishedAt: null });
    } finally {
      store.close();
    }
    service = createApiService({ dataDir });
    await service.call('settings.set', { executionProvider: 'cpu' });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 }, colorScheme: 'dark' });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
  });

  it('lists the run as Interrupted and completes it after one Resume click', async () => {
    await page.goto(`${server.url}#/train`);
    const table = page.getByTestId('runs-table');
    await table.getByText('Interrupted', { exact: true }).waitFor();
    await expect(
      table.getByText(/the app stopped while the run was running/).count(),
    ).resolves.toBe(1);
    await page.getByTestId(`resume-run-${runId}`).click();
    await page
      .locator('[data-testid="train-run"][data-status="completed"]')
      .waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('train-step').textContent()).toBe('2 / 2');
    await page.screenshot({
      path: path.join(screenshotDir, 'train-interrupted.png'),
      fullPage: true,
    });
    const run = await service.call('runs.get', { id: runId });
    expect(run).toMatchObject({ status: 'completed', error: null });
    // Continued from the checkpoint: step 0 is the interrupted process's, step 1 the resumed one.
    expect(run.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(run.steps[0].loss).toBe(lossAtStep0);
    expect(run.artifacts).toHaveLength(1);
    expect(problems).toEqual([]);
  }, 120_000);
});
