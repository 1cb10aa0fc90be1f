/**
 * The package in Node: everything of the browser entry, plus the native kernels. On
 * tfjs-node's `tensorflow` backend the op runs as a TensorFlow op of this package's library
 * (loaded on the first call), so tensors never leave TensorFlow; `useCudaKernels()` puts the
 * CUDA kernels of the native addon under a host-memory backend such as `cpu`.
 */
import {tensorflowKernels} from '../kernels/tensorflow/index';
import {registerFusedBackend} from './dispatch';

export * from './index';
export {cudaAvailability, useCudaKernels} from '../kernels/cuda/index';
export type {CudaPrecision, UseCudaOptions} from '../kernels/cuda/index';
export {tensorflowAvailability} from '../kernels/tensorflow/index';

registerFusedBackend(tensorflowKernels);
