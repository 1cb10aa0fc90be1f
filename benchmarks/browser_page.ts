/**
 * The page side of the browser benchmarks (benchmarks/webgl/bench.ts, benchmarks/webgpu/bench.ts):
 * fused vs composed attention on one backend, side by side in one page. Each result row is
 * printed as `BENCH_ROW:<uri-encoded JSON>` for browser_run.ts to collect.
 */
import * as tf from '@tensorflow/tfjs';
import {attentionImplementation} from '../src/index';
import {
  composedBaseline, forward, forwardBackward, fusedAttention, ioBytes, medianMsInTurns, randomInputs,
} from './harness';
import {BrowserBackend, BrowserBenchRow, ROUNDS} from './browser_settings';

const CASES: {label: string, shape: number[], bias?: number[]}[] = [
  {label: '[1,8,256,64]', shape: [1, 8, 256, 64]},
  {label: '[1,8,1024,64]', shape: [1, 8, 1024, 64]},
  {label: '[256,3,49,32] + bias [1,3,49,49]', shape: [256, 3, 49, 32], bias: [1, 3, 49, 49]},
];

/** The cases to run: the one labelled BENCH_WEBGL_ONLY or BENCH_WEBGPU_ONLY (karma.conf.js passes it), else all. */
function selectedCases(): typeof CASES {
  const [only] = ((window as unknown as {__karma__: {config: {args?: string[]}}}).__karma__.config.args ?? []);
  const cases = CASES.filter(c => only == null || c.label === only);
  if (cases.length === 0) throw new Error(`no benchmark case is labelled ${only}`);
  return cases;
}

function report(kind: string, value: unknown): void {
  console.log(`${kind}:${encodeURIComponent(JSON.stringify(value))}`);
}

export interface BrowserBenchPage {
  backend: BrowserBackend;
  /** The backend's method that runs one shader program (runWebGLProgram, runWebGPUProgram). */
  runProgramMethod: string;
  /** What the page reports of its GPU, printed as BENCH_ENV (cpus and userAgent are added). */
  environment: () => Record<string, unknown>;
}

/**
 * Peak GPU bytes above those held before the call, sampled after every program: tf.profile
 * does not see the temporaries a kernel frees before it returns.
 */
async function extraPeakGpuBytes(runProgramMethod: string, run: () => Promise<void>): Promise<number> {
  const backend = tf.backend() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const gpuBytes = () => (tf.memory() as unknown as {numBytesInGPU: number}).numBytesInGPU;
  const before = gpuBytes();
  let peak = before;
  const runProgram = backend[runProgramMethod];
  backend[runProgramMethod] = function(this: unknown, ...args: unknown[]) {
    const output = runProgram.apply(this, args);
    peak = Math.max(peak, gpuBytes());
    return output;
  };
  try {
    await run();
  } finally {
    backend[runProgramMethod] = runProgram;
  }
  return peak - before;
}

/** The page's mocha suite: every selected case, forward and forward+backward, fused vs composed. */
export function describeBrowserBenchmark(page: BrowserBenchPage): void {
  const {warmup, reps} = ROUNDS[page.backend];
  describe(`${page.backend} attention benchmark`, () => {
    it('fused vs composed', async () => {
      if (!await tf.setBackend(page.backend)) throw new Error(`the ${page.backend} backend did not initialize`);
      report('BENCH_ENV', {...page.environment(), cpus: navigator.hardwareConcurrency, userAgent: navigator.userAgent});
      for (const c of selectedCases()) {
        const x = randomInputs(c.shape, c.bias);
        const dispatch = attentionImplementation(x.q, x.k, x.v, {bias: x.bias});
        if (dispatch.implementation !== `${page.backend}-fused`) {
          throw new Error(`${c.label} does not run fused: ${JSON.stringify(dispatch.reasons)}`);
        }
        for (const pass of ['forward', 'forward+backward'] as const) {
          const run = pass === 'forward' ? forward : forwardBackward;
          const [fusedMs, composedMs] = await medianMsInTurns(
              [() => run(fusedAttention, x), () => run(composedBaseline, x)], warmup, reps);
          const row: BrowserBenchRow = {
            label: c.label,
            pass,
            fusedMs,
            composedMs,
            fusedExtraBytes: await extraPeakGpuBytes(page.runProgramMethod, () => run(fusedAttention, x)),
            composedExtraBytes: await extraPeakGpuBytes(page.runProgramMethod, () => run(composedBaseline, x)),
            ioBytes: ioBytes(x),
          };
          report('BENCH_ROW', row);
        }
        tf.dispose(Object.values(x));
      }
    });
  });
}
