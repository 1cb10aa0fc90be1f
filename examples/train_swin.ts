/**
 * Trains a small Swin Transformer on synthetic textures (stripes, checkerboards, blobs) in
 * Node, saves it, reloads it and evaluates it again.
 *
 *   npm run example            (or: npx tsx examples/train_swin.ts)
 *
 * It runs on tfjs-node's `tensorflow` backend when @tensorflow/tfjs-node is installed, with
 * attention in this package's TensorFlow op library (`npx tfjs-attention build`); else on
 * the cpu backend, with the CUDA kernels when the addon is built and finds a GPU.
 */
import * as tf from '@tensorflow/tfjs';
import {rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';
import {tensorflowAvailability} from '../src/node';
import {SwinTransformerBlock, swinTransformer} from '../src/layers/index';
import {fileSystemHandler} from './file_io';
import {CLASS_NAMES, makeTextures} from './synthetic_textures';

const IMAGE_SIZE = 24;
const TRAIN_COUNT = 512;
const VALIDATION_COUNT = 256;
const EPOCHS = 3;
const BATCH_SIZE = 32;
const OUTPUT_FOLDER = fileURLToPath(new URL('./output/swin_textures', import.meta.url));

/** Registers the CUDA kernels for `cpu` when the addon loads and finds a GPU; says what happened. */
async function tryCudaKernels(): Promise<string> {
  try {
    const cuda = await import('../kernels/cuda/index');
    const availability = cuda.cudaAvailability();
    if (!availability.available) return `CUDA kernels not used: ${availability.reason}`;
    const device = cuda.useCudaKernels({backend: 'cpu'});
    return `CUDA kernels on ${device.name} (compute capability ${device.computeCapability})`;
  } catch (e) {
    return `CUDA kernels not used: ${(e as Error).message.split('\n')[0]}`;
  }
}

function describeAttention(model: tf.LayersModel, batchSize: number, training: boolean): string {
  const blocks = model.layers.filter((l): l is SwinTransformerBlock => l instanceof SwinTransformerBlock);
  const byImplementation = new Map<string, string[]>();
  for (const block of blocks) {
    const dispatch = block.attentionDispatch(batchSize, training);
    const reasons = Object.entries(dispatch.reasons).filter(([name]) => name !== 'composed');
    const key = dispatch.implementation === 'composed' ?
        `composed (${reasons.map(([name, why]) => `${name}: ${why.join('; ')}`).join(', ')})` :
        dispatch.implementation;
    const layer = `${block.name}${block.hasShift ? ' (SW-MSA)' : ''}`;
    byImplementation.set(key, [...(byImplementation.get(key) ?? []), layer]);
  }
  return [...byImplementation].map(([name, layers]) => `${name}: ${layers.join(', ')}`).join('\n    ');
}

function progressBar(epoch: number, batchesPerEpoch: number): tf.CustomCallbackArgs {
  const started = Date.now();
  const draw = (batch: number, logs: tf.Logs | undefined, done: boolean) => {
    const width = 30;
    const filled = Math.round((width * batch) / batchesPerEpoch);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const stats = logs == null ? '' : ` loss ${logs.loss.toFixed(3)} acc ${logs.acc.toFixed(3)}`;
    const line = `epoch ${epoch + 1}/${EPOCHS} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
        `${batch}/${batchesPerEpoch} ${seconds}s${stats}`;
    if (process.stdout.isTTY) process.stdout.write(`\r${line}${done ? '\n' : ''}`);
    else if (done) console.log(line);
  };
  return {
    onBatchEnd: async (batch, logs) => draw(batch + 1, logs, false),
    onEpochEnd: async (_epoch, logs) => draw(batchesPerEpoch, logs, true),
  };
}

function accuracy(model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D): number {
  return tf.tidy(() => {
    const predicted = tf.argMax(model.predict(images, {batchSize: 64}) as tf.Tensor, -1);
    return tf.mean(tf.equal(predicted, labels).toFloat()).dataSync()[0];
  });
}

/** tfjs-node's `tensorflow` backend when it loads, else `cpu` (with CUDA kernels where they run); says which. */
async function chooseBackend(): Promise<string> {
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
  } catch (e) {
    await tf.setBackend('cpu');
    const why = (e as Error).message.split('\n')[0];
    return `cpu backend (@tensorflow/tfjs-node not loaded: ${why}); ${await tryCudaKernels()}`;
  }
  await tf.setBackend('tensorflow');
  const native = tensorflowAvailability();
  return `tensorflow backend (tfjs-node); ${native.available ? 'native attention kernels loaded' : native.reason}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(await chooseBackend());

  const toTensors = (count: number, seed: number) => {
    const {images, labels} = makeTextures(count, IMAGE_SIZE, seed);
    return {
      images: tf.tensor4d(images, [count, IMAGE_SIZE, IMAGE_SIZE, 1]),
      labels: tf.tensor1d(labels, 'int32'),
      oneHot: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASS_NAMES.length).toFloat(),
    };
  };
  const train = toTensors(TRAIN_COUNT, 1);
  const validation = toTensors(VALIDATION_COUNT, 2);
  console.log(`data: ${TRAIN_COUNT} training and ${VALIDATION_COUNT} validation images ${IMAGE_SIZE}×${IMAGE_SIZE}, ` +
              `classes: ${CLASS_NAMES.join(', ')} (chance ${(100 / CLASS_NAMES.length).toFixed(0)}%)`);

  // Stage 0: 6 × 6 tokens in 3 × 3 windows, shifted on odd blocks; stage 1: 3 × 3 tokens, one window.
  const model = swinTransformer({
    imgSize: IMAGE_SIZE, patchSize: 4, inChans: 1, numClasses: CLASS_NAMES.length, embedDim: 32, depths: [2, 2],
    numHeads: [2, 4], windowSize: 3, mlpRatio: 2, dropPathRate: 0.1,
  });
  console.log(`model: Swin, ${model.countParams().toLocaleString('en-US')} parameters`);
  console.log(`attention in training:\n    ${describeAttention(model, BATCH_SIZE, true)}`);
  model.compile({optimizer: tf.train.adam(2e-3), loss: tf.losses.softmaxCrossEntropy, metrics: ['accuracy']});

  const batchesPerEpoch = Math.ceil(TRAIN_COUNT / BATCH_SIZE);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    await model.fit(train.images, train.oneHot, {
      epochs: 1, batchSize: BATCH_SIZE, shuffle: true, verbose: 0, callbacks: progressBar(epoch, batchesPerEpoch),
    });
    console.log(`    validation accuracy ${(100 * accuracy(model, validation.images, validation.labels)).toFixed(1)}%`);
  }
  const trainAccuracy = accuracy(model, train.images, train.labels);
  const validationAccuracy = accuracy(model, validation.images, validation.labels);
  console.log(`trained: train accuracy ${(100 * trainAccuracy).toFixed(1)}%, ` +
              `validation accuracy ${(100 * validationAccuracy).toFixed(1)}%`);
  console.log(`attention in inference:\n    ${describeAttention(model, 64, false)}`);

  rmSync(OUTPUT_FOLDER, {recursive: true, force: true});
  await model.save(fileSystemHandler(OUTPUT_FOLDER));
  const reloaded = await tf.loadLayersModel(fileSystemHandler(OUTPUT_FOLDER));
  const reloadedAccuracy = accuracy(reloaded, validation.images, validation.labels);
  const identical = tf.tidy(() => {
    const [before, after] = [model, reloaded].map(m => m.predict(validation.images, {batchSize: 64}) as tf.Tensor);
    return tf.all(tf.equal(before, after)).dataSync()[0] === 1;
  });
  console.log(`saved to ${OUTPUT_FOLDER}; reloaded: validation accuracy ${(100 * reloadedAccuracy).toFixed(1)}%, ` +
              (identical ? 'predictions identical to the trained model\'s' :
                   'predictions DIFFER from the trained model\'s'));
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (!identical) process.exitCode = 1;
}

await main();
