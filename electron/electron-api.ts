// The slice of Electron's main-process API this app uses, typed structurally.
//
// Why not `import { app } from 'electron'`: electron is an optionalDependency whose
// postinstall binary download is not possible on every build machine (CI included), so
// its type declarations may be absent. Typing the few members we touch ourselves keeps
// `tsc` green either way, and lets the wiring be tested with plain stubs.

export interface WebPreferences {
  preload: string;
  contextIsolation: boolean;
  sandbox: boolean;
  nodeIntegration: boolean;
  nodeIntegrationInWorker: boolean;
  nodeIntegrationInSubFrames: boolean;
  webSecurity: boolean;
  allowRunningInsecureContent: boolean;
  webviewTag: boolean;
  experimentalFeatures: boolean;
  navigateOnDragDrop: boolean;
  spellcheck: boolean;
}

export interface BrowserWindowOptions {
  title: string;
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
  show: boolean;
  backgroundColor: string;
  autoHideMenuBar: boolean;
  webPreferences: WebPreferences;
}

export interface ElectronEventLike {
  preventDefault(): void;
}

export interface WindowOpenHandlerDetails {
  url: string;
}

export interface WebContentsLike {
  readonly id: number;
  on(event: 'will-navigate', listener: (event: ElectronEventLike, url: string) => void): void;
  on(event: 'will-redirect', listener: (event: ElectronEventLike, url: string) => void): void;
  on(
    event: 'will-attach-webview',
    listener: (event: ElectronEventLike, webPreferences: unknown, params: unknown) => void,
  ): void;
  setWindowOpenHandler(handler: (details: WindowOpenHandlerDetails) => { action: 'deny' }): void;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

export type PermissionRequestHandler = (
  webContents: unknown,
  permission: string,
  callback: (granted: boolean) => void,
) => void;

export type PermissionCheckHandler = (
  webContents: unknown,
  permission: string,
  requestingOrigin: string,
) => boolean;

export interface HeadersReceivedDetails {
  url: string;
  responseHeaders?: Record<string, string[]>;
}

export interface SessionLike {
  setPermissionRequestHandler(handler: PermissionRequestHandler): void;
  setPermissionCheckHandler(handler: PermissionCheckHandler): void;
  webRequest: {
    onHeadersReceived(
      listener: (
        details: HeadersReceivedDetails,
        callback: (response: { responseHeaders: Record<string, string[]> }) => void,
      ) => void,
    ): void;
  };
}

export interface BrowserWindowLike {
  readonly webContents: WebContentsLike;
  loadFile(filePath: string): Promise<void>;
  once(event: 'ready-to-show', listener: () => void): void;
  show(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  isDestroyed(): boolean;
}

export interface BrowserWindowConstructor {
  new (options: BrowserWindowOptions): BrowserWindowLike;
  getAllWindows(): BrowserWindowLike[];
}

/** The sender of an `ipcMain.handle` call (what Electron calls IpcMainInvokeEvent). */
export interface IpcInvokeEventLike {
  senderFrame: { url: string } | null;
}

export interface IpcMainLike {
  handle(
    channel: string,
    listener: (event: IpcInvokeEventLike, ...args: unknown[]) => unknown,
  ): void;
  removeHandler(channel: string): void;
}

export interface AppLike {
  whenReady(): Promise<void>;
  requestSingleInstanceLock(): boolean;
  enableSandbox(): void;
  quit(): void;
  on(
    event: 'web-contents-created',
    listener: (e: unknown, contents: WebContentsLike) => void,
  ): void;
  on(event: 'second-instance' | 'activate' | 'window-all-closed', listener: () => void): void;
  on(event: 'will-quit', listener: () => void): void;
}

export interface ElectronMainApi {
  app: AppLike;
  BrowserWindow: BrowserWindowConstructor;
  ipcMain: IpcMainLike;
  session: { defaultSession: SessionLike };
  dialog: { showErrorBox(title: string, content: string): void };
}

// A non-literal specifier keeps tsc from resolving (and requiring) electron's own types.
const ELECTRON_MODULE: string = 'electron';

/** Loads Electron's main-process module (only works inside Electron, or with a test stub). */
export async function loadElectron(): Promise<ElectronMainApi> {
  return (await import(ELECTRON_MODULE)) as ElectronMainApi;
}
