/**
 * Browser tests on the `webgl` and `webgpu` backends: one esbuild bundle (setup and specs
 * share one tfjs-core engine) run by mocha in Debian's headless Chromium, with WebGL 2 and
 * WebGPU both on SwiftShader. `npm run bench:webgl` reuses this file with BENCH=1 (see
 * benchmarks/webgl/run.ts), `npm run bench:webgpu` with BENCH=webgpu. KARMA_ENTRY names
 * another entry file (e.g. one spec while developing it).
 */
import {mkdirSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
// karma-esbuild writes its entry into os.tmpdir() and imports specs by a relative path;
// a temp dir inside the project keeps that path valid.
const tmp = `${root}.tmp`;
mkdirSync(tmp, {recursive: true});
process.env.TMPDIR = tmp;
process.env.CHROME_BIN ??= '/usr/bin/chromium';

const benchEntries = {'1': 'benchmarks/webgl/bench.ts', webgpu: 'benchmarks/webgpu/bench.ts'};
const bench = process.env.BENCH in benchEntries;
const entry = process.env.KARMA_ENTRY ?? (bench ? benchEntries[process.env.BENCH] : 'test/browser/index.ts');

export default function(config) {
  config.set({
    basePath: root,
    frameworks: ['mocha'],
    files: [{pattern: entry, type: 'module'}],
    preprocessors: {[entry]: ['esbuild']},
    esbuild: {
      target: 'es2020',
      sourcemap: false,
    },
    // Karma would serve .ts as video/mp2t.
    mime: {'text/x-typescript': ['ts']},
    browsers: ['ChromiumSwiftShader'],
    customLaunchers: {
      ChromiumSwiftShader: {
        base: 'ChromeHeadless',
        flags: [
          '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
          '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
          '--no-first-run',
          // WebGPU on SwiftShader; the page (http://localhost) is a secure context, as WebGPU needs.
          '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader',
        ],
      },
    },
    client: {
      mocha: {timeout: bench ? 1800000 : 300000},
      // The benchmark's one shape to run, if any (see benchmarks/webgl/run.ts).
      args: [bench ? process.env[process.env.BENCH === 'webgpu' ? 'BENCH_WEBGPU_ONLY' : 'BENCH_WEBGL_ONLY'] : null]
          .filter(only => only != null),
      // Where WebGPU must come up (CI), its suite fails instead of skipping.
      webgpuRequired: process.env.CI === 'true' || process.env.CI === '1',
      // The benchmark prints its results through the console; Karma relays it to Node.
      captureConsole: true,
    },
    browserConsoleLogOptions: {level: bench ? 'log' : 'warn', terminal: true},
    browserNoActivityTimeout: bench ? 1800000 : 900000,
    // A long synchronous readback blocks the page's socket; do not count it as a disconnect.
    pingTimeout: 600000,
    browserDisconnectTimeout: 600000,
    reporters: ['progress'],
    singleRun: true,
    concurrency: 1,
  });
}
