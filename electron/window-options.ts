// The hardened BrowserWindow options and the Content-Security-Policy, as pure data so a
// test can pin them down. See Electron's security checklist:
// https://www.electronjs.org/docs/latest/tutorial/security

import type { BrowserWindowOptions } from './electron-api.js';

/**
 * Everything the UI loads comes from the app itself: no remote hosts, no eval, no inline
 * scripts. Inline styles stay allowed (React `style` props). `connect-src 'self'` also
 * covers the serve mode's same-origin WebSocket.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function createWindowOptions(preloadPath: string): BrowserWindowOptions {
  return {
    title: 'LoRA Studio',
    width: 1280,
    height: 820,
    minWidth: 960,
    minHeight: 600,
    show: false, // shown on 'ready-to-show', so there is no white flash
    backgroundColor: '#16181d',
    autoHideMenuBar: true,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/**
 * Response headers with our CSP set (replacing any the response carried, whatever the
 * header's case). Used by `session.webRequest.onHeadersReceived`; the renderer's HTML
 * carries the same policy as a meta tag for `file://` loads, which have no headers.
 */
export function withContentSecurityPolicy(
  headers: Record<string, string[]> | undefined,
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== 'content-security-policy') result[name] = value;
  }
  result['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
  return result;
}
