/**
 * The Node side of the browser benchmarks (benchmarks/webgl/run.ts, benchmarks/webgpu/run.ts):
 * runs the backend's page in headless Chromium through Karma (karma.conf.js), collects the
 * rows it prints, and writes the backend's section of benchmarks/RESULTS.md. With the
 * backend's `onlyVariable` set to a shape's label, only that shape runs and the table is
 * printed, not written.
 */
import karma from 'karma';
import {fileURLToPath} from 'node:url';
import {markdownTable, writeResultsSection} from './results';
import {BrowserBackend, BrowserBenchRow, ROUNDS} from './browser_settings';

const CONFIG = fileURLToPath(new URL('../karma.conf.js', import.meta.url));

export interface BrowserBenchRun {
  backend: BrowserBackend;
  /** The value of BENCH that makes karma.conf.js bundle this backend's page. */
  benchVariable: string;
  /** The environment variable naming the one shape to run (BENCH_WEBGL_ONLY, BENCH_WEBGPU_ONLY). */
  onlyVariable: string;
  /** The speed-ups the backend's issue asks at [1,8,1024,64]. */
  targets: {forward: number, forwardBackward: number};
  /** The line naming the page's GPU, from what the page printed as BENCH_ENV. */
  gpuLine: (env: Record<string, unknown>) => string;
  /** What the extra peak bytes are sampled after, and what the speed-ups compare across: in the backend's words. */
  programWord: string;
  gpuWord: string;
}

/** Runs the page; resolves with what it printed under each `KIND:` prefix. */
async function runInBrowser(benchVariable: string): Promise<Map<string, unknown[]>> {
  process.env.BENCH = benchVariable;
  const config = await karma.config.parseConfig(CONFIG, {}, {promiseConfig: true, throwErrors: true});
  const printed = new Map<string, unknown[]>();
  return new Promise((resolve, reject) => {
    const server = new karma.Server(config, exitCode => {
      if (exitCode === 0) resolve(printed);
      else reject(new Error(`the benchmark page failed (karma exit code ${exitCode})`));
    });
    server.on('browser_log', (_browser: unknown, message: string) => {
      for (const [, kind, payload] of String(message).matchAll(/(BENCH_[A-Z]+):([^\s'"]+)/g)) {
        printed.set(kind, [...(printed.get(kind) ?? []), JSON.parse(decodeURIComponent(payload))]);
      }
    });
    server.start();
  });
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The targets at [1,8,1024,64], against this run's numbers. */
function targetsLine(rows: BrowserBenchRow[], targets: BrowserBenchRun['targets']): string {
  const at = (pass: string) => rows.find(r => r.label === '[1,8,1024,64]' && r.pass === pass);
  const forward = at('forward'), both = at('forward+backward');
  if (forward == null || both == null) return '';
  const ratio = (r: BrowserBenchRow) => `${(r.composedMs / r.fusedMs).toFixed(2)}×`;
  return `Targets at [1,8,1024,64]: forward ≥ ${targets.forward}× composed (this run: ${ratio(forward)}), ` +
      `forward+backward ≥ ${targets.forwardBackward}× (this run: ${ratio(both)}), forward extra peak ≤ q+k+v+out ` +
      `(this run: ${mb(forward.fusedExtraBytes)} MB of ${mb(forward.ioBytes)} MB).`;
}

async function runBrowserBenchmark(run: BrowserBenchRun): Promise<void> {
  const printed = await runInBrowser(run.benchVariable);
  const rows = (printed.get('BENCH_ROW') ?? []) as BrowserBenchRow[];
  const [env] = (printed.get('BENCH_ENV') ?? [{}]) as Record<string, unknown>[];
  if (rows.length === 0) throw new Error('the benchmark page printed no results');
  const table = markdownTable(
      ['shape', 'pass', 'fused ms', 'composed ms', 'speed-up', 'fused extra peak GPU MB', 'composed extra peak GPU MB',
       'q+k+v+out MB'],
      rows.map(r => [
        r.label, r.pass, r.fusedMs.toFixed(0), r.composedMs.toFixed(0), `${(r.composedMs / r.fusedMs).toFixed(2)}×`,
        mb(r.fusedExtraBytes), mb(r.composedExtraBytes), mb(r.ioBytes),
      ]));
  const targets = targetsLine(rows, run.targets);
  console.log(`\n${table}\n\n${targets}`);
  if (process.env[run.onlyVariable] != null) return;
  const {warmup, reps} = ROUNDS[run.backend];
  writeResultsSection(run.backend, [
    `## ${run.backend} backend (headless Chromium), fused vs composed`,
    '',
    `\`npm run bench:${run.backend}\`; ${new Date().toISOString().slice(0, 10)}, ${env.userAgent ?? 'Chromium'}, ` +
        `${run.gpuLine(env)}.`,
    '**SwiftShader is a software GPU (it runs the shaders on the CPU): read the speed-ups as ratios between the two ' +
        `paths on the same ${run.gpuWord}, not as GPU timings.**`,
    `The page saw ${env.cpus ?? '?'} logical CPUs; other jobs may share them, so runs alternate between the two paths.`,
    '',
    `${warmup} warm-up run, then the median of ${reps} runs taken in turns (fused, composed, fused, …), results ` +
        'read back. Composed: matMul → mul(scale) → add(bias) → softmax → matMul, gradients from @tensorflow/tfjs. ' +
        `Extra peak GPU bytes: numBytesInGPU above its value before the call, sampled after every ${run.programWord}.`,
    '',
    table,
    '',
    targets,
  ].join('\n'));
}

/** Runs the benchmark as a script: a failure prints and exits 1. */
export function main(run: BrowserBenchRun): void {
  runBrowserBenchmark(run).catch(e => {
    console.error(e);
    process.exit(1);
  });
}
