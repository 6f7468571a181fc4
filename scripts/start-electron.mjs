#!/usr/bin/env node
// `npm start`: prepares an Electron-ABI build of better-sqlite3 outside node_modules (so the Node
// build that the CLI and tests use stays intact), then launches Electron with it named in
// LORA_STUDIO_SQLITE_BINDING. Installers do not need this: electron-builder rebuilds native
// modules for Electron when it packages the app.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

let electronVersion;
try {
  electronVersion = require('electron/package.json').version;
} catch {
  console.error(
    'Electron is not installed (its binary download failed or was skipped).\n' +
      'Run `npm install` on a machine with internet access, or use `npm run serve` for the browser UI.',
  );
  process.exit(1);
}

const sqliteDir = path.dirname(require.resolve('better-sqlite3/package.json'));
const sqliteVersion = require('better-sqlite3/package.json').version;
const target = path.join(
  root,
  '.cache',
  'electron-native',
  `better-sqlite3-${sqliteVersion}-electron-${electronVersion}`,
);
const binding = path.join(target, 'build', 'Release', 'better_sqlite3.node');

if (!fs.existsSync(binding)) {
  fs.mkdirSync(target, { recursive: true });
  fs.copyFileSync(path.join(sqliteDir, 'package.json'), path.join(target, 'package.json'));
  try {
    // Downloads better-sqlite3's published prebuilt binary for this Electron version.
    execFileSync(
      process.execPath,
      [
        require.resolve('prebuild-install/bin.js'),
        '--runtime',
        'electron',
        '--target',
        electronVersion,
      ],
      { cwd: target, stdio: 'inherit' },
    );
  } catch {
    console.error(
      `Could not fetch better-sqlite3 ${sqliteVersion} for Electron ${electronVersion}.\n` +
        'Check the internet connection, or build it with `npx electron-builder install-app-deps` ' +
        '(then run `npm rebuild better-sqlite3` before using the CLI or tests again).',
    );
    process.exit(1);
  }
}
const electronBinary = require('electron'); // the electron package exports its binary's path
const child = spawn(electronBinary, [root, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, LORA_STUDIO_SQLITE_BINDING: binding },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
