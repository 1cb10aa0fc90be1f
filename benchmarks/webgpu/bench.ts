/**
 * The browser half of `npm run bench:webgpu` (bundled and run by Karma with BENCH=webgpu):
 * fused vs composed attention on the webgpu backend, side by side in one page. Each result
 * row is printed as `BENCH_ROW:<uri-encoded JSON>` for benchmarks/webgpu/run.ts to collect.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import type {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {attentionImplementation} from '../../src/index';
import {
  composedBaseline, forward, forwardBackward, fusedAttention, ioBytes, medianMsInTurns, randomInputs,
} from '../harness';
import {REPS, WARMUP, WebGPUBenchRow} from './settings';

const CASES: {label: string, shape: number[], bias?: number[]}[] = [
  {label: '[1,8,256,64]', shape: [1, 8, 256, 64]},
  {label: '[1,8,1024,64]', shape: [1, 8, 1024, 64]},
  {label: '[256,3,49,32] + bias [1,3,49,49]', shape: [256, 3, 49, 32], bias: [1, 3, 49, 49]},
];

/** The cases to run: the one labelled BENCH_WEBGPU_ONLY (karma.conf.js passes it), else all. */
function selectedCases(): typeof CASES {
  const [only] = ((window as unknown as {__karma__: {config: {args?: string[]}}}).__karma__.config.args ?? []);
  const cases = CASES.filter(c => only == null || c.label === only);
  if (cases.length === 0) throw new Error(`no benchmark case is labelled ${only}`);
  return cases;
}

function report(kind: string, value: unknown): void {
  console.log(`${kind}:${encodeURIComponent(JSON.stringify(value))}`);
}

/**
 * Peak GPU bytes above those held before the call, sampled after every program (a kernel's
 * temporaries are freed before it returns, so tf.profile does not see them).
 */
async function extraPeakGpuBytes(run: () => Promise<void>): Promise<number> {
  const backend = tf.backend() as WebGPUBackend;
  const gpuBytes = () => (tf.memory() as unknown as {numBytesInGPU: number}).numBytesInGPU;
  const before = gpuBytes();
  let peak = before;
  const runProgram = backend.runWebGPUProgram;
  backend.runWebGPUProgram = function(...args: Parameters<WebGPUBackend['runWebGPUProgram']>) {
    const output = runProgram.apply(this, args);
    peak = Math.max(peak, gpuBytes());
    return output;
  };
  try {
    await run();
  } finally {
    backend.runWebGPUProgram = runProgram;
  }
  return peak - before;
}

describe('webgpu attention benchmark', () => {
  it('fused vs composed', async () => {
    if (!await tf.setBackend('webgpu')) throw new Error('the webgpu backend did not initialize');
    const adapter = (tf.backend() as unknown as {adapterInfo?: {vendor?: string, architecture?: string}}).adapterInfo;
    report('BENCH_ENV', {
      adapter: [adapter?.vendor, adapter?.architecture].filter(Boolean).join(' ') || 'unknown adapter',
      cpus: navigator.hardwareConcurrency,
      userAgent: navigator.userAgent,
    });
    for (const c of selectedCases()) {
      const x = randomInputs(c.shape, c.bias);
      const dispatch = attentionImplementation(x.q, x.k, x.v, {bias: x.bias});
      if (dispatch.implementation !== 'webgpu-fused') {
        throw new Error(`${c.label} does not run fused: ${JSON.stringify(dispatch.reasons)}`);
      }
      for (const pass of ['forward', 'forward+backward'] as const) {
        const run = pass === 'forward' ? forward : forwardBackward;
        const [fusedMs, composedMs] = await medianMsInTurns(
            [() => run(fusedAttention, x), () => run(composedBaseline, x)], WARMUP, REPS);
        const row: WebGPUBenchRow = {
          label: c.label,
          pass,
          fusedMs,
          composedMs,
          fusedExtraBytes: await extraPeakGpuBytes(() => run(fusedAttention, x)),
          composedExtraBytes: await extraPeakGpuBytes(() => run(composedBaseline, x)),
          ioBytes: ioBytes(x),
        };
        report('BENCH_ROW', row);
      }
      tf.dispose(Object.values(x));
    }
  });
});
