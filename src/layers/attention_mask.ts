/**
 * Keras's boolean masks (true = attend) as one additive bias for the op: `attentionMask`
 * [B, T, S] (or [T, S], or [B, heads, T, S]), and the per-token masks of the query, value and
 * key, as Keras 3's MultiHeadAttention combines them (`_compute_attention_mask`).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface KerasMasks {
  /** Nonzero or true = attend. */
  attentionMask?: tf.Tensor;
  /** [B, T]: a masked query row attends to nothing (zero scores, as Keras 3). */
  queryMask?: tf.Tensor;
  /** [B, S]: masked keys are not attended to. */
  valueMask?: tf.Tensor;
  keyMask?: tf.Tensor;
}

const isBroadcastDim = (dim: number, size: number) => dim === 1 || dim === size;

/** Throws unless `mask` is [T, S], [B, T, S] or [B, heads, T, S] with each dim its size or 1. */
export function checkAttentionMask(
    mask: tf.Tensor, sizes: {batch: number, heads: number, seqQ: number, seqK: number}, layer: string): void {
  const {batch, heads, seqQ, seqK} = sizes;
  const expected = mask.rank === 3 ? [batch, seqQ, seqK] : [batch, heads, seqQ, seqK].slice(4 - mask.rank);
  if (mask.rank < 2 || mask.rank > 4 || !mask.shape.every((d, i) => isBroadcastDim(d, expected[i]))) {
    throw new Error(
        `${layer}: attentionMask must be [seqQ, seqK], [batch, seqQ, seqK] or [batch, numHeads, seqQ, seqK] = ` +
        `[${batch}, ${heads}, ${seqQ}, ${seqK}] (1 broadcasts), got shape [${mask.shape}]`);
  }
}

const asBoolean = (mask: tf.Tensor) => (mask.dtype === 'bool' ? mask : tf.notEqual(mask, 0));

/** The masks ANDed into [B|1, H|1, T|1, S|1] booleans, or null when there are none. */
function allowed(masks: KerasMasks): tf.Tensor | null {
  const {attentionMask, queryMask, valueMask, keyMask} = masks;
  const parts: tf.Tensor[] = [];
  if (attentionMask != null) {
    const rank4 = [1, 1, ...attentionMask.shape].slice(-4);
    if (attentionMask.rank === 3) rank4.splice(0, 2, attentionMask.shape[0], 1);
    parts.push(tf.reshape(asBoolean(attentionMask), rank4));
  }
  if (queryMask != null) parts.push(tf.reshape(asBoolean(queryMask), [queryMask.shape[0], 1, -1, 1]));
  for (const tokens of [valueMask, keyMask]) {
    if (tokens != null) parts.push(tf.reshape(asBoolean(tokens), [tokens.shape[0], 1, 1, -1]));
  }
  return parts.length === 0 ? null : parts.reduce((a, b) => tf.logicalAnd(a, b));
}

/** 0 where attended, -Infinity where masked, broadcasting to [B, H, T, S]; null without masks. */
export function maskBias(masks: KerasMasks): tf.Tensor | null {
  const attend = allowed(masks);
  if (attend == null) return null;
  return tf.where(attend, tf.zeros(attend.shape), tf.fill(attend.shape, -Infinity));
}
