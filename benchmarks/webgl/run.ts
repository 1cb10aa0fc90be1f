/**
 * `npm run bench:webgl`: runs benchmarks/webgl/bench.ts in headless Chromium through Karma
 * (karma.conf.js with BENCH=1), collects the rows the page prints, and writes the 'webgl'
 * section of benchmarks/RESULTS.md. With BENCH_WEBGL_ONLY set to a shape's label (e.g.
 * `BENCH_WEBGL_ONLY='[1,8,1024,64]'`), only that shape runs and the table is printed, not
 * written (a quicker check while tuning the kernels).
 */
import karma from 'karma';
import {fileURLToPath} from 'node:url';
import {markdownTable, writeResultsSection} from '../results';
import {REPS, WARMUP, WebGLBenchRow} from './settings';

const CONFIG = fileURLToPath(new URL('../../karma.conf.js', import.meta.url));

/** Runs the page; resolves with what it printed under each `KIND:` prefix. */
async function runInBrowser(): Promise<Map<string, unknown[]>> {
  process.env.BENCH = '1';
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

/** Issue 3's targets at [1,8,1024,64], against this run's numbers. */
function targetsLine(rows: WebGLBenchRow[]): string {
  const at = (pass: string) => rows.find(r => r.label === '[1,8,1024,64]' && r.pass === pass);
  const forward = at('forward'), both = at('forward+backward');
  if (forward == null || both == null) return '';
  const ratio = (r: WebGLBenchRow) => `${(r.composedMs / r.fusedMs).toFixed(2)}×`;
  return `Targets at [1,8,1024,64]: forward ≥ 1.5× composed (this run: ${ratio(forward)}), forward+backward ≥ 1.2× ` +
      `(this run: ${ratio(both)}), forward extra peak ≤ q+k+v+out (this run: ${mb(forward.fusedExtraBytes)} MB of ` +
      `${mb(forward.ioBytes)} MB).`;
}

async function main(): Promise<void> {
  const printed = await runInBrowser();
  const rows = (printed.get('BENCH_ROW') ?? []) as WebGLBenchRow[];
  const [env] = (printed.get('BENCH_ENV') ?? [{}]) as
      {renderer?: string, webglVersion?: number, userAgent?: string, cpus?: number}[];
  if (rows.length === 0) throw new Error('the benchmark page printed no results');
  const table = markdownTable(
      ['shape', 'pass', 'fused ms', 'composed ms', 'speed-up', 'fused extra peak GPU MB', 'composed extra peak GPU MB',
       'q+k+v+out MB'],
      rows.map(r => [
        r.label, r.pass, r.fusedMs.toFixed(0), r.composedMs.toFixed(0), `${(r.composedMs / r.fusedMs).toFixed(2)}×`,
        mb(r.fusedExtraBytes), mb(r.composedExtraBytes), mb(r.ioBytes),
      ]));
  console.log(`\n${table}\n\n${targetsLine(rows)}`);
  if (process.env.BENCH_WEBGL_ONLY != null) return;
  writeResultsSection('webgl', [
    '## webgl backend (headless Chromium), fused vs composed',
    '',
    `\`npm run bench:webgl\`; ${new Date().toISOString().slice(0, 10)}, ${env.userAgent ?? 'Chromium'}, ` +
        `WebGL ${env.webglVersion ?? '?'} on "${env.renderer ?? 'unknown renderer'}".`,
    '**SwiftShader is a software GPU (it runs the shaders on the CPU): read the speed-ups as ratios between the two ' +
        'paths on the same renderer, not as GPU timings.**',
    `The page saw ${env.cpus ?? '?'} logical CPUs; other jobs may share them, so runs alternate between the two paths.`,
    '',
    `${WARMUP} warm-up run, then the median of ${REPS} runs taken in turns (fused, composed, fused, …), results ` +
        'read back. Composed: matMul → ' +
        'mul(scale) → add(bias) → softmax → matMul, gradients from @tensorflow/tfjs. Extra peak GPU bytes: ' +
        'numBytesInGPU above its value before the call, sampled after every shader pass.',
    '',
    table,
    '',
    targetsLine(rows),
  ].join('\n'));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
