// Electron entry point. It only wires things together: the hardened window and session
// (window-options.ts, security.ts) and the contract served over IPC by the core service
// (ipc.ts). Built to dist/electron/main.js; the renderer is dist/renderer/index.html.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiService, type ApiService } from '../core/service/index.js';
import { resolveDataDir } from '../core/store/index.js';
import { loadElectron, type BrowserWindowLike } from './electron-api.js';
import { forwardApiEvents, registerApiHandlers, trustRendererFile } from './ipc.js';
import { hardenSession, hardenWebContents } from './security.js';
import { createWindowOptions } from './window-options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built UI, next to this file's folder (dist/electron → dist/renderer). */
export const RENDERER_INDEX = path.join(here, '..', 'renderer', 'index.html');
/** electron/preload.cts compiles to CommonJS, as sandboxed preloads must be. */
export const PRELOAD_SCRIPT = path.join(here, 'preload.cjs');

// Awaiting the import is fine (and needed): `ready` waits for this module's evaluation.
const { app, BrowserWindow, ipcMain, session, dialog } = await loadElectron();

function fail(title: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`${title}\n${detail}`);
  dialog.showErrorBox(title, detail);
}

function openWindow(): BrowserWindowLike {
  const window = new BrowserWindow(createWindowOptions(PRELOAD_SCRIPT));
  window.once('ready-to-show', () => window.show());
  window.loadFile(RENDERER_INDEX).catch((error: unknown) => {
    fail(`LoRA Studio could not load its window (${RENDERER_INDEX}); run \`npm run build\``, error);
    app.quit();
  });
  return window;
}

async function start(): Promise<void> {
  await app.whenReady();
  hardenSession(session.defaultSession);

  let service: ApiService;
  try {
    service = createApiService({ dataDir: resolveDataDir() });
  } catch (error) {
    fail('LoRA Studio could not open its data folder', error);
    app.quit();
    return;
  }
  const removeHandlers = registerApiHandlers(ipcMain, service, {
    isTrustedSender: trustRendererFile(RENDERER_INDEX),
  });
  const stopEvents = forwardApiEvents(service, () =>
    BrowserWindow.getAllWindows()
      .filter((window) => !window.isDestroyed())
      .map((window) => window.webContents),
  );

  openWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) openWindow(); // macOS dock click
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => {
    stopEvents();
    removeHandlers();
    service.close();
  });
}

/**
 * Settles once the window is open, or once a startup failure has been reported. Never
 * awaited at the top level: Electron emits `ready` only after the entry module has been
 * evaluated, so a top-level `await app.whenReady()` would hang the app.
 */
export const started: Promise<void> = boot();

function boot(): Promise<void> {
  // One instance owns the database; a second launch focuses the first one's window.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return Promise.resolve();
  }
  app.enableSandbox(); // before ready: every renderer sandboxed, whatever its options
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));
  app.on('second-instance', () => {
    const [window] = BrowserWindow.getAllWindows();
    if (!window) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  });
  return start().catch((error: unknown) => {
    fail('LoRA Studio could not start', error);
    app.quit();
  });
}
