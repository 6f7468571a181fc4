import { describe, expect, it, vi } from 'vitest';
import type {
  HeadersReceivedDetails,
  PermissionCheckHandler,
  PermissionRequestHandler,
  SessionLike,
  WebContentsLike,
  WindowOpenHandlerDetails,
} from '../../electron/electron-api.js';
import { hardenSession, hardenWebContents } from '../../electron/security.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/window-options.js';

type Listener = (event: { preventDefault(): void }, ...args: unknown[]) => void;

function fakeWebContents() {
  const listeners = new Map<string, Listener[]>();
  let openHandler: ((details: WindowOpenHandlerDetails) => { action: string }) | undefined;
  const contents = {
    id: 1,
    on: (event: string, listener: Listener) => {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    setWindowOpenHandler: (handler: typeof openHandler) => {
      openHandler = handler;
    },
    send: vi.fn(),
    isDestroyed: () => false,
  };
  /** Emits like Electron does; true when some listener called preventDefault(). */
  const emit = (event: string, ...args: unknown[]): boolean => {
    let prevented = false;
    for (const listener of listeners.get(event) ?? []) {
      listener({ preventDefault: () => (prevented = true) }, ...args);
    }
    return prevented;
  };
  return {
    contents: contents as unknown as WebContentsLike,
    emit,
    open: (url: string) => openHandler?.({ url }),
  };
}

describe('hardenWebContents', () => {
  it('blocks every navigation and redirect', () => {
    const fake = fakeWebContents();
    hardenWebContents(fake.contents);
    expect(fake.emit('will-navigate', 'https://example.com/')).toBe(true);
    expect(fake.emit('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(fake.emit('will-redirect', 'https://example.com/')).toBe(true);
  });

  it('denies window.open for any URL', () => {
    const fake = fakeWebContents();
    hardenWebContents(fake.contents);
    expect(fake.open('https://example.com/')).toEqual({ action: 'deny' });
    expect(fake.open('about:blank')).toEqual({ action: 'deny' });
  });

  it('refuses <webview>', () => {
    const fake = fakeWebContents();
    hardenWebContents(fake.contents);
    expect(fake.emit('will-attach-webview', {}, { src: 'https://example.com/' })).toBe(true);
  });
});

describe('hardenSession', () => {
  function hardened() {
    let request: PermissionRequestHandler | undefined;
    let check: PermissionCheckHandler | undefined;
    let headers:
      | ((
          details: HeadersReceivedDetails,
          callback: (r: { responseHeaders: Record<string, string[]> }) => void,
        ) => void)
      | undefined;
    const session: SessionLike = {
      setPermissionRequestHandler: (handler) => (request = handler),
      setPermissionCheckHandler: (handler) => (check = handler),
      webRequest: { onHeadersReceived: (listener) => (headers = listener) },
    };
    hardenSession(session);
    if (!request || !check || !headers) throw new Error('a handler was not installed');
    return { request, check, headers };
  }

  it.each([
    'media',
    'geolocation',
    'notifications',
    'clipboard-read',
    'openExternal',
    'fullscreen',
  ])('denies the permission request %s', (permission) => {
    const { request } = hardened();
    const callback = vi.fn();
    request({}, permission, callback);
    expect(callback).toHaveBeenCalledExactlyOnceWith(false);
  });

  it('answers permission checks with no', () => {
    const { check } = hardened();
    expect(check({}, 'media', 'file://')).toBe(false);
    expect(check({}, 'clipboard-sanitized-write', 'https://example.com')).toBe(false);
  });

  it('puts our CSP on every response', () => {
    const { headers } = hardened();
    const callback = vi.fn();
    headers(
      {
        url: 'https://example.com/',
        responseHeaders: { 'Content-Security-Policy': ['default-src *'] },
      },
      callback,
    );
    expect(callback).toHaveBeenCalledExactlyOnceWith({
      responseHeaders: { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] },
    });
  });
});
