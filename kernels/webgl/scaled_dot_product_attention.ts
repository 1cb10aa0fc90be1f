/**
 * The forward kernel on webgl. Per tile of scores: the scores, their rows' logsumexp,
 * the (dropped-out) probabilities, and the tile's output rows P'·V. See geometry.ts for
 * the strategy.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {AttentionAttrs, AttentionInputs, ScaledDotProductAttention} from '../../src/kernel_names';
import {attentionGeometry, dropoutUniforms, planTiles, rangeTensors, tileUniform} from './geometry';
import {ProbabilitiesProgram} from './probabilities_program';
import {ProgramRunner, reshaped} from './program_runner';
import {RowLogsumexpProgram} from './row_logsumexp_program';
import {ScoresProgram} from './scores_program';
import {originUniform, TileInputs} from './tile_inputs';
import {TileAssembly} from './tile_assembly';
import {TileTimesMatrixProgram} from './tile_times_matrix_program';
import {requireWebGL2} from './webgl_version';

export function scaledDotProductAttentionWebGL(
    args: {inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs?: tf.NamedAttrMap}): tf.TensorInfo[] {
  const inputs = args.inputs as AttentionInputs;
  const attrs = args.attrs as unknown as AttentionAttrs;
  requireWebGL2(attrs);
  const g = attentionGeometry(inputs, attrs);
  const {batch, headsQ, seqQ, seqK, headDim, valueDim} = g.shape;
  const plan = planTiles(g);
  const runner = new ProgramRunner(args.backend as MathBackendWebGL);
  const tileInputs = new TileInputs(runner, plan);
  try {
    const q = reshaped(inputs.query, [g.queryHeads, seqQ, headDim]);
    const k = reshaped(inputs.key, [g.kvHeads, seqK, headDim]);
    const v = reshaped(inputs.value, [g.kvHeads, seqK, valueDim]);
    const biases = [inputs.bias, inputs.windowBias].flatMap(
        (t, n) => t == null ? [] : [reshaped(t, (n === 0 ? g.bias : g.window)!.shape)]);
    const ranges = g.ranged ? rangeTensors(args.backend as MathBackendWebGL, g) : null;
    const keyRange = ranges != null ? [runner.temporary(ranges.keyRange)] : [];
    if (ranges != null) runner.free(ranges.queryRange);
    const dropout = g.dropout ? dropoutUniforms(attrs) : [];
    const {tileShape} = plan;
    let logsumexp: tf.TensorInfo | null = null;
    // A quarter of the output waiting in parts keeps the extra memory within planTiles' budget.
    const output = new TileAssembly(runner, [g.queryHeads, seqQ, valueDim], false, 1 / 4);
    for (const tile of plan.tiles) {
      const at = tileUniform(tile);
      const qRows = tileInputs.queryRows(q, tile);
      const kRows = tileInputs.keyRows(k, tile), vRows = tileInputs.keyRows(v, tile);
      const scores = runner.run(
          new ScoresProgram(g, tileShape, false, qRows.info.shape, kRows.info.shape),
          [qRows.info, kRows.info, ...biases, ...keyRange], [at, originUniform(qRows, kRows), [attrs.scale]]);
      logsumexp = runner.carry(
          logsumexp, new RowLogsumexpProgram(g, tileShape, logsumexp != null), [scores, ...keyRange], [at]);
      const probs = runner.run(
          new ProbabilitiesProgram(g, tileShape, true, g.dropout), [scores, logsumexp], [at, ...dropout]);
      runner.free(scores);
      const part = runner.run(
          new TileTimesMatrixProgram(g, valueDim, tileShape, vRows.info.shape, true), [probs, vRows.info, ...keyRange],
          [at, originUniform(null, vRows), [1]]);
      runner.free(probs);
      output.put(part, at);
    }
    return [reshaped(output.finish(), [batch, headsQ, seqQ, valueDim]), reshaped(logsumexp!, [batch, headsQ, seqQ])];
  } finally {
    tileInputs.dispose();
    runner.dispose();
  }
}

export const scaledDotProductAttentionConfig: tf.KernelConfig = {
  kernelName: ScaledDotProductAttention,
  backendName: 'webgl',
  kernelFunc: scaledDotProductAttentionWebGL as unknown as tf.KernelFunc,
};
