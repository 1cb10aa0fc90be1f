/**
 * `npm run bench:webgpu`: benchmarks/webgpu/bench.ts in headless Chromium (benchmarks/browser_run.ts),
 * written to the 'webgpu' section of benchmarks/RESULTS.md. With BENCH_WEBGPU_ONLY set to a
 * shape's label (e.g. `BENCH_WEBGPU_ONLY='[1,8,256,64]'`), only that shape runs and the table
 * is printed, not written.
 */
import {main} from '../browser_run';

main({
  backend: 'webgpu',
  benchVariable: 'webgpu',
  onlyVariable: 'BENCH_WEBGPU_ONLY',
  // Issue 20's targets.
  targets: {forward: 2, forwardBackward: 1.5},
  gpuLine: env => `WebGPU adapter "${env.adapter ?? 'unknown'}"`,
  programWord: 'program',
  gpuWord: 'adapter',
});
