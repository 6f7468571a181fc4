// Preload: the renderer's only door to the main process.
//
// It runs in Electron's sandbox, which wraps this file's text in a function and offers
// `require` for a handful of built-ins (`electron` among them) but cannot load our own
// files. So this file is self-contained: it imports nothing, compiles to CommonJS
// (`.cts` → `.cjs`), and the allow-list below is a plain array.
// test/electron/preload.test.ts keeps that array equal to the method table in core/api.ts.

interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
}

interface ContextBridgeLike {
  exposeInMainWorld(key: string, api: unknown): void;
}

/** Every method of `apiMethods` in core/api.ts, and nothing else. */
const API_METHODS: readonly string[] = Object.freeze([
  'system.info',
  'settings.get',
  'settings.set',
  'models.list',
  'models.add',
  'models.remove',
  'models.scan',
  'models.suggestFolders',
  'models.hashes',
  'models.download',
  'models.setDefault',
  'datasets.list',
  'datasets.create',
  'datasets.get',
  'datasets.remove',
  'datasets.import',
  'datasets.scanText',
  'datasets.quality',
  'datasets.exportKohya',
  'datasets.captionModels',
  'datasets.caption',
  'datasets.setCaptions',
  'datasets.report',
  'datasets.textBoxes',
  'images.list',
  'images.update',
  'images.thumbnail',
  'runs.list',
  'runs.get',
  'runs.create',
  'runs.remove',
  'runs.start',
  'runs.cancel',
  'runs.resume',
  'artifacts.list',
  'generations.list',
  'generations.get',
  'generations.remove',
  'generate.start',
  'infotext.parse',
  'jobs.list',
  'jobs.get',
  'jobs.cancel',
  'library.loras',
  'library.lora',
  'library.renderGrid',
  'library.image',
  'library.copyTargets',
  'library.copyTo',
  'library.exportCivitai',
  'generations.search',
  'demo.start',
]);

const API_CHANNEL_PREFIX = 'api:';
const API_EVENT_CHANNEL = 'api:event';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the sandbox offers only require()
const { contextBridge, ipcRenderer } = require('electron') as {
  contextBridge: ContextBridgeLike;
  ipcRenderer: IpcRendererLike;
};

const allowedMethods = new Set(API_METHODS);

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : `a value of type ${typeof value}`;
}

/** Resolves to the reply envelope `{ ok: true, result } | { ok: false, error }`. */
function call(method: unknown, input: unknown): Promise<unknown> {
  if (typeof method !== 'string' || !allowedMethods.has(method)) {
    return Promise.reject(
      new Error(`${describe(method)} is not a LoRA Studio API method; refused by the preload`),
    );
  }
  return ipcRenderer.invoke(API_CHANNEL_PREFIX + method, input);
}

/** Subscribes to core events; returns the unsubscribe function. */
function onEvent(listener: unknown): () => void {
  if (typeof listener !== 'function') {
    throw new TypeError(`onEvent expects a function, got ${describe(listener)}`);
  }
  // Hand over the payload only: Electron's event object carries `sender`, which must not
  // reach the page.
  const forward = (_event: unknown, payload: unknown): void => {
    (listener as (payload: unknown) => void)(payload);
  };
  ipcRenderer.on(API_EVENT_CHANNEL, forward);
  return () => ipcRenderer.removeListener(API_EVENT_CHANNEL, forward);
}

contextBridge.exposeInMainWorld('app', Object.freeze({ call, onEvent }));
