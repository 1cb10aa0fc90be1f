import type {KernelBackend, KernelConfig} from '@tensorflow/tfjs-core';
import {AttentionInputs, ScaledDotProductAttention} from '../../src/kernel_names';
import {FORWARD_OP, runTensorflowOp} from './tensorflow_op';

/** The forward kernel on tfjs-node's `tensorflow` backend: the library's op, in TensorFlow. */
export const scaledDotProductAttentionConfig: KernelConfig = {
  kernelName: ScaledDotProductAttention,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {query, key, value, bias, windowBias} = inputs as AttentionInputs;
    return runTensorflowOp(FORWARD_OP, backend as KernelBackend, attrs!, [query, key, value, bias, windowBias], 2);
  },
};
