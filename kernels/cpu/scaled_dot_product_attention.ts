/**
 * Forward kernel: for each tile of ROWS query rows, an online softmax over key tiles
 * (FlashAttention): running max m, running sum l and an unnormalized output row are
 * rescaled when m grows, so only a ROWS × KEY_TILE score tile is ever held. Each row's
 * logsumexp is also kept in float64 for the backward (see logsumexp_cache.ts).
 */
import type {KernelBackend, KernelConfig, KernelFunc} from '@tensorflow/tfjs-core';
import {AttentionAttrs, AttentionInputs, ScaledDotProductAttention} from '../../src/kernel_names';
import {
  accumulateRows, AttentionProblem, DropoutTile, headOffsets, KEY_TILE, nonFiniteRows, readProblem, ROWS, scoreTile,
  tileKeyRange, writeFloats,
} from './attention_tiles';
import {keepLogsumexp} from './logsumexp_cache';

function attendHead(
    p: AttentionProblem, nonFiniteValues: Uint8Array | null, b: number, h: number, out: Float32Array,
    lse: Float64Array): void {
  const {seqQ, valueDim} = p.layout.shape;
  const o = headOffsets(p, b, h);
  const scores = new Float64Array(ROWS * KEY_TILE);
  const acc = new Float64Array(ROWS * valueDim);
  const max = new Float64Array(ROWS);
  const sum = new Float64Array(ROWS);
  const dropout = DropoutTile.forProblem(p);
  for (let i0 = 0; i0 < seqQ; i0 += ROWS) {
    const rows = Math.min(ROWS, seqQ - i0);
    const [lo, hi] = tileKeyRange(p.layout, i0, rows);
    acc.fill(0);
    max.fill(-Infinity);
    sum.fill(0);
    for (let j0 = lo; j0 < hi; j0 += KEY_TILE) {
      const cols = Math.min(KEY_TILE, hi - j0);
      scoreTile(p, o, i0, rows, j0, cols, scores);
      const keep = dropout?.fill(o.batchHead, i0, rows, j0, cols);
      for (let r = 0; r < rows; r++) {
        const row = r * KEY_TILE;
        let tileMax = -Infinity;
        for (let c = 0; c < cols; c++) tileMax = Math.max(tileMax, scores[row + c]);
        const newMax = Math.max(max[r], tileMax);
        if (newMax === -Infinity) {
          // Everything so far is masked: nothing to add, and exp(-Inf − -Inf) would be NaN.
          for (let c = 0; c < cols; c++) scores[row + c] = 0;
          continue;
        }
        const rescale = Math.exp(max[r] - newMax);
        if (rescale !== 1) {
          sum[r] *= rescale;
          for (let d = 0; d < valueDim; d++) acc[r * valueDim + d] *= rescale;
        }
        max[r] = newMax;
        let tileSum = 0;
        for (let c = 0; c < cols; c++) {
          const e = Math.exp(scores[row + c] - newMax);
          tileSum += e;
          scores[row + c] = keep != null ? e * keep[row + c] : e;
        }
        sum[r] += tileSum;
      }
      scores.fill(0, rows * KEY_TILE);
      accumulateRows(scores, p.v, o.v, j0, cols, valueDim, acc, nonFiniteValues);
    }
    const bh = o.batchHead;
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      const masked = sum[r] === 0;
      const inv = masked ? 0 : 1 / sum[r];
      const outRow = (bh * seqQ + i) * valueDim;
      for (let d = 0; d < valueDim; d++) out[outRow + d] = acc[r * valueDim + d] * inv;
      lse[bh * seqQ + i] = masked ? Infinity : max[r] + Math.log(sum[r]);
    }
  }
}

export const scaledDotProductAttention: KernelFunc = ({inputs, backend: anyBackend, attrs}) => {
  const backend = anyBackend as KernelBackend;
  const p = readProblem(backend, inputs as AttentionInputs, attrs as unknown as AttentionAttrs);
  const {batch, headsQ, seqQ, valueDim} = p.layout.shape;
  const out = new Float32Array(batch * headsQ * seqQ * valueDim);
  const lse = new Float64Array(batch * headsQ * seqQ);
  const nonFiniteValues = nonFiniteRows(p.v, valueDim);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) attendHead(p, nonFiniteValues, b, h, out, lse);
  }
  const logsumexp = writeFloats(backend, Float32Array.from(lse), [batch, headsQ, seqQ]);
  keepLogsumexp(logsumexp, lse);
  return [writeFloats(backend, out, [batch, headsQ, seqQ, valueDim]), logsumexp];
};

export const scaledDotProductAttentionConfig: KernelConfig = {
  kernelName: ScaledDotProductAttention,
  backendName: 'cpu',
  kernelFunc: scaledDotProductAttention,
};
