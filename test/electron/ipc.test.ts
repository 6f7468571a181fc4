import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { API_CHANNELS, API_EVENT_CHANNEL } from '../../electron/channels.js';
import type {
  IpcInvokeEventLike,
  IpcMainLike,
  WebContentsLike,
} from '../../electron/electron-api.js';
import { forwardApiEvents, registerApiHandlers, trustRendererFile } from '../../electron/ipc.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

type Handler = (event: IpcInvokeEventLike, ...args: unknown[]) => unknown;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => void handlers.delete(channel),
  };
  return { ipcMain, handlers };
}

const INDEX = path.resolve('/opt/lora-studio/resources/app.asar/dist/renderer/index.html');
const TRUSTED: IpcInvokeEventLike = {
  senderFrame: { url: `${pathToFileURL(INDEX).href}#/datasets` },
};

describe('IPC handlers over the real service', () => {
  let dataDir: string;
  let service: ApiService;
  let handlers: Map<string, Handler>;
  let unregister: () => void;

  beforeEach(() => {
    dataDir = makeTempDir();
    service = createApiService({ dataDir });
    const fake = fakeIpcMain();
    handlers = fake.handlers;
    unregister = registerApiHandlers(fake.ipcMain, service, {
      isTrustedSender: trustRendererFile(INDEX),
    });
  });

  afterEach(() => {
    service.close();
    removeDir(dataDir);
  });

  const invoke = (method: string, ...args: unknown[]) => {
    const handler = handlers.get(`api:${method}`);
    if (!handler) throw new Error(`no handler for ${method}`);
    return handler(TRUSTED, ...args);
  };

  it('registers exactly one handler per contract method, and removes them all', () => {
    expect([...handlers.keys()].sort()).toEqual([...API_CHANNELS].sort());
    unregister();
    expect(handlers.size).toBe(0);
  });

  it('serves valid calls with the service', async () => {
    const created = await invoke('datasets.create', { name: 'ink sketches' });
    expect(created).toMatchObject({ ok: true, result: { name: 'ink sketches', imageCount: 0 } });
    await expect(invoke('datasets.list', {})).resolves.toMatchObject({
      ok: true,
      result: [{ name: 'ink sketches' }],
    });
    await expect(invoke('system.info', {})).resolves.toMatchObject({
      ok: true,
      result: { dataDir },
    });
  });

  it('rejects an invalid payload with a clear bad_request error', async () => {
    const reply = (await invoke('datasets.create', { name: '' })) as {
      ok: boolean;
      error: { code: string; message: string };
    };
    expect(reply.ok).toBe(false);
    expect(reply.error.code).toBe('bad_request');
    expect(reply.error.message).toMatch(/datasets\.create: name: /);

    await expect(invoke('datasets.create', { name: 'x', folder: '/tmp' })).resolves.toMatchObject({
      ok: false,
      error: { code: 'bad_request', message: expect.stringMatching(/folder/) },
    });
    await expect(invoke('datasets.get', { id: 'one' })).resolves.toMatchObject({
      ok: false,
      error: { code: 'bad_request', message: expect.stringMatching(/id/) },
    });
    await expect(invoke('datasets.list', 'not an object')).resolves.toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    await expect(invoke('datasets.list', {})).resolves.toMatchObject({ ok: true, result: [] });
  });

  it('refuses extra arguments', async () => {
    await expect(invoke('datasets.list', {}, { sneaky: true })).resolves.toEqual({
      ok: false,
      error: {
        code: 'bad_request',
        message: 'datasets.list: expected one input object, got 2 arguments',
      },
    });
  });

  it('passes the core error codes through (not_found)', async () => {
    await expect(invoke('datasets.get', { id: 999 })).resolves.toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
  });
});

describe('IPC sender check', () => {
  it('answers forbidden to untrusted frames, without calling the service', async () => {
    const { ipcMain, handlers } = fakeIpcMain();
    const dispatch = vi.fn();
    registerApiHandlers(ipcMain, { dispatch }, { isTrustedSender: trustRendererFile(INDEX) });
    const handler = handlers.get('api:datasets.list')!;
    await expect(
      handler({ senderFrame: { url: 'https://evil.example/' } }, {}),
    ).resolves.toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining('https://evil.example/') },
    });
    await expect(handler({ senderFrame: null }, {})).resolves.toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('trusts only our own index.html over file://', () => {
    const trusted = trustRendererFile(INDEX);
    const from = (url: string) => trusted({ senderFrame: { url } });
    expect(from(pathToFileURL(INDEX).href)).toBe(true);
    expect(from(`${pathToFileURL(INDEX).href}#/settings`)).toBe(true);
    expect(from(pathToFileURL(path.join(path.dirname(INDEX), 'other.html')).href)).toBe(false);
    expect(from(`http://127.0.0.1:5173/index.html`)).toBe(false);
    expect(from('https://evil.example/dist/renderer/index.html')).toBe(false);
    expect(
      from('file://evil-host/opt/lora-studio/resources/app.asar/dist/renderer/index.html'),
    ).toBe(false);
    expect(from('not a url')).toBe(false);
    expect(trusted({ senderFrame: null })).toBe(false);
  });
});

describe('forwardApiEvents', () => {
  it('sends every core event to the live windows on api:event', () => {
    const dataDir = makeTempDir();
    const service = createApiService({ dataDir });
    try {
      const live = { send: vi.fn(), isDestroyed: () => false } as unknown as WebContentsLike;
      const gone = { send: vi.fn(), isDestroyed: () => true } as unknown as WebContentsLike;
      const stop = forwardApiEvents(service, () => [live, gone]);
      const event = {
        status: 'log',
        level: 'info',
        message: 'hello',
        at: new Date().toISOString(),
      } as const;
      service.emit(event);
      expect(live.send).toHaveBeenCalledExactlyOnceWith(API_EVENT_CHANNEL, event);
      expect(gone.send).not.toHaveBeenCalled();
      stop();
      service.emit(event);
      expect(live.send).toHaveBeenCalledTimes(1);
    } finally {
      service.close();
      removeDir(dataDir);
    }
  });
});
