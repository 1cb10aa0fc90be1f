/**
 * Backward kernel (FlashAttention-2): probabilities are recomputed tile by tile from the
 * saved logsumexp, P = exp(S − lse), so nothing of size Sq × Sk is stored (the forward's
 * float64 logsumexp where it is kept, see logsumexp_cache.ts). Per tile:
 *   dV += P'ᵀ dO,  dP = dO Vᵀ ⊙ dropout,  dS = P ⊙ (dP − rowsum(dO ⊙ O)),
 *   dQ += scale · dS K,  dK += scale · dS Q,  dBias += dS (summed over broadcast dims).
 * Key/value heads shared by a query-head group (GQA) accumulate over the group.
 */
import type {KernelBackend, KernelConfig, KernelFunc} from '@tensorflow/tfjs-core';
import {AttentionAttrs, AttentionGradInputs, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import {
  accumulateKeys, accumulateRows, AttentionProblem, dotTile, DropoutTile, headOffsets, HeadOffsets, KEY_TILE,
  readFloats, readProblem, ROWS, scoreTile, tileKeyRange, writeFloats,
} from './attention_tiles';
import {logsumexpValues} from './logsumexp_cache';

interface Gradients {
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
  dBias: Float32Array | null;
  dWindow: Float32Array | null;
}

interface BackwardInputs {
  dy: Float32Array;
  out: Float32Array;
  lse: Float64Array | Float32Array;
}

/** rowsum(dO ⊙ O) for every row of head (b, h). */
function outputDots(p: AttentionProblem, x: BackwardInputs, batchHead: number): Float64Array {
  const {seqQ, valueDim} = p.layout.shape;
  const dots = new Float64Array(seqQ);
  for (let i = 0; i < seqQ; i++) {
    const row = (batchHead * seqQ + i) * valueDim;
    let s = 0;
    for (let d = 0; d < valueDim; d++) s += x.dy[row + d] * x.out[row + d];
    dots[i] = s;
  }
  return dots;
}

/** Adds dS of a tile into the bias gradients, at the same strided places the scores read. */
function accumulateBiasGrads(
    p: AttentionProblem, o: HeadOffsets, g: Gradients, i0: number, rows: number, j0: number, cols: number,
    dScores: Float64Array): void {
  const bs = p.layout.biasStrides;
  const ws = p.layout.windowStrides;
  for (let r = 0; r < rows; r++) {
    const i = i0 + r;
    const biasRow = bs != null ? o.bias + i * bs[2] : 0;
    const windowRow = ws != null ? o.window + i * ws[2] : 0;
    for (let c = 0; c < cols; c++) {
      const ds = dScores[r * KEY_TILE + c];
      if (g.dBias != null) g.dBias[biasRow + (j0 + c) * bs![3]] += ds;
      if (g.dWindow != null) g.dWindow[windowRow + j0 + c] += ds;
    }
  }
}

function backwardHead(p: AttentionProblem, x: BackwardInputs, g: Gradients, b: number, h: number): void {
  const {seqQ, headDim, valueDim} = p.layout.shape;
  const o = headOffsets(p, b, h);
  const {q, k, v, scale} = p;
  const rowDots = outputDots(p, x, o.batchHead);
  const probs = new Float64Array(ROWS * KEY_TILE);
  const dScores = new Float64Array(ROWS * KEY_TILE);
  const dq = new Float64Array(ROWS * headDim);
  const dropout = DropoutTile.forProblem(p);
  const dyOffset = o.batchHead * seqQ * valueDim;
  for (let i0 = 0; i0 < seqQ; i0 += ROWS) {
    const rows = Math.min(ROWS, seqQ - i0);
    const [lo, hi] = tileKeyRange(p.layout, i0, rows);
    dq.fill(0);
    for (let j0 = lo; j0 < hi; j0 += KEY_TILE) {
      const cols = Math.min(KEY_TILE, hi - j0);
      scoreTile(p, o, i0, rows, j0, cols, probs);
      dotTile(x.dy, dyOffset, i0, rows, v, o.v, j0, cols, valueDim, dScores);
      const keep = dropout?.fill(o.batchHead, i0, rows, j0, cols);
      for (let r = 0; r < rows; r++) {
        const lse = x.lse[o.batchHead * seqQ + i0 + r];
        const rowDot = rowDots[i0 + r];
        for (let c = 0; c < cols; c++) {
          const t = r * KEY_TILE + c;
          // lse = +Inf on a fully masked row: P = 0 there, and so are its gradients.
          const prob = Math.exp(probs[t] - lse);
          const m = keep != null ? keep[t] : 1;
          // 0 where masked, even for a non-finite value there (docs/contract.md §7).
          dScores[t] = prob === 0 ? 0 : prob * (dScores[t] * m - rowDot);
          probs[t] = prob * m;
        }
      }
      probs.fill(0, rows * KEY_TILE);
      dScores.fill(0, rows * KEY_TILE);
      if (g.dBias != null || g.dWindow != null) accumulateBiasGrads(p, o, g, i0, rows, j0, cols, dScores);
      accumulateRows(dScores, k, o.k, j0, cols, headDim, dq);
      accumulateKeys(dScores, q, o.q, i0, rows, j0, cols, headDim, scale, g.dk, o.k);
      accumulateKeys(probs, x.dy, dyOffset, i0, rows, j0, cols, valueDim, 1, g.dv, o.v);
    }
    for (let r = 0; r < rows; r++) {
      const row = o.q + (i0 + r) * headDim;
      for (let d = 0; d < headDim; d++) g.dq[row + d] = dq[r * headDim + d] * scale;
    }
  }
}

export const scaledDotProductAttentionGrad: KernelFunc = ({inputs, backend: anyBackend, attrs}) => {
  const backend = anyBackend as KernelBackend;
  const named = inputs as AttentionGradInputs;
  const p = readProblem(backend, named, attrs as unknown as AttentionAttrs);
  const x: BackwardInputs = {
    dy: readFloats(backend, named.dy),
    out: readFloats(backend, named.output),
    lse: logsumexpValues(named.logsumexp, readFloats(backend, named.logsumexp)),
  };
  const {batch, headsQ} = p.layout.shape;
  const g: Gradients = {
    dq: new Float32Array(p.q.length),
    dk: new Float32Array(p.k.length),
    dv: new Float32Array(p.v.length),
    dBias: p.bias != null ? new Float32Array(p.bias.length) : null,
    dWindow: p.window != null ? new Float32Array(p.window.length) : null,
  };
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) backwardHead(p, x, g, b, h);
  }
  const outputs = [
    writeFloats(backend, g.dq, named.query.shape),
    writeFloats(backend, g.dk, named.key.shape),
    writeFloats(backend, g.dv, named.value.shape),
  ];
  if (g.dBias != null) outputs.push(writeFloats(backend, g.dBias, named.bias!.shape));
  if (g.dWindow != null) outputs.push(writeFloats(backend, g.dWindow, named.windowBias!.shape));
  return outputs;
};

export const scaledDotProductAttentionGradConfig: KernelConfig = {
  kernelName: ScaledDotProductAttentionGrad,
  backendName: 'cpu',
  kernelFunc: scaledDotProductAttentionGrad,
};
