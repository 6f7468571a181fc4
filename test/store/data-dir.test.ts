import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDataDir, resolveDataDir, DATA_DIR_ENV } from '../../core/store/index.js';

describe('data dir', () => {
  it('prefers the flag, then LORA_STUDIO_DATA, then the OS default', () => {
    const env = { [DATA_DIR_ENV]: '/env/dir' };
    expect(resolveDataDir({ flag: '/flag/dir', env })).toBe(path.resolve('/flag/dir'));
    expect(resolveDataDir({ env })).toBe(path.resolve('/env/dir'));
    expect(resolveDataDir({ env: {}, platform: 'linux', home: '/home/u' })).toBe(
      '/home/u/.config/lora-studio',
    );
  });

  it('resolves a relative flag against the working directory', () => {
    expect(resolveDataDir({ flag: 'data', cwd: '/work', env: {} })).toBe(
      path.resolve('/work', 'data'),
    );
  });

  it('follows each OS convention', () => {
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/xdg' }, '/home/u')).toBe(
      '/xdg/lora-studio',
    );
    // A relative XDG_CONFIG_HOME is invalid per the spec and ignored.
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: 'rel' }, '/home/u')).toBe(
      '/home/u/.config/lora-studio',
    );
    expect(defaultDataDir('darwin', {}, '/Users/u')).toBe(
      '/Users/u/Library/Application Support/LoRA Studio',
    );
    expect(
      defaultDataDir('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'C:\\Users\\u'),
    ).toBe('C:\\Users\\u\\AppData\\Roaming\\LoRA Studio');
    expect(defaultDataDir('win32', {}, 'C:\\Users\\u')).toBe(
      'C:\\Users\\u\\AppData\\Roaming\\LoRA Studio',
    );
  });
});
