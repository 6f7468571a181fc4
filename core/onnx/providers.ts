// Which ONNX Runtime execution providers this build of onnxruntime-node can offer.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';

export type ExecutionProviderName = 'cuda' | 'dml' | 'webgpu' | 'cpu';

export interface ProviderAvailability {
  name: ExecutionProviderName;
  /** Shipped inside onnxruntime-node (no extra download). */
  bundled: boolean;
  /** Present in this install (bundled, or installed via the CUDA opt-in). */
  installed: boolean;
  /** What a user needs for this provider to start. */
  requirement: string;
}

const REQUIREMENTS: Readonly<Record<ExecutionProviderName, string>> = Object.freeze({
  cuda: 'NVIDIA driver, CUDA 12 and cuDNN 9; install with ONNXRUNTIME_NODE_INSTALL=cuda12',
  dml: 'Windows 10+ with a DirectX 12 GPU',
  webgpu: 'a Vulkan (Linux), D3D12 (Windows) or Metal (macOS) capable GPU driver',
  cpu: 'nothing (always available)',
});

/** Directory of the native binding, where opt-in provider libraries are downloaded to. */
function bindingDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const dir = path.join(
      path.dirname(entry),
      '..',
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
    );
    return fs.existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A backend listed as not bundled (cuda) is only usable once its provider library was downloaded
 * at install time; listSupportedBackends lists it either way, so look for the file.
 */
function providerLibraryPresent(name: string): boolean {
  const dir = bindingDir();
  if (!dir) return true; // unknown layout (e.g. packaged app): let session creation decide
  const file =
    process.platform === 'win32'
      ? `onnxruntime_providers_${name}.dll`
      : `libonnxruntime_providers_${name}.so`;
  return fs.existsSync(path.join(dir, file));
}

export function listProviders(): ProviderAvailability[] {
  const backends = new Map(listSupportedBackends().map((b) => [b.name, b.bundled]));
  return (Object.keys(REQUIREMENTS) as ExecutionProviderName[]).map((name) => {
    const bundled = backends.get(name) === true || name === 'cpu';
    return {
      name,
      bundled,
      installed: bundled || (backends.has(name) && providerLibraryPresent(name)),
      requirement: REQUIREMENTS[name],
    };
  });
}
