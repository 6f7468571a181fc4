// electron/main.ts end to end with Electron stubbed: what it wires up, and one real round
// trip through the IPC handlers into the core service and back out as an event.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_CHANNELS, API_EVENT_CHANNEL } from '../../electron/channels.js';
import { createWindowOptions } from '../../electron/window-options.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import type * as MainModule from '../../electron/main.js';

type Listener = (...args: unknown[]) => unknown;

const stub = vi.hoisted(() => {
  const appListeners = new Map<string, Listener[]>();
  const windows: FakeWindow[] = [];
  const handlers = new Map<string, Listener>();
  const sessionHandlers: Record<string, Listener> = {};

  class FakeWindow {
    readonly listeners = new Map<string, Listener>();
    readonly webContents = {
      id: 1,
      sent: [] as unknown[][],
      on: vi.fn(),
      setWindowOpenHandler: vi.fn(),
      send(...args: unknown[]) {
        this.sent.push(args);
      },
      isDestroyed: () => false,
    };
    readonly loadFile = vi.fn(async () => undefined);
    readonly show = vi.fn();
    constructor(readonly options: unknown) {
      windows.push(this);
    }
    once(event: string, listener: Listener) {
      this.listeners.set(event, listener);
    }
    focus() {}
    restore() {}
    isMinimized() {
      return false;
    }
    isDestroyed() {
      return false;
    }
    static getAllWindows() {
      return windows;
    }
  }

  const app = {
    whenReady: vi.fn(async (): Promise<void> => undefined),
    requestSingleInstanceLock: vi.fn(() => true),
    enableSandbox: vi.fn(),
    quit: vi.fn(),
    on(event: string, listener: Listener) {
      appListeners.set(event, [...(appListeners.get(event) ?? []), listener]);
    },
  };
  return {
    app,
    appListeners,
    windows,
    handlers,
    sessionHandlers,
    FakeWindow,
    ipcMain: {
      handle: (channel: string, listener: Listener) => handlers.set(channel, listener),
      removeHandler: (channel: string) => handlers.delete(channel),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (h: Listener) => (sessionHandlers.request = h),
        setPermissionCheckHandler: (h: Listener) => (sessionHandlers.check = h),
        webRequest: { onHeadersReceived: (h: Listener) => (sessionHandlers.headers = h) },
      },
    },
    dialog: { showErrorBox: vi.fn() },
  };
});

vi.mock('electron', () => ({
  app: stub.app,
  BrowserWindow: stub.FakeWindow,
  ipcMain: stub.ipcMain,
  session: stub.session,
  dialog: stub.dialog,
}));

describe('electron/main.ts', () => {
  let dataDir: string;
  let main: typeof MainModule;

  beforeAll(async () => {
    dataDir = makeTempDir();
    vi.stubEnv('LORA_STUDIO_DATA', dataDir);
    // Like Electron: not ready until the entry module has finished evaluating.
    let becomeReady!: () => void;
    stub.app.whenReady.mockReturnValueOnce(new Promise<void>((resolve) => (becomeReady = resolve)));
    main = await import('../../electron/main.js');
    expect(stub.app.enableSandbox).toHaveBeenCalled(); // must happen before ready
    expect(stub.windows).toHaveLength(0);
    becomeReady();
    await main.started;
  });

  afterAll(() => {
    for (const listener of stub.appListeners.get('will-quit') ?? []) listener();
    vi.unstubAllEnvs();
    removeDir(dataDir);
  });

  it('starts without reporting an error', () => {
    expect(stub.dialog.showErrorBox).not.toHaveBeenCalled();
    expect(stub.app.quit).not.toHaveBeenCalled();
  });

  it('sandboxes every renderer and takes the single-instance lock', () => {
    expect(stub.app.enableSandbox).toHaveBeenCalled();
    expect(stub.app.requestSingleInstanceLock).toHaveBeenCalled();
  });

  it('opens one hardened window on the built renderer, with the CommonJS preload', () => {
    expect(stub.windows).toHaveLength(1);
    const [window] = stub.windows;
    expect(main.PRELOAD_SCRIPT.endsWith(path.join('electron', 'preload.cjs'))).toBe(true);
    expect(window.options).toEqual(createWindowOptions(main.PRELOAD_SCRIPT));
    expect(main.RENDERER_INDEX.endsWith(path.join('renderer', 'index.html'))).toBe(true);
    expect(path.dirname(path.dirname(main.RENDERER_INDEX))).toBe(
      path.dirname(path.dirname(main.PRELOAD_SCRIPT)),
    );
    expect(window.loadFile).toHaveBeenCalledExactlyOnceWith(main.RENDERER_INDEX);
    expect(window.show).not.toHaveBeenCalled();
    window.listeners.get('ready-to-show')?.();
    expect(window.show).toHaveBeenCalled();
  });

  it('hardens every web contents Electron creates', () => {
    const [created] = stub.appListeners.get('web-contents-created') ?? [];
    expect(created).toBeTypeOf('function');
    const listeners = new Map<string, Listener>();
    let openHandler: Listener | undefined;
    created(
      {},
      {
        on: (event: string, listener: Listener) => listeners.set(event, listener),
        setWindowOpenHandler: (handler: Listener) => (openHandler = handler),
      },
    );
    const event = { preventDefault: vi.fn() };
    listeners.get('will-navigate')?.(event, 'https://example.com/');
    expect(event.preventDefault).toHaveBeenCalled();
    expect(openHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
  });

  it('denies permission requests on the default session', () => {
    const callback = vi.fn();
    stub.sessionHandlers.request({}, 'media', callback);
    expect(callback).toHaveBeenCalledWith(false);
    expect(stub.sessionHandlers.check({}, 'notifications', 'file://')).toBe(false);
  });

  it('serves every contract method over IPC, and only those', () => {
    expect([...stub.handlers.keys()].sort()).toEqual([...API_CHANNELS].sort());
  });

  it('answers the renderer from the core and pushes the change event to the window', async () => {
    const sender = { senderFrame: { url: pathToFileURL(main.RENDERER_INDEX).href } };
    const info = await stub.handlers.get('api:system.info')?.(sender, {});
    expect(info).toMatchObject({ ok: true, result: { dataDir } });

    const created = await stub.handlers.get('api:datasets.create')?.(sender, { name: 'portraits' });
    expect(created).toMatchObject({ ok: true, result: { name: 'portraits' } });
    const [window] = stub.windows;
    expect(window.webContents.sent).toContainEqual([
      API_EVENT_CHANNEL,
      expect.objectContaining({ status: 'changed', entity: 'datasets' }),
    ]);

    const refused = await stub.handlers.get('api:datasets.list')?.(
      { senderFrame: { url: 'https://example.com/' } },
      {},
    );
    expect(refused).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });
});
