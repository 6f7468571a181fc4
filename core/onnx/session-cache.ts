// Sessions by key: concurrent requests for one key share one creation; a failed creation is
// evicted so the next request retries (a cached rejected promise would poison the key forever).

export interface Releasable {
  release(): Promise<void>;
}

export class SessionCache<T extends Releasable> {
  readonly #entries = new Map<string, Promise<T>>();

  /** The session for `key`, created by `factory` on first request. */
  get(key: string, factory: () => Promise<T>): Promise<T> {
    const existing = this.#entries.get(key);
    if (existing) return existing;
    let created: Promise<T>;
    try {
      created = factory();
    } catch (e) {
      created = Promise.reject(e);
    }
    this.#entries.set(key, created);
    created.catch(() => {
      if (this.#entries.get(key) === created) this.#entries.delete(key);
    });
    return created;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Forget `key` and release its session (after its creation settles). False if unknown. */
  async release(key: string): Promise<boolean> {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    const session = await entry.catch(() => undefined);
    if (session) await session.release();
    return true;
  }

  /** Release every session. */
  async dispose(): Promise<void> {
    const keys = [...this.#entries.keys()];
    await Promise.all(keys.map((k) => this.release(k)));
  }
}
