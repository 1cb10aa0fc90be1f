/**
 * The CUDA kernels on request for a backend whose tensors live on the host:
 * `useCudaKernels()` puts them first in `cpu`'s kernels, so a call they decline (a head
 * dim above the addon's maximum) goes on to cpu-fused before the composed path.
 */
import {preferFusedKernel} from '../../src/dispatch';
import {CudaDevice, loadCudaAddon} from './addon';
import {CudaPrecision, cudaKernels} from './kernels';

export type {CudaPrecision} from './kernels';

export interface UseCudaOptions {
  /** The backend whose attention calls the CUDA kernels take first; default 'cpu'. */
  backend?: string;
  /** 'tf32' (default, tensor cores as TensorFlow uses on Ampere and newer), 'highest' or 'bf16'. */
  precision?: CudaPrecision;
}

/** Whether the CUDA kernels can run here: the device, or why not. */
export function cudaAvailability(): {available: true, device: CudaDevice} | {available: false, reason: string} {
  const load = loadCudaAddon();
  return load.addon != null ? {available: true, device: load.device} : {available: false, reason: load.reason};
}

/** Puts the CUDA kernels first for `backend`; throws, with the reason, when they cannot run. */
export function useCudaKernels({backend = 'cpu', precision = 'tf32'}: UseCudaOptions = {}): CudaDevice {
  if (!['highest', 'tf32', 'bf16'].includes(precision)) {
    throw new Error(`useCudaKernels: precision must be 'highest', 'tf32' or 'bf16', got ${String(precision)}`);
  }
  const load = loadCudaAddon();
  if (load.addon == null) throw new Error(`useCudaKernels: ${load.reason}`);
  preferFusedKernel(cudaKernels(load.addon, backend, precision));
  return load.device;
}
