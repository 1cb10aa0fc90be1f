/**
 * The bench build of the CUDA addon (tfjs_attention_cuda_bench.node beside the addon, built by
 * `node kernels/cuda/build.mjs --bench`): the addon's device facts and pool, the benchmark's
 * timers, and the device-pointer entry run as TensorFlow's GPU kernels run it. Not shipped.
 */
import {existsSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {CudaAddonBase, NativeSpec} from '../../kernels/cuda/addon';

export interface BenchAddon extends CudaAddonBase {
  maxHeadDim: number;
  /** Kernel times (CUDA events) on fresh random device data, ms per iteration. */
  timeKernels(spec: NativeSpec, options: {iterations: number, warmup: number, backward: boolean}):
      {forwardMs: number[], backwardMs: number[]};
  /** Pageable copy times, ms. */
  copyTimes(bytes: number, iterations: number): {hostToDeviceMs: number[], deviceToHostMs: number[]};
  /** Host wall time per call, queued back to back and with the device and stream synchronized around each. */
  synchronizationTimes(spec: NativeSpec, iterations: number): {
    forwardQueuedMs: number, backwardQueuedMs: number,
    forwardSynchronizedMs: number[], backwardSynchronizedMs: number[],
  };
  /** The device-pointer entry on device buffers, outputs and scratch poisoned with NaN, a stream of its own. */
  deviceForward(spec: NativeSpec, query: Float32Array, key: Float32Array, value: Float32Array,
                bias: Float32Array | null, windowBias: Float32Array | null): [Float32Array, Float32Array];
  deviceBackward(spec: NativeSpec, dy: Float32Array, query: Float32Array, key: Float32Array, value: Float32Array,
                 output: Float32Array, logsumexp: Float32Array, bias: Float32Array | null,
                 windowBias: Float32Array | null):
      [Float32Array, Float32Array, Float32Array, Float32Array | null, Float32Array | null];
}

/** TFJS_ATTENTION_CUDA_BENCH_ADDON, else build/Release/tfjs_attention_cuda_bench.node. */
export function benchAddonPath(): string {
  return process.env.TFJS_ATTENTION_CUDA_BENCH_ADDON ??
      join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'tfjs_attention_cuda_bench.node');
}

/** The bench build, or why it cannot be loaded. */
export function loadBenchAddon(): {addon: BenchAddon, reason?: undefined} | {addon?: undefined, reason: string} {
  const path = benchAddonPath();
  if (!existsSync(path)) return {reason: `the bench build is not built (${path}; node kernels/cuda/build.mjs --bench)`};
  try {
    const addon = createRequire(path)(path) as BenchAddon;
    addon.device();
    return {addon};
  } catch (e) {
    return {reason: `the bench build at ${path} cannot run: ${(e as Error).message}`};
  }
}
