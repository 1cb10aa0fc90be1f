/**
 * What the TensorFlow GPU kernels' ordering costs (kernels/tensorflow/gpu/gpu_kernels.cc: the
 * device synchronized before each call, the kernels' stream after): host wall time per call of
 * the device-pointer entry, calls queued back to back against calls synchronized so, at 'tf32',
 * beside the kernel time (CUDA events). Bench build; writes JSON to argv[2].
 */
import {writeFileSync} from 'node:fs';
import {median} from '../stats';
import {loadBenchAddon} from './bench_addon';
import {benchSpec, SHAPES} from './shapes';

const ITERATIONS = 50;

function main(): void {
  const load = loadBenchAddon();
  if (load.addon == null) throw new Error(load.reason);
  const addon = load.addon;
  const rows: Record<string, unknown>[] = [];
  console.log('| shape | pass | kernel ms | queued ms/call | synchronized ms/call | cost ms | cost % |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const s of [SHAPES[0], SHAPES[2], SHAPES[3]]) {
    const spec = benchSpec(s, 1);
    const kernels = addon.timeKernels(spec, {iterations: ITERATIONS, warmup: 5, backward: true});
    const sync = addon.synchronizationTimes(spec, ITERATIONS);
    for (const pass of ['forward', 'backward'] as const) {
      const kernelMs = median(kernels[`${pass}Ms`]);
      const queuedMs = sync[`${pass}QueuedMs`];
      const synchronizedMs = median(sync[`${pass}SynchronizedMs`]);
      const costMs = synchronizedMs - queuedMs;
      rows.push({shape: s.name, pass, kernelMs, queuedMs, synchronizedMs, costMs});
      const cells = [kernelMs, queuedMs, synchronizedMs, costMs].map(ms => ms.toFixed(3));
      console.log(`| ${s.name} | ${pass} | ${cells.join(' | ')} | ${(100 * costMs / queuedMs).toFixed(1)} |`);
    }
  }
  writeFileSync(process.argv[2] ?? 'sync_cost.json', JSON.stringify({device: addon.device(), rows}, null, 1));
}

main();
