/**
 * Which implementation runs a call (docs/contract.md §4). TF.js keys kernels by backend and
 * name, so a registered kernel cannot decline a call: each fused kernel declares what it
 * supports, and the op runs it only when the declaration fits, else the composed path.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LoweredBias} from './bias/attention_bias';
import type {AttentionShape} from './shapes';

/** What a fused kernel sees of a call when it decides whether it can run it. */
export interface AttentionCall {
  shape: AttentionShape;
  /** The bias in kernel form, or null when some bias has none. */
  bias: LoweredBias | null;
  dropoutRate: number;
}

export interface FusedAttentionKernel {
  /** A name for reports, e.g. 'cpu-fused', 'webgl-fused', 'cuda'. */
  name: string;
  backendName: string;
  /** Why this kernel cannot run `call`; empty when it can. */
  notSupportedReasons(call: AttentionCall): string[];
}

const fusedKernels = new Map<string, FusedAttentionKernel>();

/**
 * Declares the fused kernel registered (with `registerKernel`) for `kernel.backendName`.
 * A later declaration for the same backend replaces the earlier one, as re-registering
 * the kernels does (e.g. CUDA kernels taking over `cpu`).
 */
export function declareFusedAttention(kernel: FusedAttentionKernel): void {
  fusedKernels.set(kernel.backendName, kernel);
}

export function fusedAttentionFor(backendName: string): FusedAttentionKernel | undefined {
  return fusedKernels.get(backendName);
}

/** Reasons shared by declarations: bias kinds a kernel does not list. */
export function unsupportedBiasKinds(call: AttentionCall, supported: ReadonlySet<string>): string[] {
  if (call.bias == null) return [];
  return [...call.bias.kinds].filter(kind => !supported.has(kind)).map(kind => `bias kind '${kind}' is not supported`);
}

export interface AttentionDispatch {
  backend: string;
  /** The fused kernel's name, or 'composed'. */
  implementation: string;
  /** For each implementation not chosen, why. */
  reasons: Record<string, string[]>;
}

/** Decides for a call; the op and `attentionImplementation` both use it. */
export function chooseImplementation(backendName: string, call: AttentionCall, loweringReason: string | null):
    AttentionDispatch {
  const kernel = fusedKernels.get(backendName);
  if (kernel == null) {
    return {
      backend: backendName,
      implementation: 'composed',
      reasons: {fused: [`no fused kernel is registered for backend '${backendName}'`]},
    };
  }
  const reasons = loweringReason != null ? [loweringReason] : kernel.notSupportedReasons(call);
  return reasons.length === 0 ? {backend: backendName, implementation: kernel.name, reasons: {composed: ['a fused kernel fits']}} :
                                {backend: backendName, implementation: 'composed', reasons: {[kernel.name]: reasons}};
}

/** A backend's fused kernels: their TF.js configs and what they support. */
export interface FusedBackendKernels {
  kernelConfigs: tf.KernelConfig[];
  declaration: FusedAttentionKernel;
}

/** Registers a backend's fused kernels with TF.js, replacing any registered before. */
export function registerFusedBackend({kernelConfigs, declaration}: FusedBackendKernels): void {
  for (const config of kernelConfigs) {
    if (tf.getKernel(config.kernelName, config.backendName) != null) {
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
  declareFusedAttention(declaration);
}
