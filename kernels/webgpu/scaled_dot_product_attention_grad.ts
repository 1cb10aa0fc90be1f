/**
 * The backward kernel on webgpu (FlashAttention-2, two passes as WGSL has no float
 * atomics): the row stats (logsumexp, rowsum(dO ⊙ O), key ranges) in one buffer, then dQ by
 * query rows, dK and dV by keys, and each bias gradient by bias elements, all recomputing
 * P = exp(S − logsumexp) tile by tile.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {AttentionAttrs, AttentionGradInputs, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import {BiasGradProgram, BiasGradView, SumPartsProgram} from './bias_grad_program';
import {AttentionGeometry, attentionGeometry, attentionUniforms, biasInputs, rangesTensor} from './geometry';
import {KeyValueGradProgram} from './key_value_grad_program';
import {ProgramRunner} from './program_runner';
import {QueryGradProgram} from './query_grad_program';
import {RowStatsProgram} from './row_stats_program';

/** How the bias of `shape` (rank ≤ 4, broadcasting to [B, Hq, Sq, Sk]) sums the score gradients. */
function denseView(g: AttentionGeometry, shape: number[]): BiasGradView {
  const {batch, headsQ, seqQ, seqK} = g.layout.shape;
  const padded = [...new Array(4 - shape.length).fill(1), ...shape];
  const full = [batch, headsQ, seqQ, seqK];
  return {shape: padded, counts: full.map((n, d) => padded[d] === 1 ? n : 1), batchStep: 1};
}

function windowView(g: AttentionGeometry, shape: number[]): BiasGradView {
  const {batch, headsQ} = g.layout.shape;
  const [windows, heads] = shape;
  return {shape, counts: [batch / windows, heads === 1 ? headsQ : 1, 1, 1], batchStep: windows};
}

export function scaledDotProductAttentionGradWebGPU(
    args: {inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs?: tf.NamedAttrMap}): tf.TensorInfo[] {
  const inputs = args.inputs as AttentionGradInputs;
  const attrs = args.attrs as unknown as AttentionAttrs;
  const backend = args.backend as WebGPUBackend;
  const g = attentionGeometry(inputs, attrs);
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = g.layout.shape;
  const runner = new ProgramRunner(backend);
  try {
    const rows = batch * headsQ * seqQ;
    const ranges = g.ranged ? runner.temporary(rangesTensor(backend, g)) : null;
    const stats = runner.temporary(runner.run(
        new RowStatsProgram(rows, ranges?.shape[0] ?? null),
        [inputs.logsumexp, inputs.dy, inputs.output, ...(ranges != null ? [ranges] : [])],
        [{type: 'int32', data: [rows]}, {type: 'int32', data: [valueDim]}]));
    const passInputs = [inputs.query, inputs.key, inputs.value, inputs.dy, stats, ...biasInputs(g, inputs)];
    const uniforms = attentionUniforms(g);
    const dQuery = runner.run(new QueryGradProgram(g), passInputs, uniforms);
    const keyValue = runner.temporary(runner.run(new KeyValueGradProgram(g), passInputs, uniforms));
    const grads = [
      dQuery,
      runner.columns(keyValue, 0, headDim, [batch, headsKV, seqK, headDim]),
      runner.columns(keyValue, headDim, valueDim, [batch, headsKV, seqK, valueDim]),
    ];
    const views = [
      ...(g.hasBias ? [{bias: inputs.bias!, view: denseView(g, inputs.bias!.shape)}] : []),
      ...(g.hasWindow ? [{bias: inputs.windowBias!, view: windowView(g, inputs.windowBias!.shape)}] : []),
    ];
    for (const {bias, view} of views) {
      const program = new BiasGradProgram(g, view);
      const partials = runner.run(program, passInputs, [...uniforms, ...program.uniformValues()]);
      if (program.parts === 1) {
        grads.push({dataId: partials.dataId, shape: bias.shape, dtype: 'float32'});
      } else {
        grads.push(runner.run(new SumPartsProgram(bias.shape), [runner.temporary(partials)], []));
      }
    }
    return grads;
  } finally {
    runner.dispose();
  }
}

export const scaledDotProductAttentionGradConfig: tf.KernelConfig = {
  kernelName: ScaledDotProductAttentionGrad,
  backendName: 'webgpu',
  kernelFunc: scaledDotProductAttentionGradWebGPU as unknown as tf.KernelFunc,
};
