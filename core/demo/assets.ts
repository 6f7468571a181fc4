// Where the built-in demo model and sample dataset live: `assets/` at the package root (the
// repository, the npm package, or the app's resources folder, which electron-builder fills from
// the same `assets/`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unpackedPath } from '../store/data-dir.js';
import type { DemoPaths } from './demo-flow.js';

/**
 * The assets folder: $LORA_STUDIO_ASSETS, else `<package root>/assets` — the nearest folder up
 * from this module with a package.json (core/demo in a checkout, dist/core/demo when built), its
 * unpacked copy in a packaged app.
 */
export function assetsDir(): string {
  const env = process.env.LORA_STUDIO_ASSETS;
  if (env) return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the app folder (no package.json above core/demo)');
    dir = up;
  }
  return unpackedPath(join(dir, 'assets'));
}

/** The demo's model and dataset; throws naming what is missing (a broken install). */
export function demoPaths(root = assetsDir()): DemoPaths {
  const paths = { model: join(root, 'demo-model'), dataset: join(root, 'demo-dataset') };
  const missing = Object.values(paths).filter((p) => !existsSync(p));
  if (missing.length)
    throw new Error(
      `the demo's files are missing (${missing.join(', ')}); reinstall the app, or in a checkout run \`npx tsx scripts/build-demo-model.ts\` and \`npx tsx scripts/build-demo-dataset.ts\``,
    );
  return paths;
}
