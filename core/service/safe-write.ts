// Writing into a folder the user picked (a kohya export, …): never through a symbolic link and
// never outside that folder — an existing `1_x` sub-folder or `img.png` that is a symlink would
// otherwise make an "export" overwrite some other file of the user's.
import fs from 'node:fs/promises';
import path from 'node:path';
import { badRequest } from './errors.js';

/** Throws bad_request unless `file` may be written: its folder resolves inside `root`, no link. */
export async function assertWritableInside(root: string, file: string): Promise<void> {
  const [realRoot, realDir] = await Promise.all([
    fs.realpath(root),
    fs.realpath(path.dirname(file)),
  ]);
  const rel = path.relative(realRoot, realDir);
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw badRequest(
      `folder: "${path.dirname(file)}" leads outside "${root}" (through a symbolic link); ` +
        'refusing to write there',
    );
  const st = await fs.lstat(file).catch(() => null);
  if (st?.isSymbolicLink())
    throw badRequest(
      `folder: "${file}" is a symbolic link; refusing to write through it ` +
        '(remove the link or pick another folder)',
    );
}
