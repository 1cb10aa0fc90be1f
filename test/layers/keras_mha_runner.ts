/**
 * Runs the cases of test/fixtures/keras_mha_fixture.json (Keras 3.15's MultiHeadAttention
 * numbers, made by make_keras_fixture.py) on the current backend: in Node for cpu and wasm,
 * and in headless Chromium for webgl (multi_head_attention_page.ts). Returns what the spec compares.
 */
import * as tf from '@tensorflow/tfjs';
import {attentionImplementation} from '../../src/index';
import {MultiHeadAttention, withKerasMultiHeadAttention} from '../../src/layers/index';

export interface KerasWeight {path: string; shape: number[]; values: number[]}

export interface KerasCase {
  name: string;
  config: Record<string, unknown> & {num_heads: number, key_dim: number, value_dim: number, use_bias: boolean,
                                     output_shape: number[] | null};
  weights: KerasWeight[];
  query: number[]; queryShape: number[];
  /** null for self-attention (value and key are the query). */
  value: number[] | null; valueShape: number[];
  key: number[] | null; keyShape: number[] | null;
  /** 1 = attend, [batch, seqQ, seqK]. */
  attentionMask: number[] | null;
  useCausalMask: boolean;
  output: number[]; outputShape: number[];
  scores: number[]; scoresShape: number[];
}

export interface KerasFixture {
  keras: string;
  cases: KerasCase[];
  kerasModel: {modelTopology: object, weights: Array<{name: string, shape: number[], values: number[]}>,
               inputs: number[][], output: number[]};
}

export interface CaseRun {
  name: string;
  weightPaths: string[];
  output: number[];
  scores: number[];
  scoresShape: number[];
  /** The output without returnAttentionScores (the op's path). */
  opOutput: number[];
  implementation: string;
}

function inputsOf(c: KerasCase): {list: tf.Tensor[], mask: tf.Tensor | null} {
  const query = tf.tensor(c.query, c.queryShape);
  const list = c.value == null ? [query] : [query, tf.tensor(c.value, c.valueShape)];
  if (c.key != null) list.push(tf.tensor(c.key, c.keyShape!));
  const [batch, seqQ] = c.queryShape;
  const mask = c.attentionMask == null ?
      null : tf.tensor3d(c.attentionMask.map(Boolean), [batch, seqQ, c.valueShape[1]], 'bool');
  return {list, mask};
}

function layerOf(c: KerasCase, useCausalMask = false): MultiHeadAttention {
  const {num_heads: numHeads, key_dim: keyDim, value_dim: valueDim, use_bias: useBias} = c.config;
  const outputShape = c.config.output_shape as [number] | null;
  return new MultiHeadAttention({numHeads, keyDim, valueDim, useBias, outputShape, useCausalMask, name: c.name});
}

/** Keras's weights, in its get_weights() order, as tensors for setWeights(). */
const weightTensors = (weights: Array<{shape: number[], values: number[]}>) =>
  weights.map(w => tf.tensor(w.values, w.shape));

export function runKerasCase(c: KerasCase): CaseRun {
  const {list, mask} = inputsOf(c);
  const layer = layerOf(c);
  const kwargs = {useCausalMask: c.useCausalMask, ...(mask != null ? {attentionMask: mask} : {})};
  tf.dispose(layer.apply(list.length === 1 ? list[0] : list, kwargs) as tf.Tensor);
  const weights = weightTensors(c.weights);
  layer.setWeights(weights);
  const inputs = list.length === 1 ? list[0] : list;
  const [output, scores] = layer.apply(inputs, {...kwargs, returnAttentionScores: true}) as tf.Tensor[];
  const opOutput = layer.apply(inputs, kwargs) as tf.Tensor;
  const [batch, seqQ] = c.queryShape;
  const probe = [tf.zeros([batch, c.config.num_heads, seqQ, c.config.key_dim]),
                 tf.zeros([batch, c.config.num_heads, c.valueShape[1], c.config.key_dim])];
  const run = {
    name: c.name, weightPaths: layer.weights.map(w => w.originalName),
    output: Array.from(output.dataSync()), scores: Array.from(scores.dataSync()), scoresShape: scores.shape,
    opOutput: Array.from(opOutput.dataSync()),
    implementation: attentionImplementation(probe[0], probe[1], probe[1], {causal: c.useCausalMask}).implementation,
  };
  tf.dispose([...list, ...weights, output, scores, opOutput, ...probe]);
  if (mask != null) mask.dispose();
  layer.dispose();
  return run;
}

export interface ModelRun {
  /** predict() of a functional model with the causal flag and a mask input, and after save → load. */
  predicted: number[];
  reloaded: number[];
  /** fit()'s loss against Keras's output with a zero learning rate: 0 when training-mode outputs are Keras's. */
  fitLoss: number;
  /** The Keras model of the fixture, loaded through withKerasMultiHeadAttention. */
  kerasModelOutput: number[];
}

/** Keras's case `causal_cross_masked` through a functional model; the fixture's Keras model through the loader. */
export async function runModels(fixture: KerasFixture): Promise<ModelRun> {
  const c = fixture.cases.find(k => k.name === 'causal_cross_masked')!;
  const query = tf.input({shape: c.queryShape.slice(1)});
  const value = tf.input({shape: c.valueShape.slice(1)});
  const mask = tf.input({shape: [c.queryShape[1], c.valueShape[1]], dtype: 'bool'});
  const layer = layerOf(c, true);
  const attended = layer.apply([query, value], {attentionMask: mask}) as tf.SymbolicTensor;
  const model = tf.model({inputs: [query, value, mask], outputs: attended});
  const weights = weightTensors(c.weights);
  layer.setWeights(weights);
  const {list, mask: maskValues} = inputsOf(c);
  const inputs = [...list, maskValues!];
  const predicted = model.predict(inputs) as tf.Tensor;
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async artifacts => {
    saved = artifacts;
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  const reloadedModel = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  const reloaded = reloadedModel.predict(inputs) as tf.Tensor;
  const optimizer = tf.train.sgd(0);
  model.compile({optimizer, loss: 'meanSquaredError'});
  const target = tf.tensor(c.output, c.outputShape);
  const history = await model.fit(inputs, target, {epochs: 1, batchSize: c.queryShape[0], verbose: 0});

  const k = fixture.kerasModel;
  const specs = k.weights.map(w => ({name: w.name, shape: w.shape, dtype: 'float32' as const}));
  const data = new Float32Array(k.weights.flatMap(w => w.values)).buffer;
  const artifacts = {modelTopology: k.modelTopology, weightSpecs: specs, weightData: data};
  const kerasModel = await tf.loadLayersModel(withKerasMultiHeadAttention(tf.io.fromMemory(artifacts)));
  const kerasInputs = (kerasModel.inputs).map((input, i) =>
    tf.tensor(input.dtype === 'bool' ? k.inputs[i].map(Boolean) : k.inputs[i], [2, ...input.shape.slice(1) as number[]],
              input.dtype));
  const kerasOutput = kerasModel.predict(kerasInputs) as tf.Tensor;
  const run = {
    predicted: Array.from(predicted.dataSync()), reloaded: Array.from(reloaded.dataSync()),
    fitLoss: history.history.loss[0] as number, kerasModelOutput: Array.from(kerasOutput.dataSync()),
  };
  tf.dispose([...weights, ...inputs, predicted, reloaded, target, ...kerasInputs, kerasOutput]);
  [model, reloadedModel, kerasModel].forEach(m => m.dispose());
  optimizer.dispose();
  return run;
}
