import {describeAttentionSuite} from '../suite/index';

describe('on the webgl backend', () => {
  describeAttentionSuite({
    backend: 'webgl', implementation: 'webgl-fused', forwardTolerance: 1e-5, gradientTolerance: 1e-4, sweepCases: 30,
  });
});
