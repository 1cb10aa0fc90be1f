// The layers on tfjs-node's `tensorflow` backend: a small Swin trains with the native kernels.
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs';
import {attentionImplementation, LowerTriangularMask, WindowBias} from '../../src/node';
import {expectSwinFitLearns} from '../layers/helpers';
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

  it('model.fit lowers the loss of a small Swin on a synthetic task', expectSwinFitLearns);
});
