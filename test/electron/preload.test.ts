// The preload runs the way Electron runs a sandboxed preload: its compiled text inside
// the sandbox's function wrapper, with a `require` that knows only built-in modules.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { API_METHOD_NAMES } from '../../core/api.js';
import { API_CHANNELS, API_EVENT_CHANNEL } from '../../electron/channels.js';

const PRELOAD_PATH = fileURLToPath(new URL('../../electron/preload.cts', import.meta.url));
const source = readFileSync(PRELOAD_PATH, 'utf8');

interface ExposedApp {
  call(method: unknown, input?: unknown): Promise<unknown>;
  onEvent(listener: unknown): () => void;
}

function loadPreload() {
  const { outputText, diagnostics } = ts.transpileModule(source, {
    fileName: 'preload.cts',
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  });
  expect(diagnostics ?? []).toEqual([]);

  const exposed = new Map<string, unknown>();
  const contextBridge = {
    exposeInMainWorld: vi.fn((key: string, api: unknown) => exposed.set(key, api)),
  };
  const ipcRenderer = {
    invoke: vi.fn(async (channel: string, input: unknown) => ({
      ok: true,
      result: { channel, input },
    })),
    on: vi.fn(),
    removeListener: vi.fn(),
  };
  const required: string[] = [];
  const sandboxRequire = (name: string) => {
    required.push(name);
    if (name === 'electron') return { contextBridge, ipcRenderer };
    throw new Error(`module not found in the sandbox: ${name}`);
  };
  // Electron's wrapper for sandboxed preloads (lib/sandboxed_renderer/init.ts).
  const wrapper = new Function(
    'require',
    'process',
    'Buffer',
    'global',
    'setImmediate',
    'clearImmediate',
    'exports',
    'module',
    outputText,
  );
  const exports = {};
  wrapper(sandboxRequire, {}, undefined, {}, setImmediate, clearImmediate, exports, { exports });
  return { exposed, contextBridge, ipcRenderer, required, app: exposed.get('app') as ExposedApp };
}

/** The string literals of `const API_METHODS = …[ … ]` in the preload's source. */
function allowListInSource(): string[] {
  const file = ts.createSourceFile(PRELOAD_PATH, source, ts.ScriptTarget.ES2022, true);
  let names: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === 'API_METHODS') {
      const findArray = (n: ts.Node): ts.ArrayLiteralExpression | undefined =>
        ts.isArrayLiteralExpression(n) ? n : ts.forEachChild(n, findArray);
      const array = node.initializer && findArray(node.initializer);
      if (!array) throw new Error('API_METHODS is not an array literal');
      names = array.elements.map((element) => {
        if (!ts.isStringLiteral(element)) throw new Error(`not a string: ${element.getText()}`);
        return element.text;
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (!names) throw new Error('no API_METHODS in the preload');
  return names;
}

describe('preload (sandboxed)', () => {
  let preload: ReturnType<typeof loadPreload>;
  beforeEach(() => {
    preload = loadPreload();
  });

  it('needs nothing but the electron module', () => {
    expect(preload.required).toEqual(['electron']);
  });

  it('exposes exactly one object, `app`, with only call and onEvent', () => {
    expect(preload.contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect([...preload.exposed.keys()]).toEqual(['app']);
    expect(Object.keys(preload.app).sort()).toEqual(['call', 'onEvent']);
    expect(Object.isFrozen(preload.app)).toBe(true);
  });

  it('allows exactly the methods of core/api.ts', () => {
    const allowList = allowListInSource();
    expect(new Set(allowList).size).toBe(allowList.length);
    expect([...allowList].sort()).toEqual([...API_METHOD_NAMES].sort());
  });

  it('forwards every contract method on api:<method> and returns the reply', async () => {
    for (const method of API_METHOD_NAMES) {
      const input = { probe: method };
      await expect(preload.app.call(method, input)).resolves.toEqual({
        ok: true,
        result: { channel: `api:${method}`, input },
      });
    }
    const channels = preload.ipcRenderer.invoke.mock.calls.map(([channel]) => channel);
    expect(channels).toEqual([...API_CHANNELS]);
  });

  it.each([
    'shell.openExternal',
    'api:system.info',
    'event',
    'system.info ',
    'SYSTEM.INFO',
    'constructor',
    '__proto__',
    'toString',
    '',
  ])('refuses %j without touching IPC', async (method) => {
    await expect(preload.app.call(method, {})).rejects.toThrow(/not a LoRA Studio API method/);
    expect(preload.ipcRenderer.invoke).not.toHaveBeenCalled();
  });

  it('refuses a method that is not a string', async () => {
    await expect(preload.app.call({ toString: () => 'system.info' })).rejects.toThrow(
      /a value of type object is not a LoRA Studio API method/,
    );
    await expect(preload.app.call(undefined)).rejects.toThrow(/not a LoRA Studio API method/);
    expect(preload.ipcRenderer.invoke).not.toHaveBeenCalled();
  });

  it('delivers events without the IPC event object, and unsubscribes', () => {
    const listener = vi.fn();
    const unsubscribe = preload.app.onEvent(listener);
    expect(preload.ipcRenderer.on).toHaveBeenCalledTimes(1);
    const [channel, forward] = preload.ipcRenderer.on.mock.calls[0] as [
      string,
      (event: unknown, payload: unknown) => void,
    ];
    expect(channel).toBe(API_EVENT_CHANNEL);

    const ipcEvent = { sender: { send: () => undefined } };
    forward(ipcEvent, { status: 'ready' });
    expect(listener).toHaveBeenCalledWith({ status: 'ready' });
    expect(listener.mock.calls[0]).toHaveLength(1);

    unsubscribe();
    expect(preload.ipcRenderer.removeListener).toHaveBeenCalledWith(API_EVENT_CHANNEL, forward);
  });

  it('rejects an event listener that is not a function', () => {
    expect(() => preload.app.onEvent('alert(1)')).toThrow(/expects a function, got "alert\(1\)"/);
    expect(preload.ipcRenderer.on).not.toHaveBeenCalled();
  });
});

describe('channels', () => {
  it('has one api:<method> channel per contract method', () => {
    expect(API_CHANNELS).toEqual(API_METHOD_NAMES.map((method) => `api:${method}`));
    expect(API_CHANNELS).not.toContain(API_EVENT_CHANNEL);
  });
});
