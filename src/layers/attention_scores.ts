/**
 * Attention that also returns its probabilities, for MultiHeadAttention's
 * `returnAttentionScores`: composed from tfjs-core ops (the fused kernels keep no
 * [B, H, T, S] buffer). Same semantics as the op (docs/contract.md §1, §5): a fully masked
 * row has zero probabilities, as Keras 3's masked softmax gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import {AttentionBias} from '../bias/attention_bias';
import {DenseBias} from '../bias/dense_bias';
import {LowerTriangularMask} from '../bias/lower_triangular_mask';
import {dropoutMultipliers, maskedSoftmax} from '../composed';
import type {BiasLike} from '../scaled_dot_product_attention';
import type {AttentionShape} from '../shapes';

export interface ScoredAttentionArgs {
  biases: BiasLike[];
  causal: boolean;
  scale: number;
  /** Dropout on the probabilities that multiply the values; the returned scores are before it. */
  dropoutRate: number;
  /** The dropout's seed (docs/contract.md §5); default a random one. */
  seed?: number;
}

/** query [B, H, T, D], key [B, H, S, D], value [B, H, S, Dv] → output [B, H, T, Dv] and scores [B, H, T, S]. */
export function attentionWithScores(
    query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, args: ScoredAttentionArgs):
    {output: tf.Tensor, scores: tf.Tensor} {
  const [batch, heads, seqQ, headDim] = query.shape;
  const [, , seqK, valueDim] = value.shape;
  const shape: AttentionShape = {batch, headsQ: heads, headsKV: heads, seqQ, seqK, headDim, valueDim};
  const biases = args.biases.map(b => (b instanceof AttentionBias ? b : new DenseBias(b)));
  if (args.causal) biases.push(new LowerTriangularMask());
  let logits = tf.mul(tf.matMul(query, key, false, true), args.scale);
  for (const bias of biases) {
    bias.check(shape);
    logits = tf.add(logits, bias.toDense(shape));
  }
  const scores = maskedSoftmax(logits);
  const seed = args.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const kept = args.dropoutRate > 0 ? tf.mul(scores, dropoutMultipliers(shape, args.dropoutRate, seed)) : scores;
  return {output: tf.matMul(kept, value), scores};
}
