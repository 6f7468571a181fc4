// What `system.info` and `lora-studio info` report. No database needed.
import os from 'node:os';
import type { SystemInfo } from '../api.js';
import { listProviders } from '../onnx/index.js';
import { appVersion } from './package-info.js';

export interface SystemInfoOptions {
  dataDir: string;
  appVersion?: string;
  electronVersion?: string | null;
}

export function collectSystemInfo(opts: SystemInfoOptions): SystemInfo {
  return {
    appVersion: opts.appVersion ?? appVersion(),
    platform: process.platform,
    arch: process.arch,
    nodeVersion: process.versions.node,
    electronVersion: opts.electronVersion ?? process.versions.electron ?? null,
    dataDir: opts.dataDir,
    executionProviders: listProviders(),
    // availableParallelism respects cgroup/affinity limits where cpus() does not.
    cpuCount: os.availableParallelism?.() ?? os.cpus().length,
    totalMemoryBytes: os.totalmem(),
  };
}
