import type {KernelBackend, KernelConfig} from '@tensorflow/tfjs-core';
import {AttentionGradInputs, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import {GRAD_OP, runTensorflowOp} from './tensorflow_op';

/**
 * The gradient kernel on `tensorflow`: the op's five outputs, of which the bias gradients
 * (shape [0] where that bias is absent) are returned only for biases present (docs/contract.md §3).
 */
export const scaledDotProductAttentionGradConfig: KernelConfig = {
  kernelName: ScaledDotProductAttentionGrad,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {dy, query, key, value, output, logsumexp, bias, windowBias} = inputs as AttentionGradInputs;
    const opInputs = [dy, query, key, value, output, logsumexp, bias, windowBias];
    const [dQuery, dKey, dValue, dBias, dWindowBias] =
        runTensorflowOp(GRAD_OP, backend as KernelBackend, attrs!, opInputs, 5);
    const grads = [dQuery, dKey, dValue];
    if (bias != null) grads.push(dBias); else dBias.dispose();
    if (windowBias != null) grads.push(dWindowBias); else dWindowBias.dispose();
    return grads;
  },
};
