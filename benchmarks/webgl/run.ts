/**
 * `npm run bench:webgl`: benchmarks/webgl/bench.ts in headless Chromium (benchmarks/browser_run.ts),
 * written to the 'webgl' section of benchmarks/RESULTS.md. With BENCH_WEBGL_ONLY set to a
 * shape's label (e.g. `BENCH_WEBGL_ONLY='[1,8,1024,64]'`), only that shape runs and the table
 * is printed, not written (a quicker check while tuning the kernels).
 */
import {main} from '../browser_run';

main({
  backend: 'webgl',
  benchVariable: '1',
  onlyVariable: 'BENCH_WEBGL_ONLY',
  // Issue 3's targets.
  targets: {forward: 1.5, forwardBackward: 1.2},
  gpuLine: env => `WebGL ${env.webglVersion ?? '?'} on "${env.renderer ?? 'unknown renderer'}"`,
  programWord: 'shader pass',
  gpuWord: 'renderer',
});
