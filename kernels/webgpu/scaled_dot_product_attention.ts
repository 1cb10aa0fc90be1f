/**
 * The forward kernel on webgpu: one AttentionForwardProgram writes every row's output and
 * logsumexp side by side; two copies split them into the kernel's outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {AttentionAttrs, AttentionInputs, ScaledDotProductAttention} from '../../src/kernel_names';
import {AttentionForwardProgram} from './attention_forward_program';
import {attentionGeometry, attentionUniforms, biasInputs, rangesTensor} from './geometry';
import {ProgramRunner} from './program_runner';

export function scaledDotProductAttentionWebGPU(
    args: {inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs?: tf.NamedAttrMap}): tf.TensorInfo[] {
  const inputs = args.inputs as AttentionInputs;
  const attrs = args.attrs as unknown as AttentionAttrs;
  const backend = args.backend as WebGPUBackend;
  const g = attentionGeometry(inputs, attrs);
  const {batch, headsQ, seqQ, valueDim} = g.layout.shape;
  const runner = new ProgramRunner(backend);
  try {
    const program = new AttentionForwardProgram(g);
    const ranges = g.ranged ? [runner.temporary(rangesTensor(backend, g))] : [];
    const both = runner.temporary(runner.run(
        program, [inputs.query, inputs.key, inputs.value, ...biasInputs(g, inputs), ...ranges], attentionUniforms(g)));
    return [
      runner.columns(both, 0, valueDim, [batch, headsQ, seqQ, valueDim]),
      runner.columns(both, valueDim, 1, [batch, headsQ, seqQ]),
    ];
  } finally {
    runner.dispose();
  }
}

export const scaledDotProductAttentionConfig: tf.KernelConfig = {
  kernelName: ScaledDotProductAttention,
  backendName: 'webgpu',
  kernelFunc: scaledDotProductAttentionWebGPU as unknown as tf.KernelFunc,
};
