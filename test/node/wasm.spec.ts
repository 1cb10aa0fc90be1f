// The wasm backend has no fused kernel: this runs the composed path through the shared suite.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import {describeAttentionSuite} from '../suite/index';

describe('on a backend without a fused kernel (wasm)', () => {
  before(async () => {
    await tf.setBackend('wasm');
  });
  after(async () => {
    await tf.setBackend('cpu');
  });
  describeAttentionSuite({
    backend: 'wasm', implementation: 'composed', forwardTolerance: 1e-5, gradientTolerance: 1e-3, sweepCases: 200,
  });
});
