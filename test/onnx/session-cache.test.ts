import { describe, expect, it } from 'vitest';
import { getSession, releaseSession, Session, SessionCache } from '../../core/onnx/index.js';
import { graphOf, node, vi } from './helpers.js';

class Fake {
  released = 0;
  constructor(readonly id: number) {}
  async release(): Promise<void> {
    this.released++;
  }
}

describe('session cache by key', () => {
  it('shares one creation between concurrent requests for a key', async () => {
    const cache = new SessionCache<Fake>();
    let made = 0;
    const factory = async () => {
      await new Promise((r) => setTimeout(r, 5));
      return new Fake(++made);
    };
    const [a, b, c] = await Promise.all([
      cache.get('k', factory),
      cache.get('k', factory),
      cache.get('other', factory),
    ]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(made).toBe(2);
  });

  it('evicts a failed creation so the next request retries', async () => {
    const cache = new SessionCache<Fake>();
    let calls = 0;
    const flaky = async () => {
      if (++calls === 1) throw new Error('model file still downloading');
      return new Fake(calls);
    };
    const first = [cache.get('k', flaky), cache.get('k', flaky)];
    for (const p of first) await expect(p).rejects.toThrow('still downloading');
    expect(cache.has('k')).toBe(false);
    expect((await cache.get('k', flaky)).id).toBe(2);
    // A factory that throws synchronously is handled the same way.
    await expect(
      cache.get('sync', () => {
        throw new Error('bad options');
      }),
    ).rejects.toThrow('bad options');
    expect(cache.has('sync')).toBe(false);
  });

  it('releases explicitly, also while creation is still in flight, and disposes all', async () => {
    const cache = new SessionCache<Fake>();
    const a = await cache.get('a', async () => new Fake(1));
    expect(await cache.release('a')).toBe(true);
    expect(a.released).toBe(1);
    expect(await cache.release('a')).toBe(false);
    let resolve!: (f: Fake) => void;
    const pending = cache.get('p', () => new Promise<Fake>((r) => (resolve = r)));
    const releasing = cache.release('p');
    const late = new Fake(2);
    resolve(late);
    await releasing;
    expect(await pending).toBe(late);
    expect(late.released).toBe(1);
    const b = await cache.get('b', async () => new Fake(3));
    const c = await cache.get('c', async () => new Fake(4));
    await cache.dispose();
    expect([b.released, c.released, cache.keys.length]).toEqual([1, 1, 0]);
  });

  it('the shared cache hands out real sessions by key', async () => {
    const g = graphOf({
      inputs: [vi('x', 'float32', [1])],
      outputs: [vi('y', 'float32', [1])],
      nodes: [node('Neg', ['x'], ['y'])],
    });
    const make = () => Session.create(g);
    const [s1, s2] = await Promise.all([getSession('neg', make), getSession('neg', make)]);
    expect(s1).toBe(s2);
    expect(await releaseSession('neg')).toBe(true);
    const s3 = await getSession('neg', make);
    expect(s3).not.toBe(s1);
    expect(
      Array.from(
        (await s3.run({ x: { dtype: 'float32', shape: [1], data: new Float32Array([2]) } })).y
          .data as Float32Array,
      ),
    ).toEqual([-2]);
    await releaseSession('neg');
  });
});
