// The renderer shell in a real browser, against the real serve-mode server (in-process,
// ephemeral port, temporary data dir): every screen renders, a dataset made in the UI is
// listed, the status bar names the execution provider, errors show, events arrive live.
// Screenshots: test-output/e2e/<screen>.png.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/window-options.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rendererDir = path.join(root, 'dist', 'renderer');
const screenshotDir = path.join(root, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
/** CI runs this beside CPU-heavy ORT tests: give polls the same patience as locators. */
const POLL = { timeout: 30_000 };

const SCREENS = [
  { id: 'datasets', heading: 'Datasets' },
  { id: 'train', heading: 'Train' },
  { id: 'generate', heading: 'Generate' },
  { id: 'models', heading: 'Models' },
  { id: 'library', heading: 'Library' },
  { id: 'history', heading: 'History' },
  { id: 'settings', heading: 'Settings' },
] as const;

const DESKTOP_BRIDGE = `
  (() => {
    const token = new URL(location.href).searchParams.get('token');
    const listeners = new Set();
    const events = new WebSocket('ws://' + location.host + '/events?token=' + token);
    events.onmessage = (message) => listeners.forEach((l) => l(JSON.parse(message.data)));
    window.app = Object.freeze({
      call: (method, input) =>
        fetch('/api/' + method, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
          body: JSON.stringify(input),
        }).then((response) => response.json()),
      onEvent: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
  })();
`;

describe('renderer shell in Chromium (serve mode)', () => {
  let dataDir: string;
  let service: ApiService;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      throw new Error(`${rendererDir}/index.html is missing: run npm run build:renderer first`);
    }
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    }
    mkdirSync(screenshotDir, { recursive: true });
    dataDir = makeTempDir('lora-studio-e2e-');
    service = createApiService({ dataDir });
    server = await startServer({ service, port: 0, rendererDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // Dark is the app's own look; the theme test below switches to light and back.
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // Expected: the deliberate bad request below logs its HTTP 400.
      if (message.type() === 'error' && !/status of 400/.test(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    await page.goto(server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    service?.close();
    if (dataDir) removeDir(dataDir);
  });

  it('serves a build with the strict CSP and no inline script', () => {
    const html = readFileSync(path.join(rendererDir, 'index.html'), 'utf8');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html);
    expect(meta?.[1].replaceAll('&#39;', "'")).toBe(CONTENT_SECURITY_POLICY);
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toMatch(/\ssrc="\.\//);
  });

  it('takes the token out of the address bar and connects', async () => {
    await expect.poll(() => page.url(), POLL).not.toContain('token=');
    const connection = page.getByTestId('status-connection');
    await connection.locator('xpath=self::*[@data-state="connected"]').waitFor();
    expect(await connection.textContent()).toContain('Connected');
    expect(await connection.textContent()).toContain('Local server');
  });

  it('shows the execution provider in the status bar', async () => {
    const providers = page.getByTestId('status-providers');
    await providers.getByText(/available: .*cpu/).waitFor();
    expect(await providers.textContent()).toMatch(/Execution provider: auto/);
  });

  it('renders every screen with its heading', async () => {
    for (const screen of SCREENS) {
      const nav = page.getByTestId(`nav-${screen.id}`);
      await nav.click();
      await page.getByRole('heading', { level: 1, name: screen.heading, exact: true }).waitFor();
      expect(await nav.getAttribute('aria-current')).toBe('page');
      await page.getByTestId(`screen-${screen.id}`).waitFor();
      // Settled: no screen is left showing "Loading …" or an error.
      await expect.poll(() => page.getByText(/^Loading .*…$/).count(), POLL).toBe(0);
      expect(await page.getByTestId('error-panel').count()).toBe(0);
      await page.screenshot({ path: path.join(screenshotDir, `${screen.id}.png`) });
    }
  });

  it('explains the empty Generate, Library and History screens', async () => {
    await page.getByTestId('nav-generate').click();
    await page
      .getByTestId('generate-empty')
      .getByText(/Add a checkpoint to generate images/)
      .waitFor();
    await page
      .getByTestId('generate-checkpoints')
      .getByText(/No checkpoint registered/)
      .waitFor();
    await page.getByTestId('nav-library').click();
    await page.getByTestId('loras-empty').waitFor();
    await page.getByTestId('nav-history').click();
    await page.getByTestId('history-empty').waitFor();
  });

  it('tells what Train still needs before a run can be set up', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByTestId('runs-empty').waitFor();
    await page
      .getByTestId('train-missing')
      .getByText(/need a base checkpoint/)
      .waitFor();
    expect(await page.getByRole('button', { name: 'Start training' }).isDisabled()).toBe(true);
  });

  it('shows system info on Settings', async () => {
    await page.getByTestId('nav-settings').click();
    const info = page.getByTestId('system-info');
    await info.getByText(dataDir, { exact: true }).waitFor();
    const providers = page.getByTestId('providers-table');
    await providers.getByRole('cell', { name: 'cpu', exact: true }).waitFor();
    await providers.getByText('nothing (always available)').waitFor();
  });

  it('creates a dataset through the UI and lists it', async () => {
    await page.getByTestId('nav-datasets').click();
    await page.getByTestId('datasets-empty').waitFor();
    await page.getByLabel('Name').fill('Ink sketches');
    await page.getByLabel('Description (optional)').fill('Pen and ink, cross-hatching');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.getByTestId('toast-success').getByText('Dataset “Ink sketches” created').waitFor();
    const table = page.getByTestId('datasets-table');
    await table.getByText('Ink sketches', { exact: true }).waitFor();
    await table.getByText('Pen and ink, cross-hatching').waitFor();
    expect(await page.getByLabel('Name').inputValue()).toBe('');
    const stored = await service.call('datasets.list', {});
    expect(stored.map((d) => d.name)).toEqual(['Ink sketches']);
    await page.screenshot({ path: path.join(screenshotDir, 'datasets-created.png') });
  });

  it('shows changes made elsewhere live (events over the WebSocket)', async () => {
    await service.call('datasets.create', { name: 'Made by the CLI' });
    await page.getByTestId('datasets-table').getByText('Made by the CLI').waitFor();
  });

  it('shows an API error clearly instead of failing silently', async () => {
    await page.getByTestId('nav-models').click();
    await page
      .getByLabel('File or diffusers folder (absolute path)')
      .fill('models/relative.safetensors');
    await page.getByRole('button', { name: 'Register model' }).click();
    const toast = page.getByTestId('toast-error');
    await toast.getByText('Could not register the model').waitFor();
    expect(await toast.textContent()).toMatch(/path: must be an absolute path/);
    await page.screenshot({ path: path.join(screenshotDir, 'models-error.png') });
    await toast.getByRole('button', { name: 'Dismiss notification' }).click();
    await toast.waitFor({ state: 'detached' });
  });

  it('keeps working after a reload (token kept for the session)', async () => {
    await page.getByTestId('nav-datasets').click();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
    await page.getByTestId('datasets-table').getByText('Ink sketches').waitFor();
    await page
      .getByTestId('status-connection')
      .locator('xpath=self::*[@data-state="connected"]')
      .waitFor();
  });

  it('saves settings from the UI and applies the theme', async () => {
    await page.getByTestId('nav-settings').click();
    const theme = page.getByLabel('Theme');
    await theme.selectOption('light');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByTestId('toast-success').getByText('Settings saved').waitFor();
    await page.locator('html[data-theme="light"]').waitFor({ state: 'attached' });
    expect((await service.call('settings.get', {})).theme).toBe('light');
    await page.screenshot({ path: path.join(screenshotDir, 'settings-light.png') });

    await theme.selectOption('dark');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
  });

  it('works through a desktop bridge (window.app) the way it does in Electron', async () => {
    // Stands in for electron/preload.cts: same shape (call → reply envelope, onEvent →
    // unsubscribe), carried over this server instead of IPC.
    await page.getByTestId('nav-datasets').click();
    await page.getByTestId('datasets-table').waitFor();
    const desktop = await browser.newPage({ colorScheme: 'dark' });
    desktop.on('pageerror', (error) => problems.push(`desktop page error: ${error.message}`));
    await desktop.addInitScript({ content: DESKTOP_BRIDGE });
    await desktop.goto(server.url);
    await desktop.getByTestId('status-connection').getByText('Connected · Desktop').waitFor();
    await desktop.getByTestId('status-providers').getByText(/cpu/).waitFor();
    await desktop.getByTestId('datasets-table').getByText('Ink sketches').waitFor();
    await desktop.getByLabel('Name').fill('From the desktop');
    await desktop.getByRole('button', { name: 'Create dataset' }).click();
    await desktop.getByTestId('datasets-table').getByText('From the desktop').waitFor();
    // …and the other window hears about it through its event stream.
    await page.getByTestId('datasets-table').getByText('From the desktop').waitFor();
    await desktop.close();
  });

  it('logged no page errors, console errors or CSP violations', () => {
    expect(problems).toEqual([]);
  });

  it('says so when the server goes away', async () => {
    await server.close();
    const connection = page.getByTestId('status-connection');
    await connection.locator('xpath=self::*[@data-state="disconnected"]').waitFor();
    expect(await connection.textContent()).toContain('Disconnected — retrying');
    await page.getByTestId('nav-datasets').click();
    await page.getByLabel('Name').fill('Offline');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    const toast = page.getByTestId('toast-error');
    await toast.getByText('Could not create the dataset').waitFor();
    expect(await toast.textContent()).toMatch(/Cannot reach the LoRA Studio server/);
    await page.screenshot({ path: path.join(screenshotDir, 'disconnected.png') });
  });
});
