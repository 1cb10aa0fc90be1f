import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {entryToFloat32, SafetensorsEntry, swinTransformer} from '../../src/layers/index';
import type {Weights} from './reference';

/** A seeded stream of standard normals (Box–Muller over a 32-bit LCG), for reproducible data. */
export function normals(seed: number): (count: number, scale?: number) => Float64Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return (count, scale = 1) => Float64Array.from(
             {length: count}, () => scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

/** Sets every weight of `layer` to random values (LayerNorm gammas around 1), so that no weight is inert. */
export function randomizeWeights(layer: tf.layers.Layer, seed: number): void {
  const random = normals(seed);
  layer.setWeights(layer.weights.map(w => {
    const size = w.shape.reduce((a, b) => a! * b!, 1)!;
    const values = random(size, 0.3);
    if (w.originalName.endsWith('gamma')) values.forEach((v, i) => values[i] = 1 + v);
    return tf.tensor(Float32Array.from(values), w.shape as number[]);
  }));
}

/** The layer's weights by their path inside the layer (e.g. 'attn/qkv/kernel'), in float64. */
export function weightsOf(layer: tf.layers.Layer): Weights {
  return new Map(layer.weights.map(w => {
    const name = w.originalName;
    const path = name.slice(name.lastIndexOf(`${layer.name}/`) + layer.name.length + 1);
    return [path, Float64Array.from(w.read().dataSync())];
  }));
}

/** max |actual − expected| / max |expected| below `tolerance`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).to.equal(expected.length);
  let scale = 0;
  let error = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    error = Math.max(error, Math.abs(actual[i] - expected[i]));
  }
  expect(error / scale, `max |Δ| ${error} over max |expected| ${scale}`).to.be.lessThan(tolerance);
}

export function tensorOf(values: Float64Array, shape: number[]): tf.Tensor {
  return tf.tensor(Float32Array.from(values), shape);
}

/** `model` after model.save() → tf.loadLayersModel() through memory. */
export async function roundTripInMemory(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async artifacts => {
    saved = artifacts;
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  return tf.loadLayersModel(tf.io.fromMemory(saved!));
}

/** A Swin model of `config` whose every weight is random (layer k seeded with seed + k): the export fixtures. */
export function seededSwin(build: (config: object) => tf.LayersModel, config: object, seed: number): tf.LayersModel {
  const model = build(config);
  model.layers.forEach((layer, k) => {
    if (layer.weights.length > 0) randomizeWeights(layer, seed + k);
  });
  return model;
}

/** max |logits − expected| / max |expected| of `model` on an io fixture (timm's NHWC input and float64 logits). */
export async function logitsError(
    model: tf.LayersModel, io: Map<string, SafetensorsEntry>, inputKey = 'input',
    logitsKey = 'logits'): Promise<number> {
  const input = io.get(inputKey)!;
  const expected = entryToFloat32(io.get(logitsKey)!);
  const logits = tf.tidy(() => model.predict(tf.tensor(entryToFloat32(input), input.shape)) as tf.Tensor);
  expect(logits.shape).to.deep.equal(io.get(logitsKey)!.shape);
  const actual = await logits.data();
  logits.dispose();
  const scale = Math.max(...expected.map(Math.abs));
  return Math.max(...actual.map((v, i) => Math.abs(v - expected[i]))) / scale;
}

/**
 * model.fit on a small Swin with dropout and drop path, on a synthetic task (class 1: brighter left
 * half, class 0: brighter right half, plus noise): the loss must halve and the accuracy pass 0.9.
 */
export async function expectSwinFitLearns(): Promise<void> {
  const random = normals(3);
  const count = 64;
  const labels = Array.from({length: count}, (_, i) => i % 2);
  const images = new Float32Array(count * 8 * 8);
  const noise = random(images.length, 0.5);
  images.forEach((_, k) => {
    const [i, column] = [Math.floor(k / 64), k % 8];
    images[k] = ((column < 4) === (labels[i] === 1) ? 1 : -1) + noise[k];
  });
  const xs = tf.tensor4d(images, [count, 8, 8, 1]);
  const ys = tf.oneHot(labels, 2).toFloat();
  const model = swinTransformer({
    imgSize: 8, patchSize: 2, inChans: 1, numClasses: 2, embedDim: 8, depths: [2, 1], numHeads: [2, 2],
    windowSize: 2, mlpRatio: 2, dropPathRate: 0.1, attnDropRate: 0.1,
  });
  model.compile({optimizer: tf.train.adam(3e-3), loss: tf.losses.softmaxCrossEntropy, metrics: ['accuracy']});
  const history = await model.fit(xs, ys, {epochs: 12, batchSize: 16, shuffle: true, verbose: 0});
  const losses = history.history.loss as number[];
  expect(losses[losses.length - 1]).to.be.lessThan(0.5 * losses[0]);
  const accuracy = history.history.acc as number[];
  expect(accuracy[accuracy.length - 1]).to.be.greaterThan(0.9);
  tf.dispose([xs, ys]);
  model.dispose();
}
