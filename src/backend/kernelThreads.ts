/**
 * How many threads the native kernels split each call over (native/kernels.c's pool). They give
 * the same bits for every count, so this is a speed setting only. One process-wide pool: the main
 * thread sets it; data-parallel gradient workers (worker threads) never change it.
 */
import * as os from 'os';
import { ConfigError } from '../errors';
import { nativeKernels } from './nativeKernels';

/** Cores this process may use (os.availableParallelism where Node has it). */
export function availableCores(): number {
  const osWithParallelism = os as typeof os & { availableParallelism?: () => number };
  return osWithParallelism.availableParallelism?.() ?? os.cpus().length;
}

/** `LATEPHASE_THREADS` (a positive count), else every core this process may use. */
export function defaultKernelThreads(raw: string | undefined = process.env['LATEPHASE_THREADS']): number {
  if (raw === undefined || raw.trim() === '') return availableCores();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new ConfigError(`LATEPHASE_THREADS must be a whole number from 1 to 64 (got '${raw}')`);
  return n;
}

let current = 1;

/**
 * Split each native kernel call over `threads` threads (the caller included) from now on; returns
 * the count running: 1 where the native kernels are not loaded.
 */
export function useKernelThreads(threads: number): number {
  const native = nativeKernels();
  current = native instanceof Error ? 1 : native.setThreads(threads);
  return current;
}

/** The threads the native kernels use now. */
export function kernelThreads(): number {
  return current;
}
