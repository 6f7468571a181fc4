// Locks down every web contents and the session: no navigation away from the app, no
// new windows, no <webview>, no permissions (camera, notifications, …), CSP on every
// response.

import type { SessionLike, WebContentsLike } from './electron-api.js';
import { withContentSecurityPolicy } from './window-options.js';

export function hardenWebContents(contents: WebContentsLike): void {
  // The UI is a single page (hash routing): any real navigation is an attack or a bug.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

export function hardenSession(session: SessionLike): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders) });
  });
}
