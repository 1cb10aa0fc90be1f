/**
 * The gradient of `ScaledDotProductAttention` (docs/contract.md §3): runs the backend's
 * `ScaledDotProductAttentionGrad` kernel once and hands each input its part.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AttentionAttrs, AttentionGradInputs, ScaledDotProductAttention, ScaledDotProductAttentionGrad,
} from './kernel_names';

export const attentionGradConfig: tf.GradConfig = {
  kernelName: ScaledDotProductAttention,
  // The op passes its inputs as an array with named entries (see kernelInputs), so
  // all of them, whichever biases are present, are saved in order.
  saveAllInputs: true,
  outputsToSave: [true, true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const a = attrs as unknown as AttentionAttrs;
    // The logsumexp output is a by-product: its incoming gradient is not propagated.
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const [query, key, value, ...rest] = saved;
    const bias = a.hasBias ? rest.shift() : undefined;
    const windowBias = a.hasWindowBias ? rest.shift() : undefined;
    const [output, logsumexp] = rest;
    const inputs: AttentionGradInputs = {dy, query, key, value, output, logsumexp};
    if (bias != null) inputs.bias = bias;
    if (windowBias != null) inputs.windowBias = windowBias;
    // Run eagerly: the tape calls each closure in its own tidy, which would otherwise
    // dispose the other outputs of the one kernel call.
    const grads = tf.engine().runKernel(
                      ScaledDotProductAttentionGrad, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor[];
    const [dQuery, dKey, dValue] = grads;
    const result: Record<string, () => tf.Tensor> = {query: () => dQuery, key: () => dKey, value: () => dValue};
    if (bias != null) result.bias = () => grads[3];
    if (windowBias != null) result.windowBias = () => grads[grads.length - 1];
    return result;
  },
};
