import { ApiCallError } from './transport';

export function describeError(error: unknown): string {
  if (error instanceof ApiCallError) {
    const hint = HINTS[error.code];
    return hint ? `${error.message}\n${hint}` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

const HINTS: Partial<Record<ApiCallError['code'], string>> = {
  unauthorized:
    'The access token is missing or stale: reopen the URL that `lora-studio serve` printed.',
  network: 'The connection to the core is down; it reconnects by itself when the server is back.',
};

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return '—';
  return Number.isInteger(value) ? String(value) : value.toPrecision(digits);
}
