/**
 * Swin-T (timm's swin_tiny_patch4_window7_224) on the cpu backend: a forward pass and one
 * training step (Adam, softmax cross-entropy), with the fused attention kernel and with
 * the composed path (batch 1 by default; 8 on request). Writes the 'swin' section of benchmarks/RESULTS.md.
 *
 *   npm run bench:swin [-- --batches=1,8 --reps=3]   (default: batch 1, one run after a warm-up)
 *
 * The composed path is forced with examples/force_composed.ts (a declaration for `cpu` that
 * rejects every call makes the op compose matMul / softmax).
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import {forceComposedAttention} from '../../examples/force_composed';
import '../../src/index';
import {SwinTransformerBlock, swinPresets, swinTransformer} from '../../src/layers/index';
import {mb} from '../harness';
import {markdownTable, median, writeResultsSection} from '../results';

type Mode = 'fused' | 'composed';

function option(name: string, fallback: string): string {
  const arg = process.argv.find(a => a.startsWith(`--${name}=`));
  return arg == null ? fallback : arg.slice(name.length + 3);
}

interface Measurement {
  ms: number;
  peakBytes: number;
}

/**
 * Each run is timed and profiled at once (a Swin-T pass on the cpu backend takes tens of
 * seconds, too long to run twice): median milliseconds, and the largest peak of bytes
 * above those held before the run, as tf.profile sees them.
 */
async function measure(run: () => Promise<void>, reps: number): Promise<Measurement> {
  const times: number[] = [];
  let peakBytes = 0;
  for (let i = 0; i < reps; i++) {
    const before = tf.memory().numBytes;
    const start = performance.now();
    const profile = await tf.profile(run);
    times.push(performance.now() - start);
    peakBytes = Math.max(peakBytes, profile.peakBytes - before);
  }
  return {ms: median(times), peakBytes};
}

async function main(): Promise<void> {
  const batches = option('batches', '1').split(',').map(Number);
  const reps = Number(option('reps', '1'));
  await tf.setBackend('cpu');
  const config = swinPresets.tiny;
  const model = swinTransformer(config);
  model.compile({optimizer: tf.train.adam(1e-4), loss: tf.losses.softmaxCrossEntropy});
  const firstBlock = model.layers.find((l): l is SwinTransformerBlock => l instanceof SwinTransformerBlock)!;
  const rows: (string | number)[][] = [];
  for (const batch of batches) {
    const images = tf.randomNormal([batch, config.imgSize, config.imgSize, config.inChans]);
    const labels = tf.oneHot(tf.randomUniform([batch], 0, config.numClasses, 'int32') as tf.Tensor1D, config.numClasses);
    const passes: Array<[string, () => Promise<void>]> = [
      ['forward', async () => {
        const logits = model.predict(images) as tf.Tensor;
        await logits.data();
        logits.dispose();
      }],
      ['training step', async () => {
        await model.trainOnBatch(images, labels);
      }],
    ];
    for (const [pass, run] of passes) {
      await run();  // warm-up: builds the model, creates the optimizer's slots
      const results = {} as Record<Mode, Measurement>;
      const implementations = {} as Record<Mode, string>;
      for (const mode of ['fused', 'composed'] as const) {
        const restore = mode === 'composed' ? forceComposedAttention('cpu') : () => {};
        implementations[mode] = firstBlock.attentionDispatch(batch, pass !== 'forward').implementation;
        results[mode] = await measure(run, reps);
        restore();
        console.log(`batch ${batch} ${pass} ${mode} (${implementations[mode]}): ${results[mode].ms.toFixed(0)} ms, ` +
                    `peak +${mb(results[mode].peakBytes)} MB`);
      }
      rows.push([
        batch, pass, results.fused.ms.toFixed(0), results.composed.ms.toFixed(0),
        (results.composed.ms / results.fused.ms).toFixed(2), mb(results.fused.peakBytes), mb(results.composed.peakBytes),
      ]);
    }
    tf.dispose([images, labels]);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  writeResultsSection('swin', [
    '## Swin-T (swin_tiny_patch4_window7_224), cpu backend',
    '',
    `\`npm run bench:swin\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} × ${cpu}; ` +
        `median of ${reps} run(s) after one warm-up. Peak: tf.profile's peak bytes above those held before the call ` +
        '(weights and optimizer state excluded). Attention: 7×7 windows (49 tokens) with the relative position bias ' +
        '([1, heads, 49, 49]) and, on shifted blocks, the WindowBias mask; the fused column runs `cpu-fused`, the composed one matMul / softmax.',
    '',
    markdownTable(
        ['batch', 'pass', 'fused ms', 'composed ms', 'composed / fused', 'fused peak MB', 'composed peak MB'], rows),
  ].join('\n'));
  model.dispose();
}

await main();
