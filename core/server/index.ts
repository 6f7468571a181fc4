export {
  startServer,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_IMAGE_BODY_LIMIT_BYTES,
  API_PREFIX,
  EVENTS_PATH,
  FILES_PREFIX,
} from './server.js';
export type { ServeOptions, RunningServer } from './server.js';
export { resolveStaticPath } from './static-files.js';
export type { ResolvedPath } from './static-files.js';
export { LOOPBACK_HOST } from './security.js';
