// Failures that cross the API boundary. Everything a handler throws becomes an ApiError
// JSON object ({ code, message }); only ServiceError and validation errors choose the code.
import type { ZodError, ZodType } from 'zod';
import type { ApiError, ApiErrorCode } from '../api.js';

export class ServiceError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }

  toJSON(): ApiError {
    return { code: this.code, message: this.message };
  }
}

export const badRequest = (message: string) => new ServiceError('bad_request', message);
export const notFound = (message: string) => new ServiceError('not_found', message);
export const conflict = (message: string) => new ServiceError('conflict', message);

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return `got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

interface SchemaDef {
  innerType?: ZodType;
  in?: ZodType;
  shape?: Record<string, ZodType>;
}

/** Keys of the object schema at `path` inside `schema` (through optional/default wrappers). */
function objectKeysAt(schema: ZodType | undefined, path: readonly PropertyKey[]): string[] {
  let node = schema;
  let i = 0;
  while (node) {
    const def = node._zod.def as SchemaDef;
    if (def.innerType) node = def.innerType;
    else if (def.in) node = def.in;
    else if (def.shape && i < path.length) node = def.shape[String(path[i++])];
    else return def.shape && i === path.length ? Object.keys(def.shape) : [];
  }
  return [];
}

/**
 * One clause per issue, each naming the field and, where useful, the bad value and the
 * valid ones: `config.resolution: must be a multiple of 64 (got 500)`.
 */
export function formatZodError(error: ZodError, schema?: ZodType, what = 'input'): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.map(String).join('.') : what;
      let extra = '';
      if (issue.code === 'unrecognized_keys') {
        const valid = objectKeysAt(schema, issue.path);
        if (valid.length) extra = ` (valid: ${valid.join(', ')})`;
      } else if (
        'input' in issue &&
        (issue.input === undefined || typeof issue.input !== 'object')
      ) {
        extra = ` (${describeValue(issue.input)})`;
      }
      return `${field}: ${issue.message}${extra}`;
    })
    .join('; ');
}

interface SqliteLikeError {
  code?: unknown;
  message?: unknown;
}

/** Maps anything thrown to the wire shape; unexpected errors become `internal`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ServiceError) return err.toJSON();
  const e = err as SqliteLikeError;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // Handlers check these cases first with better messages; this is the safety net for races.
  if (e?.code === 'SQLITE_CONSTRAINT_UNIQUE') return { code: 'conflict', message };
  if (e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { code: 'bad_request', message };
  return { code: 'internal', message: `internal error: ${message}` };
}
