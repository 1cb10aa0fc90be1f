/**
 * Registering the CUDA kernels: on request for any host-memory backend (`useCudaKernels()`
 * takes over `cpu`), and for tfjs-node's `tensorflow` backend when a device is found.
 */
import {registerFusedBackend} from '../../src/dispatch';
import {CudaDevice, loadCudaAddon} from './addon';
import {CudaPrecision, cudaKernels} from './kernels';

export type {CudaPrecision} from './kernels';

export interface UseCudaOptions {
  /** The backend whose attention kernels the CUDA ones replace; default 'cpu'. */
  backend?: string;
  /** 'tf32' (default, tensor cores as TensorFlow uses on Ampere and newer), 'highest' or 'bf16'. */
  precision?: CudaPrecision;
}

/** Whether the CUDA kernels can run here: the device, or why not. */
export function cudaAvailability(): {available: true, device: CudaDevice} | {available: false, reason: string} {
  const load = loadCudaAddon();
  return load.addon != null ? {available: true, device: load.device} : {available: false, reason: load.reason};
}

/** Registers the CUDA kernels for `backend`; throws, with the reason, when they cannot run. */
export function useCudaKernels({backend = 'cpu', precision = 'tf32'}: UseCudaOptions = {}): CudaDevice {
  if (!['highest', 'tf32', 'bf16'].includes(precision)) {
    throw new Error(`useCudaKernels: precision must be 'highest', 'tf32' or 'bf16', got ${String(precision)}`);
  }
  const load = loadCudaAddon();
  if (load.addon == null) throw new Error(`useCudaKernels: ${load.reason}`);
  registerFusedBackend(cudaKernels(load.addon, backend, precision));
  return load.device;
}

/**
 * For the Node entry: registers the CUDA kernels for tfjs-node's `tensorflow` backend when
 * the addon finds a device; returns why not otherwise.
 */
export function registerCudaForTensorflow(): string | null {
  const load = loadCudaAddon();
  if (load.addon == null) return load.reason;
  registerFusedBackend(cudaKernels(load.addon, 'tensorflow', 'tf32'));
  return null;
}
