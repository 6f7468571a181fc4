// electron-builder.yml: valid for the installed electron-builder (its own schema check),
// and carrying what the app needs: the targets, the main entry, unpacked native modules.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// js-yaml and the validator are electron-builder's own (no extra dependency).
const requireFromBuilder = createRequire(
  createRequire(import.meta.url).resolve('app-builder-lib/package.json'),
);
const yaml = requireFromBuilder('js-yaml') as { load(text: string): unknown };

interface BuilderConfig {
  appId: string;
  productName: string;
  directories: { output: string; buildResources: string };
  files: string[];
  asarUnpack: string[];
  win: { target: string[]; icon: string };
  linux: { target: string[]; icon: string };
  mac: { target: string[]; icon: string };
}

const config = yaml.load(
  readFileSync(path.join(root, 'electron-builder.yml'), 'utf8'),
) as BuilderConfig;
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string };

/** Minimal glob → RegExp for electron-builder's patterns (`**`, `*`, `{a,b}`). */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '{') out += '(?:';
    else if (c === '}') out += ')';
    else if (c === ',') out += '|';
    else out += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function matchesAny(patterns: string[], file: string): boolean {
  return patterns.some((p) => !p.startsWith('!') && globToRegExp(p).test(file));
}

function excluded(patterns: string[], file: string): boolean {
  return patterns.some((p) => p.startsWith('!') && globToRegExp(p.slice(1)).test(file));
}

describe('electron-builder.yml', () => {
  it('passes electron-builder’s own configuration check', async () => {
    const { validateConfiguration } = requireFromBuilder('./out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: unknown): Promise<void>;
    };
    const { DebugLogger } = requireFromBuilder('builder-util') as {
      DebugLogger: new (enabled: boolean) => unknown;
    };
    await expect(
      validateConfiguration(structuredClone(config), new DebugLogger(false)),
    ).resolves.toBeUndefined();
    // …and the check is real: a misspelt key fails it.
    const broken = { ...structuredClone(config), win: { ...config.win, targte: ['nsis'] } };
    await expect(validateConfiguration(broken, new DebugLogger(false))).rejects.toThrow(/win/);
  });

  it('names the app', () => {
    expect(config.productName).toBe('LoRA Studio');
    expect(config.appId).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i);
  });

  it('builds an NSIS installer, an AppImage and a deb, and a dmg', () => {
    expect(config.win.target).toEqual(['nsis']);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
  });

  it('packs the main entry, its preload, the renderer, package.json and node_modules', () => {
    expect(pkg.main).toBe('dist/electron/main.js');
    for (const file of [
      pkg.main,
      'dist/electron/preload.cjs',
      'dist/renderer/index.html',
      'dist/core/api.js',
      'package.json',
      'node_modules/zod/package.json',
    ]) {
      expect(matchesAny(config.files, file), file).toBe(true);
      expect(excluded(config.files, file), file).toBe(false);
    }
  });

  it('never packs its own installers, nor the compiled tests, benchmarks and scripts', () => {
    expect(config.directories.output).toBe('dist/installers');
    expect(excluded(config.files, 'dist/installers/LoRA Studio-0.1.0.AppImage')).toBe(true);
    expect(excluded(config.files, 'dist/test/electron/main.test.js')).toBe(true);
    expect(excluded(config.files, 'dist/bench/engine.js')).toBe(true);
    expect(excluded(config.files, 'dist/scripts/render-icon.js')).toBe(true);
    expect(excluded(config.files, 'dist/core/service/index.js')).toBe(false);
  });

  it('unpacks the native modules from the asar', () => {
    const unpacked = (file: string) => matchesAny(config.asarUnpack, file);
    expect(unpacked('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    expect(unpacked('node_modules/sharp/lib/index.js')).toBe(true);
    expect(unpacked('node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64.node')).toBe(true);
    expect(unpacked('node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.17.3')).toBe(
      true,
    );
    expect(
      unpacked('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'),
    ).toBe(true);
    expect(
      unpacked('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1'),
    ).toBe(true);
    expect(unpacked('node_modules/onnxruntime-node/bin/napi-v6/win32/x64/onnxruntime.dll')).toBe(
      true,
    );
    expect(
      unpacked('node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib'),
    ).toBe(true);
    expect(unpacked('node_modules/zod/index.js')).toBe(false);
    // The demo's model and sample images are opened by path (ORT, sharp, the importer).
    expect(unpacked('assets/demo-model/unet/diffusion_pytorch_model.safetensors')).toBe(true);
    expect(unpacked('assets/demo-dataset/10_pink_star/star_01.png')).toBe(true);
    expect(excluded(config.files, 'assets/demo-model/vae/config.json')).toBe(false);
  });

  it('has icons that exist', () => {
    for (const icon of [config.win.icon, config.linux.icon, config.mac.icon]) {
      expect(existsSync(path.join(root, icon)), icon).toBe(true);
    }
    expect(existsSync(path.join(root, 'assets', 'icon.svg'))).toBe(true);
  });

  it('ships a 512 px PNG icon (the size electron-builder needs for macOS)', () => {
    const png = readFileSync(path.join(root, 'assets', 'icon.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(512); // IHDR width
    expect(png.readUInt32BE(20)).toBe(512); // IHDR height
  });
});

describe('electron version', () => {
  it('electron-builder.yml names the electron version package.json pins', () => {
    const raw = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    const { electronVersion } = config as unknown as { electronVersion: string };
    expect(electronVersion).toBe(raw.optionalDependencies.electron);
  });
});
