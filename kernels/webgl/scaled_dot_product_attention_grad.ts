/**
 * The backward kernel on webgl, from the forward's logsumexp (no softmax is redone). D =
 * rowsum(dO ⊙ O) once; then per tile: P (stored transposed), dS = P ⊙ (dropout(dO·Vᵀ) − D),
 * P' = dropout(P), the tile's share of dV = P'ᵀ·dO, its rows of dQ = scale·dS·K, dSᵀ and
 * its share of dK = scale·dSᵀ·Q, and of the bias gradients; the shares sum over tiles.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {AttentionAttrs, AttentionGradInputs, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import {BiasGradProgram} from './bias_grad_program';
import {
  attentionGeometry, BACKWARD_TILE_BUDGET, BiasView, dropoutUniforms, planTiles, rangeTensors, tileUniform,
} from './geometry';
import {PackRowsProgram} from './pack_rows_program';
import {ProbabilitiesProgram} from './probabilities_program';
import {ProgramRunner, reshaped} from './program_runner';
import {RowDotProgram} from './row_dot_program';
import {ScoreGradProgram} from './score_grad_program';
import {ScoresProgram, transposedTile} from './scores_program';
import {originUniform, TileInputs} from './tile_inputs';
import {TileAssembly} from './tile_assembly';
import {TileTimesMatrixProgram} from './tile_times_matrix_program';
import {TileTransposedTimesRowsProgram} from './tile_transposed_times_rows_program';
import {TransposeTileProgram} from './transpose_tile_program';
import {requireWebGL2} from './webgl_version';

export function scaledDotProductAttentionGradWebGL(
    args: {inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs?: tf.NamedAttrMap}): tf.TensorInfo[] {
  const inputs = args.inputs as AttentionGradInputs;
  const attrs = args.attrs as unknown as AttentionAttrs;
  requireWebGL2(attrs);
  const backend = args.backend as MathBackendWebGL;
  const g = attentionGeometry(inputs, attrs);
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = g.shape;
  const plan = planTiles(g, tf.env().getNumber(BACKWARD_TILE_BUDGET));
  const runner = new ProgramRunner(backend);
  const tileInputs = new TileInputs(runner, plan);
  try {
    const queryRows = [g.queryHeads, seqQ];
    const q = reshaped(inputs.query, [...queryRows, headDim]);
    const k = reshaped(inputs.key, [g.kvHeads, seqK, headDim]);
    const v = reshaped(inputs.value, [g.kvHeads, seqK, valueDim]);
    const dy = reshaped(inputs.dy, [...queryRows, valueDim]);
    const logsumexp = packedRows(runner, reshaped(inputs.logsumexp, queryRows));
    const biasInputs: [tf.TensorInfo, BiasView][] = [];
    if (inputs.bias != null) biasInputs.push([inputs.bias, g.bias!]);
    if (inputs.windowBias != null) biasInputs.push([inputs.windowBias, g.window!]);
    const biases = biasInputs.map(([t, view]) => reshaped(t, view.shape));
    const ranges = g.ranged ? rangeTensors(backend, g) : null;
    const keyRange = ranges != null ? [runner.temporary(ranges.keyRange)] : [];
    const queryRange = ranges != null ? [runner.temporary(ranges.queryRange)] : [];
    const dropout = g.dropout ? dropoutUniforms(attrs) : [];
    const rowDot = runner.temporary(runner.run(
        new RowDotProgram(g.queryHeads, seqQ, valueDim), [dy, reshaped(inputs.output, [...queryRows, valueDim])], []));
    const {tileShape} = plan;
    // dK and dV read the tiles dS and P' transposed, along texel rows (see TileTransposedTimesRowsProgram).
    const transposedShape = transposedTile(tileShape);
    // The backward has memory to spare (no B·H·Sq·Sk texture, unlike the composed path's):
    // parts wait up to the whole's size, for fewer assembly passes.
    const dq = new TileAssembly(runner, [...queryRows, headDim], false, 1);
    const dk = new TileAssembly(runner, [g.kvHeads, seqK, headDim], true, 1);
    const dv = new TileAssembly(runner, [g.kvHeads, seqK, valueDim], true, 1);
    // dK and dV of one kv region are summed in their passes while consecutive tiles share
    // it (the row tiles of a head, the heads of a group), and handed to the assemblies when
    // it changes.
    let kvParts: {region: number[], dk: tf.TensorInfo, dv: tf.TensorInfo} | null = null;
    const putKvParts = () => {
      if (kvParts == null) return;
      dk.put(kvParts.dk, kvParts.region);
      dv.put(kvParts.dv, kvParts.region);
      kvParts = null;
    };
    const dBiases: (tf.TensorInfo | null)[] = biasInputs.map(() => null);
    for (const tile of plan.tiles) {
      const at = tileUniform(tile);
      const qRows = tileInputs.queryRows(q, tile), dyRows = tileInputs.queryRows(dy, tile);
      const kRows = tileInputs.keyRows(k, tile), vRows = tileInputs.keyRows(v, tile);
      const probs = runner.run(
          new ScoresProgram(g, tileShape, true, qRows.info.shape, kRows.info.shape, true),
          [qRows.info, kRows.info, ...biases, ...keyRange, logsumexp],
          [at, originUniform(qRows, kRows), [attrs.scale]]);
      const dScores = runner.run(
          new ScoreGradProgram(g, tileShape, dyRows.info.shape, vRows.info.shape),
          [dyRows.info, vRows.info, probs, rowDot], [at, originUniform(dyRows, vRows), ...dropout]);
      const kept = g.dropout ?
          runner.run(new ProbabilitiesProgram(g, transposedShape, false, true, true), [probs], [at, ...dropout]) :
          probs;
      if (kept !== probs) runner.free(probs);
      const kvRegion = [tile.kvStart, Math.min(tile.kvStart + plan.kvHeadsPerTile, g.kvHeads), 0, seqK];
      if (kvParts != null && kvParts.region.some((x, n) => x !== kvRegion[n])) putKvParts();
      const previous = kvParts;
      // dV first, so that P' is freed before dSᵀ is made: two tiles live at a time.
      const dvPart = runner.carry(
          previous?.dv ?? null,
          new TileTransposedTimesRowsProgram(
              g, valueDim, plan.kvHeadsPerTile, transposedShape, dyRows.info.shape, previous != null),
          [kept, dyRows.info, ...queryRange], [at, originUniform(dyRows, null), [1]]);
      runner.free(kept);
      const dqPart = runner.run(
          new TileTimesMatrixProgram(g, headDim, tileShape, kRows.info.shape), [dScores, kRows.info, ...keyRange],
          [at, originUniform(null, kRows), [attrs.scale]]);
      dq.put(dqPart, at);
      const dScoresT = runner.run(new TransposeTileProgram(tileShape), [dScores], []);
      const dkPart = runner.carry(
          previous?.dk ?? null,
          new TileTransposedTimesRowsProgram(
              g, headDim, plan.kvHeadsPerTile, transposedShape, qRows.info.shape, previous != null),
          [dScoresT, qRows.info, ...queryRange], [at, originUniform(qRows, null), [attrs.scale]]);
      runner.free(dScoresT);
      kvParts = {region: kvRegion, dk: dkPart, dv: dvPart};
      biasInputs.forEach(([, view], n) => {
        dBiases[n] = runner.carry(dBiases[n], new BiasGradProgram(g, view, dBiases[n] != null), [dScores], [at]);
      });
      runner.free(dScores);
    }
    putKvParts();
    return [
      reshaped(dq.finish(), [batch, headsQ, seqQ, headDim]),
      reshaped(dk.finish(), [batch, headsKV, seqK, headDim]),
      reshaped(dv.finish(), [batch, headsKV, seqK, valueDim]),
      ...biasInputs.map(([t], n) => reshaped(dBiases[n]!, t.shape)),
    ];
  } finally {
    tileInputs.dispose();
    runner.dispose();
  }
}

/**
 * The [B·Hq, Sq] logsumexp packed, as every tile's packed passes read it: tfjs would
 * otherwise pack it again for each pass. One already packed (the forward's) is read as it is.
 */
function packedRows(runner: ProgramRunner, rows: tf.TensorInfo): tf.TensorInfo {
  if (runner.isPacked(rows)) return rows;
  const shape = [1, ...rows.shape];
  return reshaped(
      runner.temporary(runner.run(new PackRowsProgram(shape, shape), [reshaped(rows, shape)], [[0, 0]])), rows.shape);
}

export const scaledDotProductAttentionGradConfig: tf.KernelConfig = {
  kernelName: ScaledDotProductAttentionGrad,
  backendName: 'webgl',
  kernelFunc: scaledDotProductAttentionGradWebGL as unknown as tf.KernelFunc,
};
