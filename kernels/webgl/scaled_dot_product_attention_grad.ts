/**
 * The backward kernel on webgl, from the forward's logsumexp (no softmax is redone). D =
 * rowsum(dO ⊙ O) once; then per tile: P, dropout(P), dS = P ⊙ (dropout(dO·Vᵀ) − D), the
 * tile's rows of dQ = scale·dS·K, and its share of dK = scale·dSᵀ·Q, dV = P'ᵀ·dO and the
 * bias gradients, which sum over tiles.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {AttentionAttrs, AttentionGradInputs, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import {BiasGradProgram} from './bias_grad_program';
import {attentionGeometry, BiasView, dropoutUniforms, planTiles, rangeTensors, tileUniform} from './geometry';
import {ProbabilitiesProgram} from './probabilities_program';
import {ProgramRunner, reshaped} from './program_runner';
import {RowDotProgram} from './row_dot_program';
import {ScoreGradProgram} from './score_grad_program';
import {ScoresProgram} from './scores_program';
import {TileTimesMatrixProgram} from './tile_times_matrix_program';
import {TileTransposedTimesRowsProgram} from './tile_transposed_times_rows_program';
import {requireWebGL2} from './webgl_version';

export function scaledDotProductAttentionGradWebGL(
    args: {inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs?: tf.NamedAttrMap}): tf.TensorInfo[] {
  const inputs = args.inputs as AttentionGradInputs;
  const attrs = args.attrs as unknown as AttentionAttrs;
  requireWebGL2(attrs);
  const backend = args.backend as MathBackendWebGL;
  const g = attentionGeometry(inputs, attrs);
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = g.shape;
  const {tileShape, tiles} = planTiles(g);
  const runner = new ProgramRunner(backend);
  try {
    const many = tiles.length > 1;
    const queryRows = [g.queryHeads, seqQ];
    const q = runner.input(inputs.query, [...queryRows, headDim], many);
    const k = runner.input(inputs.key, [g.kvHeads, seqK, headDim], many);
    const v = runner.input(inputs.value, [g.kvHeads, seqK, valueDim], many);
    const dy = runner.input(inputs.dy, [...queryRows, valueDim], many);
    const logsumexp = reshaped(inputs.logsumexp, queryRows);
    const biasInputs: [tf.TensorInfo, BiasView][] = [];
    if (inputs.bias != null) biasInputs.push([inputs.bias, g.bias!]);
    if (inputs.windowBias != null) biasInputs.push([inputs.windowBias, g.window!]);
    const biases = biasInputs.map(([t, view]) => reshaped(t, view.shape));
    const ranges = g.ranged ? rangeTensors(backend, g) : null;
    const keyRange = ranges != null ? [runner.temporary(ranges.keyRange)] : [];
    const queryRange = ranges != null ? [runner.temporary(ranges.queryRange)] : [];
    const dropout = g.dropout ? dropoutUniforms(attrs) : [];
    const rowDot = runner.temporary(runner.run(
        new RowDotProgram(g.queryHeads, seqQ, valueDim),
        [reshaped(inputs.dy, [...queryRows, valueDim]), reshaped(inputs.output, [...queryRows, valueDim])], []));
    let dq: tf.TensorInfo | null = null;
    let dk: tf.TensorInfo | null = null;
    let dv: tf.TensorInfo | null = null;
    const dBiases: (tf.TensorInfo | null)[] = biasInputs.map(() => null);
    for (const tile of tiles) {
      const at = tileUniform(tile);
      const probs = runner.run(
          new ScoresProgram(g, tileShape, true), [q, k, ...biases, ...keyRange, logsumexp], [at, [attrs.scale]]);
      const kept = g.dropout ? runner.run(new ProbabilitiesProgram(g, tileShape, false, true), [probs], [at, ...dropout]) :
                               probs;
      const dScores = runner.run(new ScoreGradProgram(g, tileShape), [dy, v, probs, rowDot], [at, ...dropout]);
      dq = runner.carry(dq, new TileTimesMatrixProgram(g, headDim, dq != null), [dScores, k, ...keyRange], [at, [attrs.scale]]);
      dk = runner.carry(dk, new TileTransposedTimesRowsProgram(g, headDim, dk != null), [dScores, q, ...queryRange], [at, [attrs.scale]]);
      dv = runner.carry(dv, new TileTransposedTimesRowsProgram(g, valueDim, dv != null), [kept, dy, ...queryRange], [at, [1]]);
      biasInputs.forEach(([, view], n) => {
        dBiases[n] = runner.carry(dBiases[n], new BiasGradProgram(g, view, dBiases[n] != null), [dScores], [at]);
      });
      runner.free(dScores);
      if (kept !== probs) runner.free(kept);
      runner.free(probs);
    }
    return [
      reshaped(dq!, [batch, headsQ, seqQ, headDim]),
      reshaped(dk!, [batch, headsKV, seqK, headDim]),
      reshaped(dv!, [batch, headsKV, seqK, valueDim]),
      ...biasInputs.map(([t], n) => reshaped(dBiases[n]!, t.shape)),
    ];
  } finally {
    runner.dispose();
  }
}

export const scaledDotProductAttentionGradWebGLConfig: tf.KernelConfig = {
  kernelName: ScaledDotProductAttentionGrad,
  backendName: 'webgl',
  kernelFunc: scaledDotProductAttentionGradWebGL as unknown as tf.KernelFunc,
};
