// Options and helpers shared by several commands.
import { InvalidArgumentError, Option } from 'commander';
import { DATA_DIR_ENV } from '../store/index.js';

export function dataDirOption(): Option {
  return new Option(
    '--data-dir <dir>',
    `where the database and outputs live (default: $${DATA_DIR_ENV}, else the OS app-data folder)`,
  );
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port (valid: 0…65535; 0 picks a free one)`);
  }
  return port;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
