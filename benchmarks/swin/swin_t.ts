/**
 * The Swin-T measurement, shared by the cpu run (Node) and the webgl run (headless Chromium):
 * a forward pass and one training step (Adam, softmax cross-entropy) of timm's
 * swin_tiny_patch4_window7_224, with the fused attention kernel and with the composed path
 * (forced with examples/force_composed.ts).
 */
import * as tf from '@tensorflow/tfjs';
import {forceComposedAttention} from '../../examples/force_composed';
import '../../src/index';
import {SwinTransformerBlock, swinPresets, swinTransformer} from '../../src/layers/index';

type Mode = 'fused' | 'composed';

export interface Measurement {
  /** Milliseconds of each run. */
  times: number[];
  peakBytes: number;
  /** The attention implementation the first block ran. */
  implementation: string;
}

export interface SwinRow {
  backend: string;
  batch: number;
  pass: string;
  fused: Measurement;
  composed: Measurement;
}

/**
 * Each run is timed and profiled at once (a Swin-T pass on the cpu backend takes tens of
 * seconds, too long to run twice): the milliseconds of each run, and the largest peak of
 * bytes above those held before a run, as tf.profile sees them.
 */
async function measure(run: () => Promise<void>, reps: number): Promise<{times: number[], peakBytes: number}> {
  const times: number[] = [];
  let peakBytes = 0;
  for (let i = 0; i < reps; i++) {
    const before = tf.memory().numBytes;
    const start = performance.now();
    const profile = await tf.profile(run);
    times.push(performance.now() - start);
    peakBytes = Math.max(peakBytes, profile.peakBytes - before);
  }
  return {times, peakBytes};
}

export async function benchmarkSwinT(
    backend: string, batches: number[], reps: number, log: (line: string) => void): Promise<SwinRow[]> {
  await tf.setBackend(backend);
  const config = swinPresets.tiny;
  const model = swinTransformer(config);
  model.compile({optimizer: tf.train.adam(1e-4), loss: tf.losses.softmaxCrossEntropy});
  const firstBlock = model.layers.find((l): l is SwinTransformerBlock => l instanceof SwinTransformerBlock)!;
  const rows: SwinRow[] = [];
  for (const batch of batches) {
    const images = tf.randomNormal([batch, config.imgSize, config.imgSize, config.inChans]);
    const labels =
        tf.oneHot(tf.randomUniform([batch], 0, config.numClasses, 'int32') as tf.Tensor1D, config.numClasses);
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
      const row = {backend, batch, pass} as SwinRow;
      for (const mode of ['fused', 'composed'] as Mode[]) {
        const restore = mode === 'composed' ? forceComposedAttention(backend) : () => {};
        // Warm-up at the first batch only (JIT, the optimizer's slots, shaders): a cpu training
        // step at batch 8 takes minutes. Later batches' first runs on webgl include compiling
        // the shaders of their new shapes.
        if (batch === batches[0]) await run();
        const implementation = firstBlock.attentionDispatch(batch, pass !== 'forward').implementation;
        row[mode] = {...await measure(run, reps), implementation};
        restore();
        log(`${backend} batch ${batch} ${pass} ${mode} (${implementation}): ` +
            `${row[mode].times.map(t => t.toFixed(0)).join(', ')} ms, ` +
            `peak +${(row[mode].peakBytes / 1e6).toFixed(1)} MB`);
      }
      rows.push(row);
    }
    tf.dispose([images, labels]);
  }
  model.dispose();
  return rows;
}
