/**
 * MultiHeadAttention's Keras API: constructor arguments and their errors, initializers,
 * regularizers and constraints, a Keras config, weights in and out, returnAttentionScores
 * with training, and the call's types (type-checked by `npm run typecheck`).
 */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {convertKerasMultiHeadAttention, MultiHeadAttention} from '../../src/layers/index';
import type {MultiHeadAttentionArgs} from '../../src/layers/index';
import {randomSeed, testSeed} from '../suite/cases';
import {expectClose, normals} from './helpers';
import {useCpu} from './setup';

const RUN_SEED = randomSeed();

describe(`MultiHeadAttention's Keras API (seed ${RUN_SEED})`, () => {
  before(useCpu);
  let random: (n: number, scale?: number) => Float64Array;
  beforeEach(function() {
    random = normals(testSeed(RUN_SEED, this.currentTest!.fullTitle()));
  });
  const tensor = (shape: number[]) => tf.tensor(Float32Array.from(random(shape.reduce((a, b) => a * b, 1))), shape);

  describe('bad arguments name the layer and the argument', () => {
    const make = (args: object) => () => new MultiHeadAttention(args as MultiHeadAttentionArgs);
    for (const numHeads of [0, 1.5, -2, undefined, '2']) {
      it(`numHeads ${JSON.stringify(numHeads) ?? 'missing'}`, () => {
        expect(make({numHeads, keyDim: 4})).to.throw(/^MultiHeadAttention: numHeads must be a positive integer, got /);
      });
    }
    it('keyDim missing or 2.5, valueDim 0', () => {
      expect(make({numHeads: 2})).to.throw('MultiHeadAttention: keyDim must be a positive integer, got none');
      expect(make({numHeads: 2, keyDim: 2.5})).to.throw(/^MultiHeadAttention: keyDim must be a positive integer, got 2.5/);
      expect(make({numHeads: 2, keyDim: 2, valueDim: 0})).to.throw(/^MultiHeadAttention: valueDim must be .*, got 0/);
    });
    it('no arguments, dropout, outputShape, useBias', () => {
      expect(make(undefined as unknown as object)).to.throw(/MultiHeadAttention: arguments must be an object with numHeads and keyDim/);
      expect(make({numHeads: 2, keyDim: 2, dropout: 1})).to.throw(/^MultiHeadAttention: dropout must be in \[0, 1\), got 1/);
      expect(make({numHeads: 2, keyDim: 2, outputShape: [3, 4]})).to.throw(/outputShape must be a positive integer \(or \[integer\]\), got \[3,4\]/);
      expect(make({numHeads: 2, keyDim: 2, useBias: 'yes'})).to.throw(/^MultiHeadAttention: useBias must be a boolean, got "yes"/);
    });
    it('attentionAxes other than the sequence axis, and Keras options with no counterpart', () => {
      expect(make({numHeads: 2, keyDim: 2, attentionAxes: [1, 2]})).to.throw(/attentionAxes \[1,2\] is not supported: inputs are \[batch, seq, features\]/);
      expect(make({numHeads: 2, keyDim: 2, attentionAxes: 2})).to.throw(/attentionAxes 2 is not supported/);
      for (const axes of [null, 1, [1], -2]) expect(make({numHeads: 2, keyDim: 2, attentionAxes: axes})).to.not.throw();
      expect(make({numHeads: 2, keyDim: 2, useGate: true})).to.throw('MultiHeadAttention: useGate is not supported');
      expect(make({numHeads: 2, keyDim: 2, slidingWindow: 3})).to.throw(/^MultiHeadAttention: slidingWindow is not supported/);
      expect(make({numHeads: 2, keyDim: 2, kernelInitializer: 'noSuchThing'})).to.throw(/kernelInitializer: unknown initializer 'noSuchThing'/);
      expect(make({numHeads: 2, keyDim: 2, kernelRegularizer: 'glorotUniform'})).to.throw(/kernelRegularizer: unknown regularizer 'glorotUniform'/);
    });
    it('an attentionMask that does not fit', () => {
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 2});
      const [x, mask] = [tf.zeros([2, 3, 4]), tf.ones([2, 3, 5], 'bool')];
      expect(() => layer.apply(x, {attentionMask: mask})).to.throw(/MultiHeadAttention: attentionMask must be .*\[2, 2, 3, 3\] \(1 broadcasts\), got shape \[2,3,5\]/);
      tf.dispose([x, mask]);
    });
  });

  it('Keras defaults: glorotUniform kernels (bounded by sqrt(6 / (fanIn + fanOut))), zero biases', () => {
    const layer = new MultiHeadAttention({numHeads: 4, keyDim: 8});
    const x = tf.zeros([1, 2, 16]);
    tf.dispose(layer.apply(x) as tf.Tensor);
    const [kernel, bias] = layer.getWeights();
    // Keras's fans of a [16, 4, 8] kernel: fanIn 4·16, fanOut 8·16.
    const limit = Math.sqrt(6 / (4 * 16 + 8 * 16));
    const values = Array.from(kernel.dataSync());
    expect(Math.max(...values.map(Math.abs))).to.be.at.most(limit);
    expect(Math.max(...values.map(Math.abs))).to.be.greaterThan(limit * 0.8);
    expect(Array.from(bias.dataSync()).every(v => v === 0)).to.equal(true);
    const config = layer.getConfig();
    expect(JSON.parse(JSON.stringify(config.kernelInitializer)))
        .to.deep.equal({className: 'VarianceScaling', config: {scale: 1, mode: 'fanAvg', distribution: 'uniform'}});
    expect(config.biasInitializer).to.deep.equal({className: 'Zeros', config: {}});
    tf.dispose(x);
    layer.dispose();
  });

  it('getWeights() in Keras order and shapes; setWeights() of the same list round-trips', () => {
    const layer = new MultiHeadAttention({numHeads: 2, keyDim: 3, valueDim: 5, outputShape: 7});
    const [q, v, k] = [tensor([2, 4, 6]), tensor([2, 5, 4]), tensor([2, 5, 3])];
    tf.dispose(layer.apply([q, v, k]) as tf.Tensor);
    expect(layer.getWeights().map(w => w.shape))
        .to.deep.equal([[6, 2, 3], [2, 3], [3, 2, 3], [2, 3], [4, 2, 5], [2, 5], [2, 5, 7], [7]]);
    const values = layer.getWeights().map(w => tensor(w.shape));
    layer.setWeights(values);
    layer.getWeights().forEach((w, i) =>
      expect(Array.from(w.dataSync())).to.deep.equal(Array.from(values[i].dataSync())));
    tf.dispose([q, v, k, ...values]);
    layer.dispose();
  });

  it('a Keras layer config and call (snake_case, in a model.json) make the same layer', async () => {
    const kerasConfig = {
      name: 'mha', trainable: true, num_heads: 2, key_dim: 3, value_dim: 5, dropout: 0.1, use_bias: false,
      output_shape: [7], attention_axes: [1], use_gate: false, sliding_window: null, seed: 5, dtype: 'float32',
      kernel_initializer: {class_name: 'GlorotUniform', config: {seed: null}},
      bias_initializer: {class_name: 'Zeros', config: {}},
      kernel_regularizer: {class_name: 'L2', config: {l2: 0.02}}, bias_regularizer: null, activity_regularizer: null,
      kernel_constraint: {class_name: 'NonNeg', config: {}}, bias_constraint: null,
    };
    const topology = {class_name: 'Functional', config: {name: 'm', layers: [
      {
        class_name: 'InputLayer', name: 'x', config: {name: 'x', dtype: 'float32', batch_input_shape: [null, 4, 6]},
        inbound_nodes: [],
      },
      {
        class_name: 'MultiHeadAttention', name: 'mha', config: kerasConfig,
        inbound_nodes: [[['x', 0, 0, {value: ['x', 0, 0], use_causal_mask: true}]]],
      },
    ], input_layers: [['x', 0, 0]], output_layers: [['mha', 0, 0]]}};
    const model = await tf.models.modelFromJSON({modelTopology: convertKerasMultiHeadAttention(topology)});
    const layer = model.layers[1] as MultiHeadAttention;
    expect(layer).to.be.instanceOf(MultiHeadAttention);
    expect(layer.inboundNodes[0].inputTensors).to.have.length(1);
    expect(layer.useCausalMask).to.equal(true);
    expect([layer.numHeads, layer.keyDim, layer.valueDim, layer.useBias, layer.outputDim, layer.dropout, layer.seed])
        .to.deep.equal([2, 3, 5, false, 7, 0.1, 5]);
    expect(layer.getConfig().kernelRegularizer).to.deep.equal({className: 'L1L2', config: {l1: 0, l2: 0.02}});
    expect(layer.getConfig().kernelConstraint).to.deep.equal({className: 'NonNeg', config: {}});
    expect(model.outputs[0].shape).to.deep.equal([null, 4, 7]);
    model.dispose();
    const node = topology.config.layers[1].inbound_nodes[0][0][3] as Record<string, unknown>;
    node.return_attention_scores = true;
    expect(() => convertKerasMultiHeadAttention(topology))
        .to.throw(/Keras MultiHeadAttention 'mha': call argument return_attention_scores=true is not supported/);
  });

  // tf.layers applies constraints where a weight is written (setWeights), not after optimizer steps, for every layer.
  it('regularizers add losses (and fit() trains with them); constraints hold on setWeights()', async () => {
    const x = tf.input({shape: [4, 6]});
    const layer = new MultiHeadAttention({
      numHeads: 2, keyDim: 3, kernelRegularizer: tf.regularizers.l2({l2: 0.5}), biasRegularizer: 'l1',
      kernelConstraint: tf.constraints.nonNeg(), biasConstraint: tf.constraints.maxNorm({maxValue: 0.01, axis: 0}),
    });
    const model = tf.model({inputs: x, outputs: layer.apply(x) as tf.SymbolicTensor});
    const kernels = layer.getWeights().filter((_, i) => i % 2 === 0);  // the variables' own tensors
    const l2 = tf.tidy(() => kernels.reduce((sum, k) => sum + 0.5 * tf.sum(tf.square(k)).dataSync()[0], 0));
    const losses = layer.losses.map(f => f().dataSync()[0]);
    expect(losses).to.have.length(8);
    expectClose([losses.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b)], [l2], 1e-5);
    model.compile({optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError'});
    const [input, target] = [tensor([4, 4, 6]), tensor([4, 4, 6])];
    const history = await model.fit(input, target, {epochs: 1, verbose: 0});
    const unregularized = tf.losses.meanSquaredError(target, model.predict(input) as tf.Tensor);
    expect(history.history.loss[0] as number).to.be.greaterThan(unregularized.dataSync()[0]);
    layer.setWeights(layer.getWeights().map(w => tensor(w.shape)));
    for (const [i, w] of layer.getWeights().entries()) {
      if (i % 2 === 0) expect(Math.min(...w.dataSync()), `weight ${i}`).to.be.at.least(0);
      else expect(Math.max(...w.dataSync().map(Math.abs)), `weight ${i}`).to.be.at.most(0.0100001);
    }
    tf.dispose([input, target, unregularized]);
    model.dispose();
  });

  it('returnAttentionScores: [output, scores]; dropout changes the output, not the scores; a seed repeats', () => {
    const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4, dropout: 0.5, seed: 7});
    const [q, v] = [tensor([2, 3, 8]), tensor([2, 5, 6])];
    const call = (training: boolean) => layer.apply([q, v], {returnAttentionScores: true, training}) as tf.Tensor[];
    const [out, scores] = call(false);
    expect(out.shape).to.deep.equal([2, 3, 8]);
    expect(scores.shape).to.deep.equal([2, 2, 3, 5]);
    expectClose(tf.sum(scores, -1).dataSync(), new Array(12).fill(1), 1e-6);
    const [dropped, sameScores] = call(true);
    expect(Array.from(sameScores.dataSync())).to.deep.equal(Array.from(scores.dataSync()));
    expect(Array.from(dropped.dataSync())).to.not.deep.equal(Array.from(out.dataSync()));
    const plain = layer.apply([q, v], {training: false}) as tf.Tensor;
    expectClose(plain.dataSync(), out.dataSync(), 1e-5);
    const again = new MultiHeadAttention({numHeads: 2, keyDim: 4, dropout: 0.5, seed: 7});
    tf.dispose(again.apply([q, v]) as tf.Tensor);
    again.setWeights(layer.getWeights());
    const repeated = again.apply([q, v], {returnAttentionScores: true, training: true}) as tf.Tensor[];
    expect(Array.from(repeated[0].dataSync())).to.deep.equal(Array.from(dropped.dataSync()));
    tf.dispose([q, v, out, scores, dropped, sameScores, plain, ...repeated]);
  });

  it('eager calls with masks, a bias, causal and scores leave no tensors behind', () => {
    const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4});
    const [q, v, bias] = [tensor([2, 3, 8]), tensor([2, 5, 6]), tensor([1, 2, 3, 5])];
    const mask = tf.ones([2, 3, 5], 'bool');
    tf.dispose(layer.apply([q, v]) as tf.Tensor);
    const before = tf.memory().numTensors;
    for (const returnAttentionScores of [false, true]) {
      const kwargs = {attentionMask: mask, attentionBias: bias, useCausalMask: true, returnAttentionScores};
      tf.dispose(layer.apply([q, v], {...kwargs, training: true}) as tf.Tensor[]);
      tf.dispose(layer.apply([q, v], kwargs) as tf.Tensor[]);
    }
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([q, v, mask, bias]);
    layer.dispose();
  });

  it("the call's kwargs are typed", () => {
    const layer = new MultiHeadAttention({numHeads: 1, keyDim: 2});
    const x = tf.zeros([1, 2, 2]);
    // @ts-expect-error attentionBias is a tensor, an AttentionBias or an array of them
    expect(() => layer.apply(x, {attentionBias: 'oops'})).to.throw();
    // @ts-expect-error useCausalMask is a boolean
    expect(() => layer.apply(x, {useCausalMask: 'yes'})).to.throw(/^MultiHeadAttention: useCausalMask must be a boolean/);
    tf.dispose(x);
  });
});
