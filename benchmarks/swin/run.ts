/**
 * Swin-T (timm's swin_tiny_patch4_window7_224): a forward pass and one training step with
 * the fused attention kernel and with the composed path, on the cpu backend in Node and on
 * webgl in headless Chromium (SwiftShader). Writes the 'swin' section of benchmarks/RESULTS.md.
 *
 *   npm run bench:swin [-- --batches=1,8 --reps=3 --backends=cpu,webgl]
 *   (default: batch 1, one run of each, both backends; the table uses --batches=1,8)
 */
import * as esbuild from 'esbuild';
import os from 'node:os';
import {fileURLToPath} from 'node:url';
import {launchChromium} from '../../examples/browser/chromium';
import {markdownTable, writeResultsSection} from '../results';
import {median} from '../stats';
import {benchmarkSwinT, SwinRow} from './swin_t';

function option(name: string, fallback: string): string {
  const arg = process.argv.find(a => a.startsWith(`--${name}=`));
  return arg == null ? fallback : arg.slice(name.length + 3);
}

/** Runs the measurement in headless Chromium on the webgl backend. */
async function benchmarkWebgl(batches: number[], reps: number): Promise<SwinRow[]> {
  const bundle = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./webgl_page.ts', import.meta.url))], bundle: true, format: 'iife',
    platform: 'browser', target: 'es2020', write: false, logLevel: 'warning',
  });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('console', message => console.log(message.text()));
    await page.evaluate(options => window.swinOptions = options, {batches, reps});
    await page.addScriptTag({content: bundle.outputFiles[0].text});
    await page.waitForFunction(() => window.swinRows != null || window.swinError != null, undefined, {timeout: 0});
    const error = await page.evaluate(() => window.swinError);
    if (error != null) throw new Error(`webgl run failed: ${error}`);
    return await page.evaluate(() => window.swinRows!);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const batches = option('batches', '1').split(',').map(Number);
  const reps = Number(option('reps', '1'));
  const backends = option('backends', 'cpu,webgl').split(',');
  const loadAtStart = os.loadavg()[0];
  const rows: SwinRow[] = [];
  // webgl first: it is the quicker one to fail (no browser, no WebGL).
  if (backends.includes('webgl')) rows.push(...await benchmarkWebgl(batches, reps));
  if (backends.includes('cpu')) rows.push(...await benchmarkSwinT('cpu', batches, reps, console.log));
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  writeResultsSection('swin', [
    '## Swin-T (swin_tiny_patch4_window7_224): fused vs composed attention',
    '',
    `\`npm run bench:swin\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
        `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown cpu'}; webgl: headless Chromium on SwiftShader. ` +
        `Median of ${reps} run(s) per cell; one warm-up run of each pass and path at the first batch only ` +
        `(${batches[0]}), so later batches' first webgl runs include compiling shaders for their shapes. ` +
        `Peak: tf.profile's peak tensor bytes above those held before ` +
        'the run (weights and optimizer state excluded). Attention: 7×7 windows (49 tokens) with the relative ' +
        'position bias ([1, heads, 49, 49]) and, on shifted blocks, the WindowBias mask. The fused column runs ' +
        'the backend\'s fused kernel, the composed one matMul / softmax. Attention is a small part of Swin-T\'s ' +
        'work (the qkv, projection and MLP matmuls dominate), so whole-model times differ little. ' +
        `1-minute load average: ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end.`,
    '',
    markdownTable(
        ['backend', 'batch', 'pass', 'fused ms', 'composed ms', 'composed / fused', 'fused peak MB', 'composed peak MB',
         'fused kernel'],
        rows.map(r => [
          r.backend, r.batch, r.pass, median(r.fused.times).toFixed(0), median(r.composed.times).toFixed(0),
          (median(r.composed.times) / median(r.fused.times)).toFixed(2), mb(r.fused.peakBytes),
          mb(r.composed.peakBytes), r.fused.implementation,
        ])),
  ].join('\n'));
}

await main();
