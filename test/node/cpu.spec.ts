import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {describeAttentionSuite} from '../suite/index';

describe('on the cpu backend', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  describeAttentionSuite({
    backend: 'cpu', implementation: 'cpu-fused', forwardTolerance: 1e-5, gradientTolerance: 1e-4, sweepCases: 240,
  });
});
