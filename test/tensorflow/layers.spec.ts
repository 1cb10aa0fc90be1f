// The layers on tfjs-node's `tensorflow` backend: a small Swin trains with the native kernels.
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs';
import {attentionImplementation, LowerTriangularMask, WindowBias} from '../../src/node';
import {swinTransformer} from '../../src/layers/index';
import {useTensorflow} from './setup';

describe('the layers on the tensorflow backend', function () {
  before(useTensorflow);

  it('window attention with a relative bias and a shift mask runs the native kernels', () => {
    tf.tidy(() => {
      const q = tf.zeros([8, 2, 4, 8]) as tf.Tensor4D;
      const bias = [tf.zeros([1, 2, 4, 4]), new WindowBias(tf.zeros([4, 1, 4, 4])), new LowerTriangularMask()];
      expect(attentionImplementation(q, q, q, {bias}).implementation).to.equal('tensorflow-native');
    });
  });

  it('model.fit lowers the loss of a small Swin on a synthetic task', async () => {
    const count = 64;
    // Class 1: brighter left half; class 0: brighter right half; plus noise.
    const labels = Array.from({length: count}, (_, i) => i % 2);
    const noise = tf.randomNormal([count, 8, 8, 1], 0, 0.5, 'float32', 3);
    const brightness = (label: number, k: number) => ((k % 8 < 4) === (label === 1) ? 1 : -1);
    const halves = tf.tensor4d(labels.flatMap(label => Array.from({length: 64}, (_, k) => brightness(label, k))),
                               [count, 8, 8, 1]);
    const xs = tf.add(halves, noise);
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
    tf.dispose([noise, halves, xs, ys]);
    model.dispose();
  });
});
