export { createApiService } from './service.js';
export type { ApiService, ApiServiceOptions, DispatchResult } from './service.js';
export { ServiceError, toApiError, formatZodError } from './errors.js';
export { collectSystemInfo } from './system-info.js';
export type { SystemInfoOptions } from './system-info.js';
export { appVersion, packageRoot } from './package-info.js';
