/**
 * Bias kinds (docs/contract.md §2), after xformers' attn_bias: every bias is additive
 * (-Infinity masks) and is handed to fused kernels in a compact form, never as a
 * [B, Hq, Sq, Sk] tensor. A new kind subclasses AttentionBias; kernels that do not list
 * its `kind` fall back to the composed path, which uses `toDense`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {CausalMode} from '../kernel_names';
import {AttentionShape, scoreShape} from '../shapes';

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
  kinds: Set<string>;
}

export function emptyLoweredBias(): LoweredBias {
  return {dense: [], window: [], causal: CausalMode.None, qSeqStarts: [], kSeqStarts: [], kinds: new Set()};
}

export abstract class AttentionBias {
  /** The name kernels declare support for, e.g. 'window'. */
  abstract readonly kind: string;

  /** Throws the contract's error when this bias does not fit the call. */
  abstract check(shape: AttentionShape): void;

  /** The smallest dense tensor that broadcasts to [B, Hq, Sq, Sk] (-Infinity where masked). */
  abstract toDense(shape: AttentionShape): tf.Tensor;

  /** The dense [B, Hq, Sq, Sk] tensor, for references and the composed path. */
  materialize(shape: AttentionShape): tf.Tensor {
    return tf.tidy(() => tf.broadcastTo(this.toDense(shape), scoreShape(shape)));
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
