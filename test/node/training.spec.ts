// Training through the op: tf.variableGrads and optimizer.minimize, as a model would.
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import {scaledDotProductAttention, WindowBias} from '../../src/index';

describe('training through scaledDotProductAttention (cpu)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('tf.variableGrads reaches query, key, value and both bias variables', () => {
    tf.tidy(() => {
      const q = tf.variable(tf.randomNormal([4, 2, 6, 8]));
      const kv = tf.variable(tf.randomNormal([4, 2, 6, 8]));
      const bias = tf.variable(tf.randomNormal([1, 2, 6, 6]));
      const window = tf.variable(tf.randomNormal([2, 1, 6, 6]));
      const {grads} = tf.variableGrads(() => tf.sum(tf.square(scaledDotProductAttention(
          q as unknown as tf.Tensor4D, kv as unknown as tf.Tensor4D, kv as unknown as tf.Tensor4D,
          {bias: [bias, new WindowBias(window)], causal: true}))));
      for (const v of [q, kv, bias, window]) {
        const g = grads[v.name];
        expect(g.shape).to.deep.equal(v.shape);
        expect(tf.max(tf.abs(g)).dataSync()[0]).to.be.greaterThan(0);
      }
      tf.dispose([q, kv, bias, window]);
    });
  });

  it('optimizer.minimize fits a target and leaks nothing per step', () => {
    const q = tf.variable(tf.randomNormal([2, 2, 5, 4]));
    const k = tf.randomNormal([2, 2, 7, 4]), v = tf.randomNormal([2, 2, 7, 3]);
    const target = tf.randomNormal([2, 2, 5, 3]);
    const optimizer = tf.train.adam(0.05);
    const loss = () => tf.mean(tf.squaredDifference(
        scaledDotProductAttention(q as unknown as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D),
        target)) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    optimizer.minimize(loss);
    const tensors = tf.memory().numTensors;
    for (let step = 0; step < 60; step++) optimizer.minimize(loss);
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(tf.tidy(() => loss().dataSync()[0])).to.be.lessThan(first * 0.9);
    optimizer.dispose();
    tf.dispose([q, k, v, target]);
  });
});
