/**
 * Attention composed from tfjs-core ops, for backends without a fused kernel (wasm,
 * webgpu, …) and for calls no kernel supports. Same semantics as the fused kernels (masked
 * rows give zeros, the contract's dropout, non-finite values of docs/contract.md §7), with a
 * gradient of its own so it needs none of tfjs-core's registered gradients. Each bias adds
 * its own term (`AttentionBias.composedTerm`): nothing here knows the kinds.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {ComposedTerm} from './bias/attention_bias';
import {dropoutRowState, dropoutHash, dropoutThreshold} from './dropout';
import {AttentionShape, scoreShape} from './shapes';

export interface ComposedAttentionArgs {
  shape: AttentionShape;
  scale: number;
  /** The biases' terms, summed into the scores. */
  terms: ComposedTerm[];
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

/** softmax along the last axis where a row of all -Infinity gives zeros, not NaN. */
export function maskedSoftmax(scores: tf.Tensor): tf.Tensor {
  const max = tf.max(scores, -1, true);
  const finiteMax = tf.where(tf.isFinite(max), max, tf.zerosLike(max));
  const exp = tf.exp(tf.sub(scores, finiteMax));
  const total = tf.sum(exp, -1, true);
  return tf.div(exp, tf.where(tf.greater(total, 0), total, tf.onesLike(total)));
}

/**
 * P'·V where a key masked for a row is not read by it (docs/contract.md §7): non-finite
 * values are left out of the product, then a row that reads (unmasked) a key with a
 * non-finite value gets NaN. Returns the output and the values used by the gradient.
 */
function readValues(kept: tf.Tensor, values: tf.Tensor, masked: tf.Tensor):
    {output: tf.Tensor, finiteValues: tf.Tensor} {
  const finite = tf.isFinite(values);
  const finiteValues = tf.where(finite, values, tf.zerosLike(values));
  const keyIsNonFinite = tf.cast(tf.logicalNot(tf.all(finite, -1, true)), 'float32');
  const readsNonFinite = tf.greater(tf.matMul(tf.cast(tf.logicalNot(masked), 'float32'), keyIsNonFinite), 0);
  const output = tf.matMul(kept, finiteValues);
  return {output: tf.where(readsNonFinite, tf.fill(output.shape, NaN), output), finiteValues};
}

export function composedAttention(
    query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, args: ComposedAttentionArgs): tf.Tensor {
  const {shape, scale, terms, dropoutRate, dropoutSeed} = args;
  const group = shape.headsQ / shape.headsKV;
  const termTensors = terms.map(t => t.tensors);
  const attention = tf.customGrad((...inputs: unknown[]) => {
    const save = inputs.pop() as tf.GradSaveFunc;
    const [q, k, v, ...flat] = inputs as tf.Tensor[];
    let next = 0;
    const termInputs = termTensors.map(ts => flat.slice(next, next += ts.length));
    const keys = repeatHeads(k, group);
    const values = repeatHeads(v, group);
    let scores = tf.mul(tf.matMul(q, keys, false, true), scale);
    // Masked entries are set, not added: a non-finite product there is not read (§7).
    let masked: tf.Tensor | null = null;
    if (terms.length > 0) {
      const bias = terms.reduce((sum, term, n) => term.addTo(sum, termInputs[n]), tf.zeros(scoreShape(shape)));
      masked = tf.equal(bias, -Infinity);
      scores = tf.where(masked, bias, tf.add(scores, bias));
    }
    const probs = maskedSoftmax(scores);
    const multipliers = dropoutRate > 0 ? dropoutMultipliers(shape, dropoutRate, dropoutSeed) : null;
    const kept = multipliers != null ? tf.mul(probs, multipliers) : probs;
    const {output, finiteValues} =
        masked != null ? readValues(kept, values, masked) : {output: tf.matMul(kept, values), finiteValues: values};
    const optional = [...(multipliers != null ? [multipliers] : []), ...(masked != null ? [masked] : [])];
    save([q, keys, finiteValues, probs, kept, output, ...optional]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dOut = dy as tf.Tensor;
        const [sq, sKeys, sValues, sProbs, sKept, sOutput, ...rest] = saved;
        const sMultipliers = multipliers != null ? rest.shift() : undefined;
        const sMasked = rest.shift();
        const dValues = tf.matMul(sKept, dOut, true, false);
        let dProbs = tf.matMul(dOut, sValues, false, true);
        if (sMultipliers != null) dProbs = tf.mul(dProbs, sMultipliers);
        // Softmax backward: dS = P ⊙ (dP − rowsum(dO ⊙ O)); 0 where masked.
        const rowDot = tf.sum(tf.mul(dOut, sOutput), -1, true);
        let dScores = tf.mul(sProbs, tf.sub(dProbs, rowDot));
        if (sMasked != null) dScores = tf.where(sMasked, tf.zerosLike(dScores), dScores);
        return [
          tf.mul(tf.matMul(dScores, sKeys), scale),
          sumHeadGroups(tf.mul(tf.matMul(dScores, sq, true, false), scale), group),
          sumHeadGroups(dValues, group),
          ...terms.flatMap((term, n) => term.grads(dScores, termInputs[n])),
        ];
      },
    };
  });
  return attention(query, key, value, ...termTensors.flat());
}
