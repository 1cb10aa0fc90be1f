import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {scaledDotProductAttention} from '../../src/index';
import {caseTensors, makeCase, randomArray, randomSeed, relativeError, rng, testSeed} from '../suite/cases';
import {referenceBackward} from '../suite/reference';
import {describeAttentionSuite} from '../suite/index';

describe('on the cpu backend', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  describeAttentionSuite({
    backend: 'cpu', implementation: 'cpu-fused', forwardTolerance: 1e-5, gradientTolerance: 1e-4, sweepCases: 240,
  });

  describe('the fused backward at very large scores', () => {
    const seed = randomSeed();
    // Scores near `center`: a bias of center + multiples of 1/4 (exact in float32 up to 2^23),
    // so the reference and the kernel see the same values. A float32 logsumexp would put
    // errors of |logsumexp| · 2⁻²⁴ into the rebuilt probabilities (1.4e-3 in dV near 1e4).
    for (const center of [1e4, 2e6]) {
      it(`matches the float64 reference near ${center} (seed ${seed})`, function() {
        const random = rng(testSeed(seed, this.test!.fullTitle()));
        const c = makeCase(random, {
          B: 1, Hq: 2, Sq: 8, Sk: 16, D: 4, Dv: 4, biases: [{kind: 'tensor', shape: [1, 2, 8, 16]}],
        });
        const bias = c.biases[0] as {data: Float64Array};
        bias.data = bias.data.map(() => center + Math.floor(random() * 16) / 4);
        const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
        const want = referenceBackward(c, dy);
        const got = tf.tidy(() => {
          const {q, k, v, biasTensors: [b]} = caseTensors(c);
          const f = (a: tf.Tensor, bk: tf.Tensor, bv: tf.Tensor, bb: tf.Tensor) =>
              scaledDotProductAttention(a as tf.Tensor4D, bk as tf.Tensor4D, bv as tf.Tensor4D, {bias: bb});
          const dyT = tf.tensor4d(Float32Array.from(dy), [c.B, c.Hq, c.Sq, c.Dv]);
          return tf.grads(f)([q, k, v, b], dyT).map(g => g.dataSync());
        });
        [want.dq, want.dk, want.dv, want.dBiases[0]].forEach((w, n) => {
          expect(relativeError(got[n], w), ['dQuery', 'dKey', 'dValue', 'dBias'][n]).to.be.at.most(1e-5);
        });
      });
    }
  });
});
