/**
 * Bias kinds (docs/contract.md §2), after xformers' attn_bias: every bias is additive
 * (-Infinity masks) and is handed to fused kernels in a compact form, never as a
 * [B, Hq, Sq, Sk] tensor. A new kind subclasses AttentionBias; kernels that do not list
 * its `kind` fall back to the composed path, which asks it for its `composedTerm`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {reduceToShape} from '../bias_terms';
import {CausalMode} from '../kernel_names';
import {AttentionShape, fmtShape, OP, scoreShape} from '../shapes';

/** The kinds that have a kernel form (docs/contract.md §3); each kernel declares which it supports. */
export const BIAS_KINDS = ['tensor', 'window', 'causal', 'blockDiagonal'] as const;
export type BiasKind = typeof BIAS_KINDS[number];

/** The kernel form of a call's biases: what `ScaledDotProductAttention` takes. */
export interface LoweredBias {
  /** Dense terms, summed into the kernel's `bias` input. */
  dense: tf.Tensor[];
  /** WindowBias tensors, summed into the kernel's `windowBias` input. */
  window: tf.Tensor[];
  causal: CausalMode;
  qSeqStarts: number[];
  kSeqStarts: number[];
  /** The kinds present, which a fused kernel must all support. */
  kinds: Set<BiasKind>;
}

export function emptyLoweredBias(): LoweredBias {
  return {dense: [], window: [], causal: CausalMode.None, qSeqStarts: [], kSeqStarts: [], kinds: new Set()};
}

/**
 * What a bias adds to the composed path's scores [B, Hq, Sq, Sk], with the gradient of the
 * tensors it is made of (the composed path carries its own gradient).
 */
export interface ComposedTerm {
  /** The tensors the term is made of; each receives a gradient. */
  tensors: tf.Tensor[];
  /** `scores` plus the term, made of `tensors` (the gradient function's own copies of them). */
  addTo(scores: tf.Tensor, tensors: tf.Tensor[]): tf.Tensor;
  /** The gradients of `tensors`, given dScores, the gradient of the scores. */
  grads(dScores: tf.Tensor, tensors: tf.Tensor[]): tf.Tensor[];
}

/** The term of a tensor that broadcasts to the scores. */
export function broadcastTerm(t: tf.Tensor): ComposedTerm {
  return {
    tensors: [t],
    addTo: (scores, [x]) => tf.add(scores, x),
    grads: (dScores, [x]) => [reduceToShape(dScores, x.shape)],
  };
}

export abstract class AttentionBias {
  /** The name kernels declare support for: a `BiasKind` for the kinds with a kernel form. */
  abstract readonly kind: string;

  /** Throws the contract's error when this bias does not fit the call. */
  abstract check(shape: AttentionShape): void;

  /** The smallest dense tensor that broadcasts to [B, Hq, Sq, Sk] (-Infinity where masked). */
  abstract toDense(shape: AttentionShape): tf.Tensor;

  /** The dense [B, Hq, Sq, Sk] tensor, for references and tests. */
  materialize(shape: AttentionShape): tf.Tensor {
    return tf.tidy(() => tf.broadcastTo(this.toDense(shape), scoreShape(shape)));
  }

  /** This bias's part of the composed path's scores; by default its dense form, broadcast. */
  composedTerm(shape: AttentionShape): ComposedTerm {
    return broadcastTerm(this.toDense(shape));
  }

  /**
   * Adds this bias's kernel form to `into`. Returns null, or why it has none (the op
   * then composes). The default: a kind with no kernel form.
   */
  lowerInto(_into: LoweredBias, _shape: AttentionShape): string | null {
    return `bias kind '${this.kind}' has no kernel form`;
  }
}

/** A mask as a dense [1, 1, Sq, Sk] tensor of 0 and -Infinity, from a predicate. */
export function denseMask(shape: AttentionShape, masked: (i: number, j: number) => boolean): tf.Tensor {
  const {seqQ, seqK} = shape;
  const values = new Float32Array(seqQ * seqK);
  for (let i = 0; i < seqQ; i++) {
    for (let j = 0; j < seqK; j++) {
      if (masked(i, j)) values[i * seqK + j] = -Infinity;
    }
  }
  return tf.tensor4d(values, [1, 1, seqQ, seqK]);
}

/** How a value is named in errors: its type, and the value where short (e.g. `string 'no'`). */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'string') return `string '${x}'`;
  if (typeof x === 'number' || typeof x === 'boolean') return `${typeof x} ${String(x)}`;
  if (Array.isArray(x)) return 'an array';
  if (x instanceof tf.Tensor) {
    return x.isDisposed ? 'a disposed tf.Tensor' : `a tf.Tensor of shape ${fmtShape(x.shape)}`;
  }
  return typeof x;
}

/** Throws the contract's TypeError unless `t` is a tf.Tensor that is not disposed. */
export function checkLiveTensor(t: unknown, what: string, expected: string): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    throw new TypeError(`${OP}: ${what} must be ${expected}, got ${describeValue(t)}`);
  }
}

/** Throws a TypeError naming `what` for a key of `given` that is not in `known`. */
export function checkKnownKeys(given: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new Error(`${OP}: unknown ${what} '${key}' (known: ${known.join(', ')})`);
    }
  }
}
