// Execution-provider choice: one frozen table from our names to ORT's EP configs, the `auto`
// order, the session options each EP needs, and creation with fallback to the next EP.
import type { InferenceSession } from 'onnxruntime-node';
import type { InMemoryExternalData } from './external-data.js';
import { listProviders, type ExecutionProviderName } from './providers.js';

export type ExecutionProviderChoice = 'auto' | ExecutionProviderName;

interface EpEntry {
  /** The name onnxruntime-node knows the EP by. */
  readonly ortName: string;
  /** A GPU EP: nodes it lacks a kernel for would silently run on the CPU EP. */
  readonly gpu: boolean;
  readonly takesDeviceId: boolean;
}

export const EXECUTION_PROVIDERS: Readonly<Record<ExecutionProviderName, EpEntry>> = Object.freeze({
  cuda: Object.freeze({ ortName: 'cuda', gpu: true, takesDeviceId: true }),
  dml: Object.freeze({ ortName: 'dml', gpu: true, takesDeviceId: true }),
  webgpu: Object.freeze({ ortName: 'webgpu', gpu: true, takesDeviceId: false }),
  cpu: Object.freeze({ ortName: 'cpu', gpu: false, takesDeviceId: false }),
});

/** What `auto` tries, fastest first. */
export const AUTO_ORDER: readonly ExecutionProviderName[] = Object.freeze([
  'cuda',
  'dml',
  'webgpu',
  'cpu',
]);

const VALID_CHOICES = ['auto', ...Object.keys(EXECUTION_PROVIDERS)];

export function assertExecutionProviderChoice(name: string): ExecutionProviderChoice {
  if (VALID_CHOICES.includes(name)) return name as ExecutionProviderChoice;
  throw new Error(`unknown execution provider '${name}'; valid: ${VALID_CHOICES.join(', ')}`);
}

export interface EpSkip {
  readonly ep: ExecutionProviderName;
  readonly reason: string;
}

export interface EpPlan {
  /** EPs to try, in order. */
  readonly candidates: readonly ExecutionProviderName[];
  /** EPs left out before trying, with why. */
  readonly skipped: readonly EpSkip[];
}

export interface ResolveOptions {
  /** Installed EP names (default: what this onnxruntime-node install offers). */
  installed?: readonly string[];
}

function installedProviders(): Map<ExecutionProviderName, string> {
  return new Map(listProviders().map((p) => [p.name, p.installed ? '' : p.requirement]));
}

/**
 * The EPs to try for a choice. An explicit choice that is not installed fails here, saying what it
 * needs; `auto` skips it and records why.
 */
export function resolveExecutionProviders(choice: string, opts: ResolveOptions = {}): EpPlan {
  const valid = assertExecutionProviderChoice(choice);
  const known = opts.installed
    ? new Map(AUTO_ORDER.map((n) => [n, opts.installed!.includes(n) ? '' : 'not in this install']))
    : installedProviders();
  const missing = (n: ExecutionProviderName): string => {
    const need = known.get(n) ?? 'unknown';
    return need ? `not installed (needs ${need})` : '';
  };
  if (valid !== 'auto') {
    const why = valid === 'cpu' ? '' : missing(valid);
    if (why) throw new Error(`execution provider '${valid}' is ${why}`);
    return { candidates: [valid], skipped: [] };
  }
  const candidates: ExecutionProviderName[] = [];
  const skipped: EpSkip[] = [];
  for (const ep of AUTO_ORDER) {
    const why = ep === 'cpu' ? '' : missing(ep);
    if (why) skipped.push({ ep, reason: why });
    else candidates.push(ep);
  }
  return { candidates, skipped };
}

export interface EpSessionOptions {
  deviceId?: number;
  /** Let nodes without a GPU kernel run on the CPU EP (default false: fail loudly instead). */
  allowCpuFallback?: boolean;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  externalData?: readonly InMemoryExternalData[];
  /** Directory that external data locations are relative to, when the model is given as bytes. */
  modelDir?: string;
  preferredOutputLocation?: 'cpu' | 'gpu-buffer' | Readonly<Record<string, 'cpu' | 'gpu-buffer'>>;
  /** Have ORT save the optimized model here (big initializers go to `optimizedWeightsFileName`). */
  optimizedModelFilePath?: string;
  optimizedWeightsFileName?: string;
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** More `session.*` config entries (values are strings in the node binding). */
  sessionConfig?: Readonly<Record<string, string>>;
}

/** ORT session options for one EP. */
export function buildSessionOptions(
  ep: ExecutionProviderName,
  opts: EpSessionOptions = {},
): InferenceSession.SessionOptions {
  const entry = EXECUTION_PROVIDERS[ep];
  if (!entry)
    throw new Error(
      `unknown execution provider '${ep}'; valid: ${Object.keys(EXECUTION_PROVIDERS).join(', ')}`,
    );
  const config = entry.takesDeviceId
    ? { name: entry.ortName, deviceId: opts.deviceId ?? 0 }
    : { name: entry.ortName };
  const session: Record<string, string> = { ...opts.sessionConfig };
  // Only with a GPU EP first: with the CPU EP alone this setting refuses every graph.
  if (entry.gpu && !opts.allowCpuFallback) session.disable_cpu_ep_fallback = '1';
  if (opts.modelDir) session.model_external_initializers_file_folder_path = opts.modelDir;
  if (opts.optimizedModelFilePath && opts.optimizedWeightsFileName) {
    session.optimized_model_external_initializers_file_name = opts.optimizedWeightsFileName;
    session.optimized_model_external_initializers_min_size_in_bytes = '1024';
  }
  const o: InferenceSession.SessionOptions = {
    executionProviders: [config],
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
  };
  if (opts.intraOpNumThreads) o.intraOpNumThreads = opts.intraOpNumThreads;
  if (opts.interOpNumThreads) o.interOpNumThreads = opts.interOpNumThreads;
  if (opts.externalData?.length)
    o.externalData = opts.externalData.map((e) => ({ path: e.path, data: e.data }));
  if (opts.preferredOutputLocation) o.preferredOutputLocation = opts.preferredOutputLocation;
  if (opts.optimizedModelFilePath) o.optimizedModelFilePath = opts.optimizedModelFilePath;
  if (opts.logSeverityLevel !== undefined) o.logSeverityLevel = opts.logSeverityLevel;
  if (Object.keys(session).length) o.extra = { session };
  return o;
}

export interface FallbackResult<T> {
  value: T;
  ep: ExecutionProviderName;
  /** Every EP not used: skipped by the plan or failed to start, with the reason. */
  skipped: EpSkip[];
}

/** Try each candidate in order; the first that starts wins, the failures are recorded. */
/**
 * EPs whose *device* could not start in this process (no WebGPU adapter, CUDA libraries missing,
 * no D3D12 device). Such a failure does not depend on the graph, so `auto` skips the EP for the
 * rest of the process instead of paying the failed start again on every session.
 */
const unavailableDevices = new Map<ExecutionProviderName, string>();

const DEVICE_FAILURE_PATTERNS: readonly RegExp[] = [
  /Failed to get a WebGPU adapter/i,
  /No supported adapters/i,
  /Failed to load library.*providers_(cuda|tensorrt)/i,
  /CUDA driver version is insufficient|no CUDA-capable device/i,
  /DXGI_ERROR|D3D12CreateDevice/i,
];

export function isDeviceUnavailableError(message: string): boolean {
  return DEVICE_FAILURE_PATTERNS.some((re) => re.test(message));
}

/** Forget remembered device failures (tests; or after the user installs a driver). */
export function resetUnavailableDevices(): void {
  unavailableDevices.clear();
}

export async function createWithFallback<T>(
  plan: EpPlan,
  attempt: (ep: ExecutionProviderName) => Promise<T>,
): Promise<FallbackResult<T>> {
  const skipped: EpSkip[] = [...plan.skipped];
  const single = plan.candidates.length === 1;
  for (const ep of plan.candidates) {
    const known = unavailableDevices.get(ep);
    if (known && !single) {
      skipped.push({ ep, reason: `device unavailable (remembered): ${known}` });
      continue;
    }
    try {
      return { value: await attempt(ep), ep, skipped };
    } catch (e) {
      const first = (e as Error).message.split('\n')[0];
      if (isDeviceUnavailableError((e as Error).message)) unavailableDevices.set(ep, first);
      // One EP asked for: its own error says it best.
      if (single) throw e;
      skipped.push({ ep, reason: `session creation failed: ${first}` });
    }
  }
  throw new Error(
    `no execution provider could start the session; tried ${plan.candidates.join(', ') || 'none'}:\n  ` +
      skipped.map((s) => `${s.ep}: ${s.reason}`).join('\n  '),
  );
}
