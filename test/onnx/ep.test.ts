import { describe, expect, it } from 'vitest';
import {
  AUTO_ORDER,
  buildSessionOptions,
  createWithFallback,
  EXECUTION_PROVIDERS,
  isDeviceUnavailableError,
  resetUnavailableDevices,
  listProviders,
  resolveExecutionProviders,
  Session,
} from '../../core/onnx/index.js';
import { graphOf, node, vi } from './helpers.js';

const tiny = graphOf({
  inputs: [vi('x', 'float32', [2])],
  outputs: [vi('y', 'float32', [2])],
  nodes: [node('Relu', ['x'], ['y'])],
});

describe('execution provider table and choice', () => {
  it('is frozen and refuses unknown names, listing the valid ones', () => {
    expect(Object.isFrozen(EXECUTION_PROVIDERS)).toBe(true);
    expect(Object.isFrozen(EXECUTION_PROVIDERS.cuda)).toBe(true);
    expect(AUTO_ORDER).toEqual(['cuda', 'dml', 'webgpu', 'cpu']);
    expect(() => resolveExecutionProviders('tpu')).toThrow(
      "unknown execution provider 'tpu'; valid: auto, cuda, dml, webgpu, cpu",
    );
  });

  it('auto keeps the installed EPs in speed order and says why the others are skipped', () => {
    const plan = resolveExecutionProviders('auto', { installed: ['cpu', 'webgpu'] });
    expect(plan.candidates).toEqual(['webgpu', 'cpu']);
    expect(plan.skipped.map((s) => s.ep)).toEqual(['cuda', 'dml']);
    expect(plan.skipped[0].reason).toMatch(/not installed/);
    expect(resolveExecutionProviders('auto', { installed: [] }).candidates).toEqual(['cpu']);
    expect(resolveExecutionProviders('cpu', { installed: [] })).toEqual({
      candidates: ['cpu'],
      skipped: [],
    });
  });

  it('an explicit EP that is not installed fails with what it needs', () => {
    expect(() => resolveExecutionProviders('cuda', { installed: ['cpu'] })).toThrow(
      /'cuda' is not installed/,
    );
    const cuda = listProviders().find((p) => p.name === 'cuda')!;
    if (!cuda.installed)
      expect(() => resolveExecutionProviders('cuda')).toThrow(/CUDA 12 and cuDNN 9/);
  });

  it('lists providers with cpu always installed and bundled', () => {
    const providers = listProviders();
    expect(providers.map((p) => p.name)).toEqual(['cuda', 'dml', 'webgpu', 'cpu']);
    expect(providers.find((p) => p.name === 'cpu')).toMatchObject({
      bundled: true,
      installed: true,
    });
    // Not bundled means a download at install time; only count it when its library is there.
    for (const p of providers) if (p.bundled) expect(p.installed).toBe(true);
  });
});

describe('session options builder', () => {
  it('disables the silent CPU fallback on GPU EPs only', () => {
    for (const ep of ['cuda', 'dml', 'webgpu'] as const) {
      const o = buildSessionOptions(ep);
      expect(o.extra).toEqual({ session: { disable_cpu_ep_fallback: '1' } });
      expect(buildSessionOptions(ep, { allowCpuFallback: true }).extra).toBeUndefined();
    }
    expect(buildSessionOptions('cpu').extra).toBeUndefined();
  });

  it('maps names to ORT EP configs and session config entries', () => {
    expect(buildSessionOptions('cuda', { deviceId: 1 }).executionProviders).toEqual([
      { name: 'cuda', deviceId: 1 },
    ]);
    expect(buildSessionOptions('dml').executionProviders).toEqual([{ name: 'dml', deviceId: 0 }]);
    expect(buildSessionOptions('webgpu').executionProviders).toEqual([{ name: 'webgpu' }]);
    const o = buildSessionOptions('cpu', {
      modelDir: '/models',
      optimizedModelFilePath: '/cache/x/model.onnx',
      optimizedWeightsFileName: 'weights.bin',
      graphOptimizationLevel: 'extended',
      intraOpNumThreads: 2,
      preferredOutputLocation: { y: 'gpu-buffer' },
      sessionConfig: { use_env_allocators: '1' },
    });
    expect(o).toMatchObject({
      executionProviders: [{ name: 'cpu' }],
      graphOptimizationLevel: 'extended',
      intraOpNumThreads: 2,
      optimizedModelFilePath: '/cache/x/model.onnx',
      preferredOutputLocation: { y: 'gpu-buffer' },
      extra: {
        session: {
          use_env_allocators: '1',
          model_external_initializers_file_folder_path: '/models',
          optimized_model_external_initializers_file_name: 'weights.bin',
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    });
  });

  it('the fallback switch reaches ORT: with the CPU EP alone it refuses the graph', async () => {
    await expect(
      Session.create(tiny, { ep: 'cpu', sessionConfig: { disable_cpu_ep_fallback: '1' } }),
    ).rejects.toThrow(/fallback to CPU EP has been explicitly disabled/);
  });
});

describe('creation with fallback', () => {
  it('records why each EP failed and returns the first that starts', async () => {
    const tried: string[] = [];
    const res = await createWithFallback(
      { candidates: ['cuda', 'webgpu', 'cpu'], skipped: [{ ep: 'dml', reason: 'not installed' }] },
      async (ep) => {
        tried.push(ep);
        if (ep !== 'cpu') throw new Error(`${ep} has no device\nsecond line`);
        return 42;
      },
    );
    expect(res).toEqual({
      value: 42,
      ep: 'cpu',
      skipped: [
        { ep: 'dml', reason: 'not installed' },
        { ep: 'cuda', reason: 'session creation failed: cuda has no device' },
        { ep: 'webgpu', reason: 'session creation failed: webgpu has no device' },
      ],
    });
    expect(tried).toEqual(['cuda', 'webgpu', 'cpu']);
  });

  it('remembers a device that cannot start, so auto does not pay for it again', async () => {
    resetUnavailableDevices();
    const tried: string[] = [];
    const attempt = async (ep: string) => {
      tried.push(ep);
      if (ep === 'webgpu') throw new Error('Failed to get a WebGPU adapter: No supported adapters');
      if (ep === 'cuda') throw new Error('graph-specific failure: missing kernel');
      return ep;
    };
    const plan = { candidates: ['cuda', 'webgpu', 'cpu'] as const, skipped: [] };
    await createWithFallback({ ...plan, candidates: [...plan.candidates] }, attempt);
    const second = await createWithFallback({ ...plan, candidates: [...plan.candidates] }, attempt);
    // cuda failed for a graph-specific reason: tried again; webgpu's device failure: skipped.
    expect(tried).toEqual(['cuda', 'webgpu', 'cpu', 'cuda', 'cpu']);
    expect(second.skipped.find((s) => s.ep === 'webgpu')?.reason).toMatch(/device unavailable/);
    // Asking for that EP alone still tries it, so its own error reaches the user.
    await expect(
      createWithFallback({ candidates: ['webgpu'], skipped: [] }, attempt),
    ).rejects.toThrow(/WebGPU adapter/);
    expect(isDeviceUnavailableError('missing kernel for op Foo')).toBe(false);
    resetUnavailableDevices();
  });

  it('fails listing every reason when nothing starts', async () => {
    const fail = createWithFallback({ candidates: ['webgpu', 'cpu'], skipped: [] }, async (ep) => {
      throw new Error(`${ep} broke`);
    });
    await expect(fail).rejects.toThrow(
      /tried webgpu, cpu:\n {2}webgpu: session creation failed: webgpu broke\n {2}cpu: session creation failed: cpu broke/,
    );
  });

  it("'auto' on this machine ends on an EP that runs, and reports the others", async () => {
    const s = await Session.create(tiny, { ep: 'auto' });
    const installed = new Set(
      listProviders()
        .filter((p) => p.installed)
        .map((p) => p.name),
    );
    expect(AUTO_ORDER).toContain(s.executionProvider);
    const reported = new Set([s.executionProvider, ...s.info.skippedProviders.map((k) => k.ep)]);
    // Every EP ahead of the chosen one is accounted for.
    for (const ep of AUTO_ORDER.slice(0, AUTO_ORDER.indexOf(s.executionProvider as 'cpu')))
      expect(reported.has(ep)).toBe(true);
    for (const k of s.info.skippedProviders) {
      expect(k.reason).toMatch(installed.has(k.ep) ? /session creation failed/ : /not installed/);
    }
    const out = await s.run({
      x: { dtype: 'float32', shape: [2], data: new Float32Array([-1, 3]) },
    });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, 3]);
    await s.release();
  });
});
