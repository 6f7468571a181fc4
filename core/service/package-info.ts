// Locates the app's package.json at run time. Walking up works from the sources (tsx), from
// the tsc output in dist/ and from inside a packaged Electron app alike.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'lora-studio';

let cached: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME) return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the ${PACKAGE_NAME} package.json above ${import.meta.url}`);
    }
    dir = parent;
  }
}

/** The repository / app root (the folder holding package.json). */
export function packageRoot(): string {
  cached ??= find();
  return cached.root;
}

export function appVersion(): string {
  cached ??= find();
  return cached.version;
}
