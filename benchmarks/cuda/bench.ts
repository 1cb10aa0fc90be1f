/**
 * Times our CUDA kernels on the GPU machine: kernel time (CUDA events around each launch,
 * fresh random device data each iteration, warm-up, medians) per shape and precision, and
 * the whole TF.js call on `cpu` with the CUDA kernels registered (host copies included)
 * against the copy floor measured with the same pageable copies. Kernel times come from the
 * bench build (bench_addon.ts). Writes JSON to argv[2].
 */
import {writeFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {useCudaKernels} from '../../kernels/cuda/index';
import {LowerTriangularMask, scaledDotProductAttention, WindowBias} from '../../src/index';
import {median} from '../stats';
import {loadBenchAddon} from './bench_addon';
import {benchSpec, BenchShape, SHAPES} from './shapes';

const PRECISIONS = [['tf32', 1], ['highest', 0], ['bf16', 2]] as const;

/** Median wall time of the op through TF.js (inputs read from cpu, copied, kernel, copied back). */
function timeWholeCall(s: BenchShape, iterations: number): number {
  const S = s.seq;
  const shape = [s.batch, s.heads, S, s.headDim];
  const times: number[] = [];
  for (let it = 0; it < iterations + 2; it++) {
    tf.tidy(() => {
      const q = tf.randomNormal(shape), k = tf.randomNormal(shape), v = tf.randomNormal(shape);
      const bias = s.windows ?
          [tf.randomNormal([1, s.heads, S, S]), new WindowBias(tf.randomNormal([s.windows, 1, S, S]))] :
                               s.causal ? [new LowerTriangularMask()] : [];
      q.dataSync();  // materialize the inputs before timing
      const start = performance.now();
      const out = scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, {bias});
      out.dataSync();
      if (it >= 2) times.push(performance.now() - start);
    });
  }
  return median(times);
}

function main(): void {
  const load = loadBenchAddon();
  if (load.addon == null) throw new Error(load.reason);
  const addon = load.addon;
  const kernels: Record<string, unknown>[] = [];
  for (const s of SHAPES) {
    for (const [precision, code] of PRECISIONS) {
      // From an empty pool, the pool afterwards holds every device buffer of one forward +
      // backward (inputs, outputs, gradients and the kernels' scratch): its peak footprint.
      addon.releasePool();
      const t = addon.timeKernels(benchSpec(s, code), {iterations: 30, warmup: 5, backward: true});
      const row = {shape: s.name, precision, forwardMs: median(t.forwardMs), backwardMs: median(t.backwardMs),
                   deviceBytes: addon.memory().pooledBytes};
      console.log(JSON.stringify(row));
      kernels.push(row);
    }
  }
  const result = {device: addon.device(), kernels, calls: [] as Record<string, unknown>[]};
  const output = process.argv[2] ?? 'cuda_bench.json';
  // BENCH_KERNELS_ONLY: kernel times alone, e.g. for a kernel variant.
  if (process.env.BENCH_KERNELS_ONLY) {
    writeFileSync(output, JSON.stringify(result, null, 1));
    return;
  }
  tf.setBackend('cpu');
  useCudaKernels({backend: 'cpu', precision: 'tf32'});
  for (const s of [SHAPES[0], SHAPES[3]]) {
    const S = s.seq, n = s.batch * s.heads * S * s.headDim;
    const upBytes = 4 * (3 * n + (s.windows ? (s.heads + s.windows) * S * S : 0));
    const downBytes = 4 * (n + s.batch * s.heads * S);
    const up = addon.copyTimes(upBytes, 10), down = addon.copyTimes(downBytes, 10);
    const floorMs = median(up.hostToDeviceMs) + median(down.deviceToHostMs);
    const wholeCallMs = timeWholeCall(s, s.windows ? 5 : 10);
    const row = {shape: s.name, wholeCallMs, copyFloorMs: floorMs, upBytes, downBytes};
    console.log(JSON.stringify(row));
    result.calls.push(row);
  }
  writeFileSync(output, JSON.stringify(result, null, 1));
}

main();
