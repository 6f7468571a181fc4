// The security checklist of issue #11, one assertion per protection: the Electron window and
// session, the IPC surface, the loopback server (bind, token, Host/Origin, traversal in every
// file route, body limit) and imports (pickles refused, no writes through symlinks).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_METHOD_NAMES } from '../../core/api.js';
import { loadCheckpoint, PickleRefusedError } from '../../core/formats/index.js';
import { startServer } from '../../core/server/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { API_CHANNELS } from '../../electron/channels.js';
import type {
  IpcInvokeEventLike,
  SessionLike,
  WebContentsLike,
} from '../../electron/electron-api.js';
import { registerApiHandlers, trustRendererFile } from '../../electron/ipc.js';
import { hardenSession, hardenWebContents } from '../../electron/security.js';
import { CONTENT_SECURITY_POLICY, createWindowOptions } from '../../electron/window-options.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { makeRendererDir, rawRequest, startHarness, type Harness } from '../server/harness.js';

type Listener = (event: { preventDefault(): void }, ...args: unknown[]) => void;

/** A WebContents stand-in that records listeners and the window-open handler. */
function fakeContents() {
  const listeners = new Map<string, Listener[]>();
  let open: ((d: { url: string }) => { action: string }) | undefined;
  const contents = {
    id: 1,
    on: (ev: string, l: Listener) => listeners.set(ev, [...(listeners.get(ev) ?? []), l]),
    setWindowOpenHandler: (h: typeof open) => (open = h),
    send: () => {},
    isDestroyed: () => false,
  } as unknown as WebContentsLike;
  const prevented = (ev: string, ...args: unknown[]) => {
    let p = false;
    for (const l of listeners.get(ev) ?? []) l({ preventDefault: () => (p = true) }, ...args);
    return p;
  };
  return { contents, prevented, open: (url: string) => open?.({ url }) };
}

describe('Electron', () => {
  const prefs = createWindowOptions('/app/preload.cjs').webPreferences!;

  it('contextIsolation is on', () => expect(prefs.contextIsolation).toBe(true));
  it('the renderer is sandboxed', () => expect(prefs.sandbox).toBe(true));
  it('nodeIntegration is off (window, workers, sub-frames)', () =>
    expect([
      prefs.nodeIntegration,
      prefs.nodeIntegrationInWorker,
      prefs.nodeIntegrationInSubFrames,
    ]).toEqual([false, false, false]));
  it('the CSP has no unsafe-eval and scripts only from the app', () => {
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'self'(;|$)/);
  });
  it('navigation away from the app is blocked', () => {
    const f = fakeContents();
    hardenWebContents(f.contents);
    expect(f.prevented('will-navigate', 'https://evil.example/')).toBe(true);
  });
  it('window.open is denied', () => {
    const f = fakeContents();
    hardenWebContents(f.contents);
    expect(f.open('https://evil.example/')).toEqual({ action: 'deny' });
  });
  it('permission requests are denied', () => {
    let handler: ((c: unknown, p: string, cb: (ok: boolean) => void) => void) | undefined;
    const session = {
      setPermissionRequestHandler: (h: typeof handler) => (handler = h),
      setPermissionCheckHandler: () => {},
      webRequest: { onHeadersReceived: () => {} },
    } as unknown as SessionLike;
    hardenSession(session);
    const answers: boolean[] = [];
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read'])
      handler?.(null, p, (ok) => answers.push(ok));
    expect(answers).toEqual([false, false, false, false]);
  });

  describe('IPC', () => {
    let dir: string;
    let service: ApiService;
    const handlers = new Map<string, (e: IpcInvokeEventLike, ...a: unknown[]) => unknown>();
    const index = path.resolve('/opt/lora-studio/dist/renderer/index.html');
    const trusted = { senderFrame: { url: pathToFileURL(index).href } };
    beforeAll(() => {
      dir = makeTempDir();
      service = createApiService({ dataDir: dir });
      registerApiHandlers(
        {
          handle: (c, l) => void handlers.set(c, l),
          removeHandler: (c) => void handlers.delete(c),
        },
        service,
        { isTrustedSender: trustRendererFile(index) },
      );
    });
    afterAll(() => {
      service.close();
      removeDir(dir);
    });

    it('only the allow-listed channels (api:<contract method>) are handled', () => {
      expect([...handlers.keys()].sort()).toEqual([...API_CHANNELS].sort());
    });
    it('every IPC payload is validated: a wrong-typed one is a bad_request for every method', async () => {
      const answers = await Promise.all(
        API_METHOD_NAMES.map(async (m) => {
          const reply = (await handlers.get(`api:${m}`)!(trusted, 12345)) as {
            ok: boolean;
            error?: { code: string };
          };
          return reply.ok ? `${m}: accepted 12345` : (reply.error?.code ?? `${m}: no code`);
        }),
      );
      expect(answers.filter((a) => a !== 'bad_request')).toEqual([]);
    });
  });
});

describe('loopback server', () => {
  let h: Harness;
  let renderer: string;
  beforeAll(async () => {
    const base = makeTempDir();
    renderer = makeRendererDir(base);
    h = await startHarness({ rendererDir: renderer });
  });
  afterAll(() => h.close());
  const get = (p: string, headers: Record<string, string> = {}) =>
    rawRequest(h.server.port, {
      path: p,
      headers: {
        Authorization: `Bearer ${h.server.token}`,
        Cookie: `lora_studio_${h.server.port}=${h.server.token}`,
        ...headers,
      },
    });

  it('refuses to bind anything but loopback', async () => {
    const service = createApiService({ dataDir: makeTempDir() });
    await expect(startServer({ service, host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
    service.close();
  });
  it('listens on 127.0.0.1', () =>
    expect(h.server.origin).toBe(`http://127.0.0.1:${h.server.port}`));
  it('has a fresh 256-bit token per launch', async () => {
    const service = createApiService({ dataDir: makeTempDir() });
    const other = await startServer({ service, rendererDir: renderer });
    expect([h.server.token, other.token].every((t) => /^[0-9a-f]{64}$/.test(t))).toBe(true);
    expect(other.token).not.toBe(h.server.token);
    await other.close();
    service.close();
  });
  it('answers 401 without the token', async () => {
    const r = await rawRequest(h.server.port, {
      method: 'POST',
      path: '/api/system.info',
      body: '{}',
    });
    expect(r.status).toBe(401);
  });
  it('refuses a foreign Host (DNS rebinding)', async () => {
    expect((await h.api('system.info', {}, { Host: `evil.example:${h.server.port}` })).status).toBe(
      403,
    );
  });
  it('refuses a foreign Origin', async () => {
    expect((await h.api('system.info', {}, { Origin: 'http://evil.example' })).status).toBe(403);
  });
  it('refuses a body over the limit with 413', async () => {
    const r = await h.api('datasets.create', { name: 'x'.repeat(2 * 1024 * 1024) });
    expect(r.status).toBe(413);
  });

  const TRAVERSALS = [
    '../secret.txt',
    '..%2fsecret.txt',
    '%2e%2e/secret.txt',
    '%2e%2e%2fsecret.txt',
    '%252e%252e%252fsecret.txt',
    '..%5csecret.txt',
    '..\\secret.txt',
    '%2fetc%2fpasswd',
    '/etc/passwd',
    'C:%5cWindows%5cwin.ini',
    '.%2e/secret.txt',
    'assets/../../secret.txt',
    '..%00/secret.txt',
  ];
  const ROUTES = ['/', '/assets/', '/files/generations/', '/files/thumbs/', '/jobs/'];
  it(`no path traversal in any file route (${ROUTES.length} routes × ${TRAVERSALS.length} spellings)`, async () => {
    const leaks: string[] = [];
    for (const route of ROUTES)
      for (const t of TRAVERSALS) {
        const r = await get(route + t);
        if (r.status === 200 || /TOP SECRET|root:/.test(r.text))
          leaks.push(`${route}${t} → ${r.status}`);
      }
    expect(leaks).toEqual([]);
  });
});

describe('imports', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('refuses a pickled checkpoint, even named .safetensors', async () => {
    // A torch zip archive: "PK" + a pickle inside — never unpickled.
    const file = path.join(dir, 'model.safetensors');
    fs.writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('PK\x03\x04'),
        Buffer.alloc(64),
        Buffer.from('archive/data.pkl\x80\x02'),
      ]),
    );
    await expect(loadCheckpoint(file)).rejects.toBeInstanceOf(PickleRefusedError);
  });

  it('a kohya export never writes through a symlink or outside the chosen folder', async () => {
    const service = createApiService({ dataDir: path.join(dir, 'app') });
    try {
      const src = path.join(dir, 'src', '1_cat');
      fs.mkdirSync(src, { recursive: true });
      const png = await sharp({
        create: { width: 16, height: 16, channels: 3, background: '#a33' },
      })
        .png()
        .toBuffer();
      fs.writeFileSync(path.join(src, 'one.png'), png);
      fs.writeFileSync(path.join(src, 'one.txt'), 'a cat');
      const datasetId = (await service.call('datasets.create', { name: 'cat' })).id;
      const { jobId } = await service.call('datasets.import', {
        datasetId,
        folder: path.dirname(src),
      });
      for (;;) {
        const job = await service.call('jobs.get', { jobId });
        if (['done', 'error', 'cancelled'].includes(job.status)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const victim = path.join(dir, 'victim.txt');
      fs.writeFileSync(victim, 'keep me');
      // 1. The caption file in the export folder is a symlink to a file outside it.
      const out1 = path.join(dir, 'out1');
      fs.mkdirSync(path.join(out1, '1_cat'), { recursive: true });
      fs.symlinkSync(victim, path.join(out1, '1_cat', 'one.txt'));
      await expect(
        service.call('datasets.exportKohya', { datasetId, folder: out1, overwrite: true }),
      ).rejects.toMatchObject({
        code: 'bad_request',
        message: /symbolic link; refusing to write through it/,
      });
      // 2. The class sub-folder is a symlink to a folder outside.
      const out2 = path.join(dir, 'out2');
      const elsewhere = path.join(dir, 'elsewhere');
      fs.mkdirSync(out2, { recursive: true });
      fs.mkdirSync(elsewhere, { recursive: true });
      fs.symlinkSync(elsewhere, path.join(out2, '1_cat'));
      await expect(
        service.call('datasets.exportKohya', { datasetId, folder: out2, overwrite: true }),
      ).rejects.toMatchObject({ code: 'bad_request', message: /leads outside/ });
      expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    } finally {
      service.close();
    }
  });
});
