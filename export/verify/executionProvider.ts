/**
 * Which onnxruntime execution provider verification runs on. CPU is the default. Asking for CUDA
 * where its provider library is not installed is an error naming the fix, unless the caller
 * explicitly allows a CPU fallback, which is then recorded in the report: never a silent switch.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '../../src/errors';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface ProviderChoice {
  readonly requested: ExecutionProviderName;
  readonly used: ExecutionProviderName;
  /** Why `used` differs from `requested`, when it does. */
  readonly fallbackReason?: string;
}

/** The one way to add onnxruntime-node's CUDA 12 provider (the same in README.md and .npmrc; tested). */
export const CUDA_INSTALL_COMMAND = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false';

const CUDA_INSTALL_HINT = `install the CUDA 12 provider with \`${CUDA_INSTALL_COMMAND}\` (needs CUDA 12 + cuDNN 9 and internet), or pass --allow-cpu-fallback`;

/** Directory holding onnxruntime-node's native binding, where its optional CUDA provider lands. */
function bindingDirectory(): string | null {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const bin = path.join(root, 'bin');
  if (!fs.existsSync(bin)) return null;
  for (const napi of fs.readdirSync(bin)) {
    const dir = path.join(bin, napi, process.platform, process.arch);
    if (fs.existsSync(dir)) return dir;
  }
  return null;
}

export function cudaProviderInstalled(): boolean {
  const dir = bindingDirectory();
  return dir !== null && fs.existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'));
}

export function parseProvider(value: string): ExecutionProviderName {
  const v = value.trim().toLowerCase();
  if (v === 'cpu' || v === 'cuda') return v;
  throw new ConfigError(`execution provider '${value}' is not supported; use cpu or cuda`);
}

export function chooseProvider(requested: ExecutionProviderName, allowCpuFallback: boolean): ProviderChoice {
  if (requested === 'cpu' || cudaProviderInstalled()) return { requested, used: requested };
  const reason = 'the onnxruntime-node CUDA execution provider is not installed (libonnxruntime_providers_cuda.so missing)';
  if (!allowCpuFallback) throw new ConfigError(`${reason}: ${CUDA_INSTALL_HINT}`);
  return { requested, used: 'cpu', fallbackReason: reason };
}
