// Which ONNX Runtime execution providers this build of onnxruntime-node can offer.
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

export function listProviders(): ProviderAvailability[] {
  const backends = new Map(listSupportedBackends().map((b) => [b.name, b.bundled]));
  return (Object.keys(REQUIREMENTS) as ExecutionProviderName[]).map((name) => ({
    name,
    bundled: backends.get(name) === true,
    installed: backends.has(name),
    requirement: REQUIREMENTS[name],
  }));
}
