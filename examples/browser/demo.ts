/**
 * The browser demo: loads the Swin trained by `npm run example` (served at
 * ../output/swin_textures/), or builds an untrained one of the same shape when there is
 * none, classifies synthetic textures on the webgl backend (or webgpu: `?backend=webgpu`),
 * and times the model with the fused attention kernel and with the composed path, in turns.
 * The result, with the attention implementation each block runs, is shown on the page and
 * left in `window.demoResult` for the headless test.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import '../../src/index';
import {SwinTransformerBlock, swinTransformer} from '../../src/layers/index';
import {forceComposedAttention} from '../force_composed';
import {CLASS_NAMES, makeTextures} from '../synthetic_textures';

const IMAGE_SIZE = 24;
const COUNT = 32;
const REPS = 9;
const BACKENDS = ['webgl', 'webgpu'];
/** The backend the page's switch chose (?backend=…), webgl by default. */
const BACKEND = BACKENDS.find(b => b === new URLSearchParams(location.search).get('backend')) ?? 'webgl';

export interface DemoResult {
  backend: string;
  trained: boolean;
  accuracy: number;
  predictions: string[];
  /** Attention implementation per block, per mode. */
  implementations: {fused: string[], composed: string[]};
  msPerImage: {fused: number, composed: number};
  error?: string;
}

declare global {
  interface Window { demoResult?: DemoResult }
}

async function loadModel(): Promise<{model: tf.LayersModel, trained: boolean}> {
  try {
    return {model: await tf.loadLayersModel('../output/swin_textures/model.json'), trained: true};
  } catch {
    const model = swinTransformer({
      imgSize: IMAGE_SIZE, patchSize: 4, inChans: 1, numClasses: CLASS_NAMES.length, embedDim: 32, depths: [2, 2],
      numHeads: [2, 4], windowSize: 3, mlpRatio: 2,
    });
    return {model, trained: false};
  }
}

function implementations(model: tf.LayersModel): string[] {
  return model.layers.filter((l): l is SwinTransformerBlock => l instanceof SwinTransformerBlock)
      .map(block => `${block.name}: ${block.attentionDispatch(COUNT).implementation}`);
}

/**
 * Median milliseconds per image of predicting the batch, results read back, with the fused
 * kernel and with the composed path taken in turns (so that a change in machine load
 * touches both alike).
 */
async function msPerImage(model: tf.LayersModel, images: tf.Tensor): Promise<DemoResult['msPerImage']> {
  const times = {fused: [] as number[], composed: [] as number[]};
  for (let i = 0; i <= REPS; i++) {
    for (const mode of ['fused', 'composed'] as const) {
      const restore = mode === 'composed' ? forceComposedAttention(BACKEND) : () => {};
      const start = performance.now();
      const logits = model.predict(images) as tf.Tensor;
      await logits.data();
      const ms = performance.now() - start;
      restore();
      logits.dispose();
      if (i > 0) times[mode].push(ms);  // the first run compiles the shaders
    }
  }
  const median = (t: number[]) => t.sort((a, b) => a - b)[t.length >> 1] / COUNT;
  return {fused: median(times.fused), composed: median(times.composed)};
}

function drawImages(images: Float32Array, labels: number[], predicted: number[]): void {
  const container = document.getElementById('images')!;
  for (let i = 0; i < 8; i++) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = IMAGE_SIZE;
    const context = canvas.getContext('2d')!;
    const pixels = context.createImageData(IMAGE_SIZE, IMAGE_SIZE);
    for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
      const v = Math.max(0, Math.min(255, 128 + 60 * images[i * IMAGE_SIZE * IMAGE_SIZE + p]));
      pixels.data.set([v, v, v, 255], 4 * p);
    }
    context.putImageData(pixels, 0, 0);
    const figure = document.createElement('figure');
    const caption = document.createElement('figcaption');
    caption.textContent = `${CLASS_NAMES[predicted[i]]}${predicted[i] === labels[i] ? '' : ' ✗'}`;
    figure.append(canvas, caption);
    container.append(figure);
  }
}

function showTimings(result: DemoResult): void {
  const rows = [
    ['', 'ms per image', 'attention'],
    ['fused', result.msPerImage.fused.toFixed(2), result.implementations.fused.join(', ')],
    ['composed', result.msPerImage.composed.toFixed(2), result.implementations.composed.join(', ')],
  ];
  document.getElementById('timings')!.innerHTML =
      rows.map((r, i) => `<tr>${r.map(c => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('');
}

/** Links that reload the page on each backend, the current one marked. */
function showBackendSwitch(): void {
  document.getElementById('backends')!.innerHTML = 'Backend: ' +
      BACKENDS.map(b => (b === BACKEND ? `<strong>${b}</strong>` : `<a href="?backend=${b}">${b}</a>`)).join(' | ');
}

async function run(): Promise<DemoResult> {
  const status = document.getElementById('status')!;
  showBackendSwitch();
  if (!(await tf.setBackend(BACKEND))) {
    const why = BACKEND === 'webgpu' ? ' (this browser has no WebGPU)' : '';
    throw new Error(`the ${BACKEND} backend is not available${why}`);
  }
  const {model, trained} = await loadModel();
  const {images, labels} = makeTextures(COUNT, IMAGE_SIZE, 2);
  const input = tf.tensor4d(images, [COUNT, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const predicted = Array.from(await tf.tidy(() => tf.argMax(model.predict(input) as tf.Tensor, -1)).data());
  const accuracy = predicted.filter((p, i) => p === labels[i]).length / COUNT;
  const which = trained ? 'Trained' : 'Untrained (run npm run example first)';
  status.textContent = `${which} model on ${tf.getBackend()}: ` +
      `accuracy ${(100 * accuracy).toFixed(0)}% on ${COUNT} synthetic textures. Timing…`;
  drawImages(images, labels, predicted);

  const fused = implementations(model);
  const restore = forceComposedAttention(BACKEND);
  const composed = implementations(model);
  restore();
  const ms = await msPerImage(model, input);
  input.dispose();
  const result: DemoResult = {
    backend: tf.getBackend(), trained, accuracy, predictions: predicted.map(p => CLASS_NAMES[p]),
    implementations: {fused, composed}, msPerImage: ms,
  };
  status.textContent = status.textContent!.replace('Timing…', 'Done.');
  showTimings(result);
  return result;
}

run().then(result => window.demoResult = result, (e: Error) => {
  document.getElementById('status')!.textContent = `Error: ${e.message}`;
  window.demoResult = {error: e.message} as DemoResult;
});
