/**
 * The browser half of `npm run bench:webgl` (bundled and run by Karma with BENCH=1): fused
 * vs composed attention on the webgl backend, side by side in one page. Each result row
 * is printed as `BENCH_ROW:<uri-encoded JSON>` for benchmarks/webgl/run.ts to collect.
 */
import * as tf from '@tensorflow/tfjs';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {attentionImplementation} from '../../src/index';
import {
  composedBaseline, forward, forwardBackward, fusedAttention, ioBytes, medianMsInTurns, randomInputs,
} from '../harness';
import {REPS, WARMUP, WebGLBenchRow} from './settings';

const CASES: {label: string, shape: number[], bias?: number[]}[] = [
  {label: '[1,8,256,64]', shape: [1, 8, 256, 64]},
  {label: '[1,8,1024,64]', shape: [1, 8, 1024, 64]},
  {label: '[256,3,49,32] + bias [1,3,49,49]', shape: [256, 3, 49, 32], bias: [1, 3, 49, 49]},
];

/** The cases to run: the one labelled BENCH_WEBGL_ONLY (karma.conf.js passes it), else all. */
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
 * Peak GPU bytes above those held before the call. tf.profile does not see textures a
 * kernel frees before returning, so numBytesInGPU is sampled after every shader pass.
 */
async function extraPeakGpuBytes(run: () => Promise<void>): Promise<number> {
  const backend = tf.backend() as MathBackendWebGL;
  const gpuBytes = () => (tf.memory() as unknown as {numBytesInGPU: number}).numBytesInGPU;
  const before = gpuBytes();
  let peak = before;
  const runProgram = backend.runWebGLProgram;
  backend.runWebGLProgram = function(...args: Parameters<MathBackendWebGL['runWebGLProgram']>) {
    const output = runProgram.apply(this, args);
    peak = Math.max(peak, gpuBytes());
    return output;
  };
  try {
    await run();
  } finally {
    backend.runWebGLProgram = runProgram;
  }
  return peak - before;
}

describe('webgl attention benchmark', () => {
  it('fused vs composed', async () => {
    await tf.setBackend('webgl');
    const gl = (tf.backend() as MathBackendWebGL).gpgpu.gl;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    report('BENCH_ENV', {
      renderer: info != null ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
      webglVersion: tf.env().getNumber('WEBGL_VERSION'),
      cpus: navigator.hardwareConcurrency,
      userAgent: navigator.userAgent,
    });
    for (const c of selectedCases()) {
      const x = randomInputs(c.shape, c.bias);
      const dispatch = attentionImplementation(x.q, x.k, x.v, {bias: x.bias});
      if (dispatch.implementation !== 'webgl-fused') {
        throw new Error(`${c.label} does not run fused: ${JSON.stringify(dispatch.reasons)}`);
      }
      for (const pass of ['forward', 'forward+backward'] as const) {
        const run = pass === 'forward' ? forward : forwardBackward;
        const [fusedMs, composedMs] = await medianMsInTurns(
            [() => run(fusedAttention, x), () => run(composedBaseline, x)], WARMUP, REPS);
        const row: WebGLBenchRow = {
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
