// `lora-studio info`: what this machine offers (execution providers above all).
import { Command } from 'commander';
import type { SystemInfo } from '../api.js';
import { collectSystemInfo } from '../service/index.js';
import { resolveDataDir } from '../store/index.js';
import { dataDirOption, formatBytes } from './options.js';

export function formatSystemInfo(info: SystemInfo): string {
  const providers = info.executionProviders.map((p) => {
    const state = p.installed ? (p.bundled ? 'installed (bundled)' : 'installed') : 'not installed';
    return `  ${p.name.padEnd(7)} ${state}${p.installed ? '' : ` — needs ${p.requirement}`}`;
  });
  return [
    `LoRA Studio ${info.appVersion}`,
    `platform     ${info.platform} ${info.arch}`,
    `node         ${info.nodeVersion}${info.electronVersion ? ` (electron ${info.electronVersion})` : ''}`,
    `cpus         ${info.cpuCount}`,
    `memory       ${formatBytes(info.totalMemoryBytes)}`,
    `data dir     ${info.dataDir}`,
    'execution providers:',
    ...providers,
  ].join('\n');
}

export function infoCommand(): Command {
  return new Command('info')
    .description('print system information, including the available execution providers')
    .addOption(dataDirOption())
    .option('--json', 'print JSON instead of text')
    .action((opts: { dataDir?: string; json?: boolean }) => {
      // Reports the data dir without creating or opening it.
      const info = collectSystemInfo({ dataDir: resolveDataDir({ flag: opts.dataDir }) });
      process.stdout.write(
        opts.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatSystemInfo(info)}\n`,
      );
    });
}
