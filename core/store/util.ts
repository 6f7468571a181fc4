// Small helpers shared by the repositories.

/** Timestamps are ISO-8601 UTC strings: sortable as text and JSON-ready for the API. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function parseJsonObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** SQLite has no boolean; better-sqlite3 refuses to bind JS booleans. */
export function bit(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}
