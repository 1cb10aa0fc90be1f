/**
 * What the `tensorflow` backend's native kernels support (docs/contract.md §4): every bias
 * kind, any size, dropout — once the op library is loaded into tfjs-node's TensorFlow.
 */
import {BIAS_KINDS} from '../../src/bias/attention_bias';
import type {KernelDeclaration} from '../../src/dispatch';
import {loadTensorflowOps} from './native_library';

export const tensorflowDeclaration: KernelDeclaration = {
  name: 'tensorflow-native',
  backend: 'tensorflow',
  biasKinds: BIAS_KINDS,
  maxHeadDim: Infinity,
  dropout: true,
  // Loads the library on the first call on `tensorflow` (tfjs-node may be imported after this package).
  limits: () => {
    const load = loadTensorflowOps();
    return load.loaded ? [] : [load.reason];
  },
};
