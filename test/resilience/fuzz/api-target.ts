// Malformed API requests through the real loopback server: POST /api/<method> with bad JSON,
// wrong types, odd methods, content types, huge and deeply nested bodies. Every answer must be a
// well-formed { ok } envelope with a status from the contract's table — never 500, never a hang —
// and the server must still answer a valid call afterwards.
import fc from 'fast-check';
import { API_ERROR_HTTP_STATUS, API_METHOD_NAMES } from '../../../core/api.js';
import { rawRequest, startHarness, type RawResponse } from '../../server/harness.js';
import { FuzzRun, type FuzzStats } from './fuzz-stats.js';

type ApiCase = {
  method: string;
  body:
    | { kind: 'json'; value: unknown }
    | { kind: 'raw'; text: string }
    | { kind: 'huge'; mib: number }
    | { kind: 'deep'; depth: number };
  contentType?: string;
  httpMethod: string;
};

const FIELDS = [
  'id',
  'name',
  'path',
  'datasetId',
  'runId',
  'jobId',
  'prompt',
  'config',
  'key',
  'value',
  'folder',
  'images',
  'limit',
  'seed',
];
const values = fc.oneof(
  fc.anything({ maxDepth: 2, maxKeys: 3 }),
  fc.constantFrom(
    -1,
    0,
    2 ** 53,
    1e308,
    -0,
    '',
    '../../etc/passwd',
    '%2e%2e/x',
    'C:\\Windows',
    '\u0000',
    null,
    true,
    [],
    {},
  ),
  fc.string({ maxLength: 30 }),
);
const inputs = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), values, { maxKeys: 4 }),
  fc.anything({ maxDepth: 3 }),
);

export const apiCases: fc.Arbitrary<ApiCase> = fc.record({
  method: fc.oneof(
    fc.constantFrom(...API_METHOD_NAMES),
    fc.constantFrom(
      '',
      '..',
      '__proto__',
      'constructor',
      'toString',
      'jobs.get/../x',
      '%2e%2e',
      'x'.repeat(3000),
    ),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
  ),
  body: fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('json' as const), value: inputs }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('raw' as const),
        text: fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.constantFrom('{', '{"a":', '[1,2', 'nul', '\u0000', '{"__proto__":{"x":1}}', '1e999'),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('huge' as const), mib: fc.constantFrom(2, 4) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('deep' as const),
        depth: fc.constantFrom(1000, 100_000),
      }),
    },
  ),
  contentType: fc.option(
    fc.constantFrom(
      'application/json',
      'text/plain',
      'application/json; charset=utf-8',
      'multipart/form-data',
    ),
    { nil: undefined },
  ),
  httpMethod: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
});

function bodyOf(c: ApiCase): string {
  switch (c.body.kind) {
    case 'json':
      return JSON.stringify(c.body.value) ?? '';
    case 'raw':
      return c.body.text;
    case 'huge':
      return JSON.stringify({ name: 'x'.repeat(c.body.mib * 1024 * 1024) });
    case 'deep':
      return '['.repeat(c.body.depth) + ']'.repeat(c.body.depth);
  }
}

/** A well-formed envelope with a status from the contract's table, and never 500. */
function checkResponse(r: RawResponse): string | undefined {
  if (r.status === 500) return `500: ${r.text.slice(0, 300)}`;
  let body: { ok?: unknown; error?: { code?: string; message?: string } };
  try {
    body = r.json() as typeof body;
  } catch {
    return `status ${r.status} with a body that is not JSON: ${r.text.slice(0, 100)}`;
  }
  if (body.ok === true) return r.status === 200 ? undefined : `ok with status ${r.status}`;
  const code = body.error?.code;
  if (!code || !(code in API_ERROR_HTTP_STATUS)) return `unknown error code ${String(code)}`;
  if (API_ERROR_HTTP_STATUS[code as keyof typeof API_ERROR_HTTP_STATUS] !== r.status)
    return `code ${code} with status ${r.status}`;
  if (!body.error?.message || body.error.message.length < 10) return `error without a message`;
  return undefined;
}

export async function fuzzApi(numRuns: number, seed: number): Promise<FuzzStats> {
  const h = await startHarness();
  const run = new FuzzRun('API requests → loopback server', [], {
    caseMs: 5000,
    memoryCapMiB: 256,
  });
  try {
    let i = 0;
    for (const c of fc.sample(apiCases, { seed, numRuns })) {
      const body = bodyOf(c);
      await run.case(
        `api #${i++} ${c.httpMethod} ${c.method.slice(0, 40)} ${c.body.kind} ${body.slice(0, 80)}`,
        async () => {
          const r = await rawRequest(h.server.port, {
            method: c.httpMethod,
            path: `/api/${c.method}`,
            headers: {
              Authorization: `Bearer ${h.server.token}`,
              ...(c.contentType ? { 'Content-Type': c.contentType } : {}),
              // Framed like any client would (a DELETE body without it is an HTTP-level error).
              ...(c.httpMethod === 'GET'
                ? {}
                : { 'Content-Length': String(Buffer.byteLength(body)) }),
            },
            body: c.httpMethod === 'GET' ? undefined : body,
          });
          const bad = checkResponse(r);
          if (bad) return bad;
          // A well-formed error envelope is the clear refusal this target wants.
          const env = r.json() as { ok: boolean; error?: { code: string; message: string } };
          if (!env.ok) throw new Error(`${env.error?.code}: ${env.error?.message}`);
          return undefined;
        },
        (bad) => bad,
      );
    }
    // Still alive and serving.
    await run.case(
      'a valid call after the fuzzing',
      () => h.api('system.info', {}),
      (r) =>
        r.status === 200 ? undefined : `system.info answered ${r.status}: ${r.text.slice(0, 200)}`,
    );
  } finally {
    await h.close();
  }
  return run.finish();
}
