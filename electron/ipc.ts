// Serves the contract (core/api.ts) over Electron IPC: one `ipcMain.handle` per method on
// channel `api:<method>`, and core events pushed to the windows on `api:event`.
// Validation (each method's zod input schema), the handlers and the error mapping are the
// core service's `dispatch`, exactly as in serve mode, so both transports answer alike:
// `{ ok: true, result }` or `{ ok: false, error: { code, message } }`.

import { fileURLToPath } from 'node:url';
import { API_METHOD_NAMES, type ApiEvent, type ApiMethodName } from '../core/api.js';
import type { ApiService, DispatchResult } from '../core/service/index.js';
import { API_EVENT_CHANNEL, apiChannel } from './channels.js';
import type { IpcInvokeEventLike, IpcMainLike, WebContentsLike } from './electron-api.js';

export interface ApiHandlerOptions {
  /** Only frames for which this holds may call the API (Electron checklist: validate senders). */
  isTrustedSender(event: IpcInvokeEventLike): boolean;
}

/** Registers the `api:<method>` handlers; returns a function that removes them again. */
export function registerApiHandlers(
  ipcMain: IpcMainLike,
  service: Pick<ApiService, 'dispatch'>,
  options: ApiHandlerOptions,
): () => void {
  for (const method of API_METHOD_NAMES) {
    ipcMain.handle(apiChannel(method), (event, ...args) =>
      handleApiCall(service, method, event, args, options),
    );
  }
  return () => {
    for (const method of API_METHOD_NAMES) ipcMain.removeHandler(apiChannel(method));
  };
}

async function handleApiCall(
  service: Pick<ApiService, 'dispatch'>,
  method: ApiMethodName,
  event: IpcInvokeEventLike,
  args: unknown[],
  options: ApiHandlerOptions,
): Promise<DispatchResult> {
  if (!options.isTrustedSender(event)) {
    const origin = event.senderFrame?.url || 'an unknown frame';
    return {
      ok: false,
      error: { code: 'forbidden', message: `${method}: calls from ${origin} are not allowed` },
    };
  }
  if (args.length > 1) {
    return {
      ok: false,
      error: {
        code: 'bad_request',
        message: `${method}: expected one input object, got ${args.length} arguments`,
      },
    };
  }
  return service.dispatch(method, args[0]);
}

/** A sender is trusted when its frame shows our own index.html (any hash or query). */
export function trustRendererFile(indexHtmlPath: string): ApiHandlerOptions['isTrustedSender'] {
  return (event) => {
    const url = event.senderFrame?.url;
    if (!url) return false;
    try {
      const parsed = new URL(url);
      return parsed.protocol === 'file:' && fileURLToPath(parsed) === indexHtmlPath;
    } catch {
      return false; // not a URL, or a file URL with a remote host
    }
  };
}

/** Pushes every core event to the live windows on `api:event`; returns the unsubscribe. */
export function forwardApiEvents(
  service: Pick<ApiService, 'onEvent'>,
  targets: () => WebContentsLike[],
): () => void {
  return service.onEvent((event: ApiEvent) => {
    for (const contents of targets()) {
      if (!contents.isDestroyed()) contents.send(API_EVENT_CHANNEL, event);
    }
  });
}
