// How the UI reaches the core. Two ways, one interface (`Api` from core/api.ts):
//  - Electron: the preload exposes `window.app` (IPC, see electron/preload.cts).
//  - Browser (serve mode): `POST /api/<method>` with the page's bearer token, and core
//    events over the WebSocket `/events?token=…`.
// Both resolve to the method's result or throw an ApiCallError with the core's code.

import type {
  Api,
  ApiErrorCode,
  ApiEvent,
  ApiEventListener,
  ApiInput,
  ApiMethodName,
  ApiOutput,
} from '../../core/api';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';
export type ConnectionListener = (state: ConnectionState) => void;

export interface Transport extends Api {
  readonly kind: 'ipc' | 'http';
  /** For the status bar: where the core runs. */
  readonly label: string;
  connection(): ConnectionState;
  onConnectionChange(listener: ConnectionListener): () => void;
  close(): void;
}

/** What the preload exposes as `window.app`. */
export interface DesktopBridge {
  call(method: string, input: unknown): Promise<unknown>;
  onEvent(listener: (event: unknown) => void): () => void;
}

declare global {
  interface Window {
    app?: DesktopBridge;
  }
}

/** Failure codes: the core's own, plus what can go wrong on the way. */
export type CallErrorCode = ApiErrorCode | 'network' | 'protocol';

export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly method: string,
    readonly code: CallErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const TOKEN_STORAGE_KEY = 'lora-studio.token';

export function createTransport(win: Window = window): Transport {
  return win.app ? createIpcTransport(win.app) : createHttpTransport(win);
}

// ---------------------------------------------------------------------------------------
// Shared: reply envelopes and events

/** Unwraps `{ ok: true, result }` or throws the `{ ok: false, error }` as ApiCallError. */
function unwrapReply(method: string, reply: unknown): unknown {
  if (reply !== null && typeof reply === 'object' && 'ok' in reply) {
    const envelope = reply as { ok: unknown; result?: unknown; error?: unknown };
    if (envelope.ok === true) return envelope.result;
    const error = envelope.error as { code?: unknown; message?: unknown } | undefined;
    if (typeof error?.code === 'string' && typeof error.message === 'string') {
      throw new ApiCallError(method, error.code as ApiErrorCode, error.message);
    }
  }
  throw new ApiCallError(
    method,
    'protocol',
    `${method}: the core sent a reply this UI cannot read`,
  );
}

function isApiEvent(value: unknown): value is ApiEvent {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { status?: unknown }).status === 'string'
  );
}

class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();
  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }
  emit(value: T): void {
    for (const listener of [...this.set]) {
      try {
        listener(value);
      } catch (error) {
        console.error('listener failed', error);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Electron (IPC through the preload)

export function createIpcTransport(bridge: DesktopBridge): Transport {
  return {
    kind: 'ipc',
    label: 'Desktop',
    async call<M extends ApiMethodName>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      let reply: unknown;
      try {
        reply = await bridge.call(method, input);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new ApiCallError(method, 'protocol', message);
      }
      return unwrapReply(method, reply) as ApiOutput<M>;
    },
    onEvent(listener: ApiEventListener) {
      return bridge.onEvent((event) => {
        if (isApiEvent(event)) listener(event);
      });
    },
    connection: () => 'connected',
    onConnectionChange: () => () => undefined,
    close: () => undefined,
  };
}

// ---------------------------------------------------------------------------------------
// Browser (serve mode: HTTP + WebSocket on the loopback server)

/**
 * The token comes with the URL the server prints (`/?token=…`). It is kept in
 * sessionStorage, so a reload still works, and removed from the address bar, so it does
 * not end up in history or screenshots.
 */
export function takeToken(win: Window): string | null {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    win.sessionStorage.setItem(TOKEN_STORAGE_KEY, fromUrl);
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return win.sessionStorage.getItem(TOKEN_STORAGE_KEY);
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

export function createHttpTransport(win: Window): Transport {
  const token = takeToken(win);
  const origin = win.location.origin;
  const events = new Listeners<ApiEvent>();
  const connectionListeners = new Listeners<ConnectionState>();
  let state: ConnectionState = 'connecting';
  let socket: WebSocket | null = null;
  let retryDelay = RECONNECT_MIN_MS;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const setState = (next: ConnectionState): void => {
    if (next === state) return;
    state = next;
    connectionListeners.emit(next);
  };

  const connect = (): void => {
    if (closed || !token) {
      setState('disconnected');
      return;
    }
    const url = new URL('/events', origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', token);
    setState('connecting');
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      retryDelay = RECONNECT_MIN_MS;
      setState('connected');
    };
    ws.onmessage = (message) => {
      if (typeof message.data !== 'string') return;
      let event: unknown;
      try {
        event = JSON.parse(message.data);
      } catch {
        console.warn('ignored an event that is not JSON');
        return;
      }
      if (isApiEvent(event)) events.emit(event);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      setState('disconnected');
      if (closed) return;
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, RECONNECT_MAX_MS);
    };
  };
  connect();

  return {
    kind: 'http',
    label: `Local server ${win.location.host}`,
    async call<M extends ApiMethodName>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      if (!token) {
        throw new ApiCallError(
          method,
          'unauthorized',
          'This page has no access token. Open the full URL that `lora-studio serve` printed (it ends in ?token=…).',
        );
      }
      let response: Response;
      try {
        response = await fetch(`${origin}/api/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(input ?? {}),
        });
      } catch {
        throw new ApiCallError(
          method,
          'network',
          `Cannot reach the LoRA Studio server at ${origin}. Is \`lora-studio serve\` still running?`,
        );
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new ApiCallError(
          method,
          'protocol',
          `${method}: the server answered HTTP ${response.status} without a JSON reply`,
        );
      }
      return unwrapReply(method, body) as ApiOutput<M>;
    },
    onEvent: (listener) => events.add(listener),
    connection: () => state,
    onConnectionChange: (listener) => connectionListeners.add(listener),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      socket?.close();
      socket = null;
      setState('disconnected');
    },
  };
}
