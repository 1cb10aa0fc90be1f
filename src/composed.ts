/**
 * Attention composed from tfjs-core ops, for backends without a fused kernel (wasm,
 * webgpu, …) and for bias kinds no kernel supports. Same semantics as the fused kernels
 * (masked rows give zeros, the contract's dropout), with a gradient of its own so it
 * needs none of tfjs-core's registered gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import {reduceToShape} from './bias_terms';
import {dropoutRowState, dropoutHash, dropoutThreshold} from './dropout';
import {AttentionShape} from './shapes';

export interface ComposedAttentionArgs {
  shape: AttentionShape;
  scale: number;
  /** Dense terms, each broadcasting to [B, Hq, Sq, Sk]. */
  dense: tf.Tensor[];
  /** WindowBias tensors [nW, 1 | Hq, Sq, Sk]. */
  window: tf.Tensor[];
  dropoutRate: number;
  dropoutSeed: number;
}

/** The dropout multipliers [B, Hq, Sq, Sk]: 1 / (1 − rate) where kept, 0 where dropped. */
export function dropoutMultipliers(shape: AttentionShape, rate: number, seed: number): tf.Tensor {
  const {batch, headsQ, seqQ, seqK} = shape;
  const values = new Float32Array(batch * headsQ * seqQ * seqK);
  const threshold = dropoutThreshold(rate);
  const kept = 1 / (1 - rate);
  let index = 0;
  for (let bh = 0; bh < batch * headsQ; bh++) {
    for (let i = 0; i < seqQ; i++) {
      const row = dropoutRowState(seed, bh, i);
      for (let j = 0; j < seqK; j++) values[index++] = dropoutHash(row, j) >= threshold ? kept : 0;
    }
  }
  return tf.tensor4d(values, [batch, headsQ, seqQ, seqK]);
}

/** [B, Hkv, S, X] → [B, Hq, S, X], each kv head serving `group` consecutive query heads. */
function repeatHeads(t: tf.Tensor, group: number): tf.Tensor {
  if (group === 1) return t;
  const [b, h, s, x] = t.shape;
  return tf.reshape(tf.tile(tf.reshape(t, [b, h, 1, s, x]), [1, 1, group, 1, 1]), [b, h * group, s, x]);
}

/** The gradient of `repeatHeads`: sums each group of query heads. */
function sumHeadGroups(t: tf.Tensor, group: number): tf.Tensor {
  if (group === 1) return t;
  const [b, h, s, x] = t.shape;
  return tf.sum(tf.reshape(t, [b, h / group, group, s, x]), 2);
}

/** Adds a [nW, 1 | Hq, Sq, Sk] window bias to scores [B, Hq, Sq, Sk], batch b taking window b % nW. */
function addWindow(scores: tf.Tensor, window: tf.Tensor): tf.Tensor {
  const [b, h, sq, sk] = scores.shape;
  const nW = window.shape[0];
  const perImage = tf.reshape(scores, [b / nW, nW, h, sq, sk]);
  return tf.reshape(tf.add(perImage, tf.expandDims(window, 0)), scores.shape);
}

/** The gradient of `addWindow` for its window operand. */
function windowGrad(dScores: tf.Tensor, windowShape: readonly number[]): tf.Tensor {
  const [b, h, sq, sk] = dScores.shape;
  const nW = windowShape[0];
  return reduceToShape(tf.sum(tf.reshape(dScores, [b / nW, nW, h, sq, sk]), 0), windowShape);
}

/** softmax along the last axis where a row of all -Infinity gives zeros, not NaN. */
function maskedSoftmax(scores: tf.Tensor): tf.Tensor {
  const max = tf.max(scores, -1, true);
  const finiteMax = tf.where(tf.isFinite(max), max, tf.zerosLike(max));
  const exp = tf.exp(tf.sub(scores, finiteMax));
  const total = tf.sum(exp, -1, true);
  return tf.div(exp, tf.where(tf.greater(total, 0), total, tf.onesLike(total)));
}

export function composedAttention(
    query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, args: ComposedAttentionArgs): tf.Tensor {
  const {shape, scale, dense, window, dropoutRate, dropoutSeed} = args;
  const group = shape.headsQ / shape.headsKV;
  const attention = tf.customGrad((...inputs: unknown[]) => {
    const save = inputs.pop() as tf.GradSaveFunc;
    const [q, k, v, ...biases] = inputs as tf.Tensor[];
    const keys = repeatHeads(k, group);
    const values = repeatHeads(v, group);
    let scores = tf.mul(tf.matMul(q, keys, false, true), scale);
    biases.slice(0, dense.length).forEach(t => scores = tf.add(scores, t));
    biases.slice(dense.length).forEach(t => scores = addWindow(scores, t));
    const probs = maskedSoftmax(scores);
    const multipliers = dropoutRate > 0 ? dropoutMultipliers(shape, dropoutRate, dropoutSeed) : null;
    const kept = multipliers != null ? tf.mul(probs, multipliers) : probs;
    const output = tf.matMul(kept, values);
    save([q, keys, values, probs, kept, output, ...(multipliers != null ? [multipliers] : [])]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dOut = dy as tf.Tensor;
        const [sq, sKeys, sValues, sProbs, sKept, sOutput, sMultipliers] = saved;
        const dValues = tf.matMul(sKept, dOut, true, false);
        let dProbs = tf.matMul(dOut, sValues, false, true);
        if (sMultipliers != null) dProbs = tf.mul(dProbs, sMultipliers);
        // Softmax backward: dS = P ⊙ (dP − rowsum(dO ⊙ O)).
        const rowDot = tf.sum(tf.mul(dOut, sOutput), -1, true);
        const dScores = tf.mul(sProbs, tf.sub(dProbs, rowDot));
        return [
          tf.mul(tf.matMul(dScores, sKeys), scale),
          sumHeadGroups(tf.mul(tf.matMul(dScores, sq, true, false), scale), group),
          sumHeadGroups(dValues, group),
          ...dense.map(t => reduceToShape(dScores, t.shape)),
          ...window.map(t => windowGrad(dScores, t.shape)),
        ];
      },
    };
  });
  return attention(query, key, value, ...dense, ...window);
}
