/**
 * The package in Node: everything of the browser entry, plus the CUDA kernels of the
 * native addon. tfjs-node-gpu's `tensorflow` backend gets them on import when the addon is
 * built and finds a device; `useCudaKernels()` puts them under any other backend.
 */
export * from './index';
export {cudaAvailability, useCudaKernels} from '../kernels/cuda/index';
export type {CudaPrecision, UseCudaOptions} from '../kernels/cuda/index';
