// The real launcher (bin/lora-studio.mjs → tsx → core/cli.ts) in a child process.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiMethods } from '../../core/api.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/lora-studio.mjs');

describe('lora-studio CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = makeTempDir();
    // Never the user's real app-data folder, even if a test forgets --data-dir.
    env = { ...process.env, LORA_STUDIO_DATA: dir, XDG_CONFIG_HOME: dir };
  });
  afterEach(() => removeDir(dir));

  it('--help lists the commands', async () => {
    const { stdout } = await run(process.execPath, [BIN, '--help'], { env });
    expect(stdout).toMatch(/Usage: lora-studio/);
    expect(stdout).toMatch(/^\s+serve\b/m);
    expect(stdout).toMatch(/^\s+info\b/m);
  });

  it('info --json prints system info with the execution providers, cpu included', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'info', '--json'], { env });
    const info = apiMethods['system.info'].output.parse(JSON.parse(stdout));
    expect(info.dataDir).toBe(dir);
    const cpu = info.executionProviders.find((p) => p.name === 'cpu');
    expect(cpu).toMatchObject({ installed: true, bundled: true });
  });

  it('info prints readable text and honours --data-dir', async () => {
    const other = path.join(dir, 'other');
    const { stdout } = await run(process.execPath, [BIN, 'info', '--data-dir', other], { env });
    expect(stdout).toMatch(/^LoRA Studio \d+\.\d+\.\d+/);
    expect(stdout).toMatch(/execution providers:\n(.*\n)*\s+cpu\s+installed/);
    expect(stdout).toContain(`data dir     ${other}`);
  });

  it('rejects a bad port, naming the value and the valid range', async () => {
    const err = (await run(process.execPath, [BIN, 'serve', '--port', 'http'], { env }).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/"http" is not a port \(valid: 0…65535/);
  });

  it('serve prints a loopback URL, answers the API, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}/.exec(out);
          if (match) resolve(match[0]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited early (${code}): ${out}`)));
      });
      const { origin, searchParams } = new URL(url);
      const res = await fetch(`${origin}/api/datasets.create`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${searchParams.get('token')}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ name: 'via cli' }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, result: { name: 'via cli' } });

      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
