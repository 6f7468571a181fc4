// IPC channel names for the contract. The preload (sandboxed, so it cannot import this
// file) repeats the method list; test/electron/preload.test.ts keeps both in sync.

import { API_METHOD_NAMES, type ApiMethodName } from '../core/api.js';

export const API_CHANNEL_PREFIX = 'api:';
export const API_EVENT_CHANNEL = 'api:event';

export function apiChannel(method: ApiMethodName): string {
  return API_CHANNEL_PREFIX + method;
}

/** One invoke channel per contract method: `api:<method>`. */
export const API_CHANNELS: readonly string[] = Object.freeze(API_METHOD_NAMES.map(apiChannel));
