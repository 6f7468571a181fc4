// User settings as one JSON value per key, typed by the contract's settings schema.
import type { Database } from 'better-sqlite3';
import { settingsSchema, SETTINGS_KEYS } from '../api.js';
import type { Settings } from '../api.js';
import { nowIso } from './util.js';

const DEFAULTS: Settings = settingsSchema.parse({});

export class SettingsRepo {
  constructor(private readonly db: Database) {}

  /** All settings; a missing key, or one stored by an older schema that no longer validates, reads as its default. */
  getAll(): Settings {
    const rows = this.db.prepare('SELECT key, value FROM settings').all() as {
      key: string;
      value: string;
    }[];
    const stored = new Map(rows.map((r) => [r.key, r.value]));
    const out: Record<string, unknown> = { ...DEFAULTS };
    for (const key of SETTINGS_KEYS) {
      const text = stored.get(key);
      if (text === undefined) continue;
      const parsed = settingsSchema.shape[key].safeParse(JSON.parse(text));
      if (parsed.success) out[key] = parsed.data;
    }
    return out as Settings;
  }

  /** Writes the given keys (already validated) and returns the full settings. */
  update(patch: Partial<Settings>): Settings {
    const upsert = this.db.prepare(
      `INSERT INTO settings (key, value, updated_at) VALUES (@key, @value, @at)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      const at = nowIso();
      for (const [key, value] of Object.entries(patch)) {
        if (value === undefined) continue;
        if (!SETTINGS_KEYS.includes(key as keyof Settings)) {
          throw new Error(`unknown setting "${key}" (valid: ${SETTINGS_KEYS.join(', ')})`);
        }
        upsert.run({ key, value: JSON.stringify(value), at });
      }
    })();
    return this.getAll();
  }

  /** Back to defaults: one key, or all of them. */
  reset(key?: keyof Settings): Settings {
    if (key) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else this.db.prepare('DELETE FROM settings').run();
    return this.getAll();
  }
}
