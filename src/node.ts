/**
 * The package in Node: everything of the browser entry, plus the CUDA kernels of the
 * native addon. tfjs-node-gpu's `tensorflow` backend gets them on import when the addon is
 * built and finds a device; `useCudaKernels()` puts them under any other backend.
 */
import {registerCudaForTensorflow} from '../kernels/cuda/index';

export * from './index';
export {cudaAvailability, registerCudaForTensorflow, useCudaKernels} from '../kernels/cuda/index';
export type {CudaPrecision, UseCudaOptions} from '../kernels/cuda/index';

// The reason it did not register (no addon, no device) stays available via cudaAvailability().
registerCudaForTensorflow();
