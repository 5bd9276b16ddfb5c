/**
 * Where a training step's time goes: `node dist/bench/profileStep.js [benchCnn|wrn16x4|benchMlp]
 * [batch] [steps] [threads]` runs the trainer's own path (as the bench rows do, one JS thread) under
 * tf.profile and prints, per tfjs kernel, its calls and milliseconds per step, and what is left of
 * the step outside any kernel (the tape, dispatch, the trainer's own work). Custom-gradient wrappers
 * (tfjs names them 'forward') are left out: the kernels inside them are counted. A kernel whose
 * implementation runs other kernels (our Mean override runs AvgPool) counts their time twice. Not a
 * benchmark: the profiler's bookkeeping adds to every kernel call, so read shares, not totals.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, describeBackend } from '../src/backend/selectBackend';
import { useKernelThreads } from '../src/backend/kernelThreads';
import { Model } from '../src/nn/model';
import * as benchModels from './benchModels';
import { median, trainingStepTimes } from './timing';

async function main(): Promise<void> {
  const [name = 'benchCnn', batchArg = '32', stepsArg = '30', threadsArg = '1'] = process.argv.slice(2);
  const make = (benchModels as unknown as Record<string, (() => Model) | undefined>)[name];
  if (!make) throw new Error(`unknown model ${name}; choose benchCnn, wrn16x4 or benchMlp`);
  const [batch, steps, threads] = [Number(batchArg), Number(stepsArg), Number(threadsArg)];
  const backend = await selectBackend('wasm');
  useKernelThreads(threads);
  console.log(`${describeBackend(backend, true)}; ${name} batch ${batch}, ${steps} steps, ${threads} kernel thread(s)`);
  const model = make();
  const plain = median(await trainingStepTimes(model, batch, steps, 0, 10));
  let profiled: number[] = [];
  const info = await tf.profile(async () => {
    profiled = await trainingStepTimes(model, batch, steps, 0, 0);
  });
  model.dispose();
  const byKernel = new Map<string, { calls: number; ms: number }>();
  // tf.customGrad's wrapper shows as 'forward' and times the kernels inside it, which are listed too
  for (const k of info.kernels.filter((k) => k.name !== 'forward')) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { calls: 0, ms: 0 };
    byKernel.set(k.name, { calls: e.calls + 1, ms: e.ms + ms });
  }
  // tf.profile covers the warm-up-free run: data set-up and the first step's compiles included, so
  // per-step shares use the profiled steps' total.
  const total = profiled.reduce((a, b) => a + b, 0);
  const inKernels = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
  console.log(`step without the profiler (median): ${plain.toFixed(2)} ms; with it: ${(total / profiled.length).toFixed(2)} ms`);
  console.log('kernel                       calls/step   ms/step   share');
  for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    if (v.ms / total < 0.002) continue;
    console.log(
      `${k.padEnd(28)} ${(v.calls / steps).toFixed(1).padStart(10)} ${(v.ms / steps).toFixed(3).padStart(9)} ${((100 * v.ms) / total).toFixed(1).padStart(6)}%`,
    );
  }
  const calls = [...byKernel.values()].reduce((a, b) => a + b.calls, 0);
  console.log(
    `all kernels: ${(calls / steps).toFixed(0)} calls/step, ${(inKernels / steps).toFixed(2)} ms/step (${((100 * inKernels) / total).toFixed(1)}%)`,
  );
  console.log(
    `outside kernels (tape, dispatch, trainer): ${((total - inKernels) / steps).toFixed(2)} ms/step (${((100 * (total - inKernels)) / total).toFixed(1)}%)`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
