// The process-wide session cache: one session per key (e.g. 'unet:fp16:cuda'), shared by callers.
import { SessionCache } from './session-cache.js';
import type { Session } from './session.js';

const shared = new SessionCache<Session>();

/** The session for `key`; `factory` runs once per key (again only after a failure or release). */
export function getSession(key: string, factory: () => Promise<Session>): Promise<Session> {
  return shared.get(key, factory);
}

export function releaseSession(key: string): Promise<boolean> {
  return shared.release(key);
}

export function disposeSessions(): Promise<void> {
  return shared.dispose();
}
