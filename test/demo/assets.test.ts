import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assetsDir, demoPaths } from '../../core/demo/index.js';
import { unpackedPath } from '../../core/store/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('demo assets', () => {
  it('finds assets/ at the package root and the demo model and dataset in it', () => {
    expect(assetsDir()).toBe(path.join(root, 'assets'));
    const p = demoPaths();
    expect(existsSync(path.join(p.model, 'unet', 'config.json'))).toBe(true);
    expect(existsSync(path.join(p.dataset, '10_pink_star', 'star_01.txt'))).toBe(true);
  });

  it('says how to get the files back when they are missing', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'no-assets-'));
    expect(() => demoPaths(empty)).toThrow(/demo-model.*reinstall the app.*build-demo-model/s);
  });

  it('points packaged files at app.asar.unpacked, where native code can open them', () => {
    expect(unpackedPath('/opt/LoRA Studio/resources/app.asar/assets/demo-model')).toBe(
      '/opt/LoRA Studio/resources/app.asar.unpacked/assets/demo-model',
    );
    expect(unpackedPath('C:\\LoRA Studio\\resources\\app.asar\\assets\\x.png')).toBe(
      'C:\\LoRA Studio\\resources\\app.asar.unpacked\\assets\\x.png',
    );
    expect(unpackedPath('/home/me/app.asarx/assets')).toBe('/home/me/app.asarx/assets');
    expect(unpackedPath('/home/me/lora/assets')).toBe('/home/me/lora/assets');
  });
});
