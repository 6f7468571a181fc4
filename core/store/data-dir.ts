// Where LoRA Studio keeps its database and outputs. Order: --data-dir flag, then the
// LORA_STUDIO_DATA environment variable, then the OS's per-user app-data folder.
import os from 'node:os';
import path from 'node:path';

export const DATA_DIR_ENV = 'LORA_STUDIO_DATA';
export const APP_DIR_NAME = 'LoRA Studio';
/** Linux convention: lower-case, no spaces, under $XDG_CONFIG_HOME. */
export const APP_DIR_NAME_LINUX = 'lora-studio';

export interface DataDirOptions {
  /** Value of a `--data-dir` flag, if any. */
  flag?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  home?: string;
  cwd?: string;
}

/** The OS default, without looking at the flag or LORA_STUDIO_DATA. */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  if (platform === 'win32') {
    const appData = env.APPDATA || path.win32.join(home, 'AppData', 'Roaming');
    return path.win32.join(appData, APP_DIR_NAME);
  }
  if (platform === 'darwin') {
    return path.posix.join(home, 'Library', 'Application Support', APP_DIR_NAME);
  }
  // XDG says a relative $XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, '.config');
  return path.posix.join(base, APP_DIR_NAME_LINUX);
}

/** Resolves the data dir to an absolute path (flag > env > OS default). */
export function resolveDataDir(opts: DataDirOptions = {}): string {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.flag?.trim() || env[DATA_DIR_ENV]?.trim();
  if (explicit) return path.resolve(cwd, explicit);
  return defaultDataDir(opts.platform, env, opts.home);
}

/**
 * A packaged app's file that electron-builder unpacked (`asarUnpack`): native code (ONNX Runtime,
 * sharp) cannot open paths inside `app.asar`, so point at `app.asar.unpacked` instead. Paths
 * outside an asar come back unchanged.
 */
export function unpackedPath(p: string): string {
  return p.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}
