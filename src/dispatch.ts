/**
 * Which implementation runs a call (docs/contract.md §4).
 *
 * Each backend has an ordered list of fused kernels, each with a declaration: data saying
 * what it supports. The op takes the first kernel whose declaration fits the call, else
 * composes tfjs-core ops itself. TF.js keys kernels by (name, backend), so one kernelFunc
 * per backend and kernel name is registered: it runs the kernel that the op named in the
 * `implementation` attr, which the gradient receives too.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {BiasKind, LoweredBias} from './bias/attention_bias';
import {AttentionAttrs, ScaledDotProductAttention, ScaledDotProductAttentionGrad} from './kernel_names';
import {AttentionShape, OP} from './shapes';

/** What a declaration sees of a call. */
export interface AttentionCall {
  shape: AttentionShape;
  /** The biases' kernel form, or null when some bias has none (`biasReason` says why). */
  bias: LoweredBias | null;
  biasReason: string | null;
  dropoutRate: number;
}

/** What a fused kernel supports, as data; `notSupportedReasons` reads it. */
export interface KernelDeclaration {
  /** The name reports use and the `implementation` attr carries, e.g. 'cpu-fused', 'cuda'. */
  name: string;
  /** The TF.js backend whose tensors it reads. */
  backend: string;
  biasKinds: readonly BiasKind[];
  /** The largest headDim and valueDim it runs (Infinity: no limit). */
  maxHeadDim: number;
  dropout: boolean;
  /**
   * Backend-specific limits (WebGL version, texture sizes, …), as reasons. Pure: reads
   * the call and the environment, never throws, never prints.
   */
  limits?: (call: AttentionCall) => string[];
}

/** Why the kernel `declaration` describes cannot run `call`; empty when it can. Pure. */
export function notSupportedReasons(declaration: KernelDeclaration, call: AttentionCall): string[] {
  const reasons = call.bias == null ? [call.biasReason ?? 'a bias has no kernel form'] :
                                      [...call.bias.kinds].filter(kind => !declaration.biasKinds.includes(kind))
                                          .map(kind => `bias kind '${kind}' is not supported`);
  const dim = Math.max(call.shape.headDim, call.shape.valueDim);
  if (dim > declaration.maxHeadDim) reasons.push(`head dim ${dim} is above its maximum ${declaration.maxHeadDim}`);
  if (call.dropoutRate > 0 && !declaration.dropout) reasons.push('no dropout');
  return reasons.concat(declaration.limits?.(call) ?? []);
}

/** A fused kernel of one backend: its TF.js kernel configs (forward and gradient) and its declaration. */
export interface FusedBackendKernels {
  kernelConfigs: tf.KernelConfig[];
  declaration: KernelDeclaration;
}

interface FusedKernel {
  declaration: KernelDeclaration;
  /** Kernel functions by kernel name. */
  kernelFuncs: Map<string, tf.KernelFunc>;
}

const kernelLists = new Map<string, FusedKernel[]>();
/** The kernel functions registered with TF.js, by `${kernelName}/${backend}`. */
const dispatchers = new Map<string, tf.KernelFunc>();

/** The kernel function of (kernelName, backend): runs the kernel the attrs name, by default the first. */
function dispatchingKernelFunc(kernelName: string, backend: string): tf.KernelFunc {
  return args => {
    const name = (args.attrs as unknown as Partial<AttentionAttrs> | undefined)?.implementation;
    const list = kernelLists.get(backend) ?? [];
    const kernel = name == null ? list[0] : list.find(k => k.declaration.name === name);
    const func = kernel?.kernelFuncs.get(kernelName);
    if (func == null) {
      throw new Error(
          `${OP}: no fused kernel '${name ?? ''}' with ${kernelName} is registered for backend '${backend}'`);
    }
    return func(args);
  };
}

function toFusedKernel({kernelConfigs, declaration}: FusedBackendKernels): FusedKernel {
  return {declaration, kernelFuncs: new Map(kernelConfigs.map(c => [c.kernelName, c.kernelFunc]))};
}

/** Sets `backend`'s kernels, in order of preference ([] leaves every call to the composed path). */
function setKernelList(backend: string, list: FusedKernel[]): void {
  kernelLists.set(backend, list);
  for (const kernelName of [ScaledDotProductAttention, ScaledDotProductAttentionGrad]) {
    const key = `${kernelName}/${backend}`;
    const registered = tf.getKernel(kernelName, backend);
    if (registered != null && registered.kernelFunc === dispatchers.get(key)) continue;
    if (registered != null) tf.unregisterKernel(kernelName, backend);
    const kernelFunc = dispatchingKernelFunc(kernelName, backend);
    dispatchers.set(key, kernelFunc);
    tf.registerKernel({kernelName, backendName: backend, kernelFunc});
  }
}

/** Makes `kernels` the only fused kernel of its backend (as the package does on import for cpu and webgl). */
export function registerFusedBackend(kernels: FusedBackendKernels): void {
  const kernel = toFusedKernel(kernels);
  setKernelList(kernel.declaration.backend, [kernel]);
}

/**
 * Puts `kernels` first in its backend's list, replacing a kernel of the same name: calls
 * it declines go on to the next (e.g. CUDA before cpu-fused on cpu).
 */
export function preferFusedKernel(kernels: FusedBackendKernels): void {
  const kernel = toFusedKernel(kernels);
  const {name, backend} = kernel.declaration;
  setKernelList(backend, [kernel, ...(kernelLists.get(backend) ?? []).filter(k => k.declaration.name !== name)]);
}

/** Takes the kernel `name` out of `backend`'s list (e.g. to stop using CUDA kernels). */
export function withdrawFusedKernel(name: string, backend: string): void {
  setKernelList(backend, (kernelLists.get(backend) ?? []).filter(k => k.declaration.name !== name));
}

/** The declarations of `backend`'s fused kernels, in order. */
export function fusedKernelsFor(backend: string): KernelDeclaration[] {
  return (kernelLists.get(backend) ?? []).map(k => k.declaration);
}

/**
 * Leaves every call on `backend` to the composed path (for comparisons); returns a function
 * that restores its kernels.
 */
export function forceComposed(backend: string): () => void {
  const saved = kernelLists.get(backend) ?? [];
  setKernelList(backend, []);
  return () => setKernelList(backend, saved);
}

export interface AttentionDispatch {
  backend: string;
  /** The fused kernel's name, or 'composed'. */
  implementation: string;
  /** For each kernel declined, why; for 'composed' when a kernel runs, why not. */
  reasons: Record<string, string[]>;
}

/** Decides for a call: the first kernel of the backend's list that fits. The op and attentionImplementation use it. */
export function chooseImplementation(backend: string, call: AttentionCall): AttentionDispatch {
  const list = kernelLists.get(backend) ?? [];
  if (list.length === 0) {
    const reason = `no fused kernel is registered for backend '${backend}'`;
    return {backend, implementation: 'composed', reasons: {fused: [reason]}};
  }
  const reasons: Record<string, string[]> = {};
  for (const {declaration} of list) {
    const declined = notSupportedReasons(declaration, call);
    if (declined.length === 0) {
      return {backend, implementation: declaration.name, reasons: {...reasons, composed: ['a fused kernel fits']}};
    }
    reasons[declaration.name] = declined;
  }
  return {backend, implementation: 'composed', reasons};
}
