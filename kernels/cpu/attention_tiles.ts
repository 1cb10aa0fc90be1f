/**
 * Shared machinery of the fused CPU kernels. Work goes by tiles of ROWS query rows ×
 * KEY_TILE keys: the score tile is computed with a micro-kernel that loads each key once
 * for ROWS dot products, then consumed at once (online softmax forward, gradient
 * backward), so no Sq × Sk buffer ever exists. Masked key ranges are skipped per tile.
 */
import type {BackendValues, KernelBackend, TensorInfo} from '@tensorflow/tfjs-core';
import {dropoutHash, dropoutRowState, dropoutThreshold} from '../../src/dropout';
import {AttentionAttrs} from '../../src/kernel_names';
import {attentionLayout, AttentionLayout, LayoutInputs} from '../../src/kernel_layout';

/** Query rows per micro-kernel call; the micro-kernel below is written for exactly 4. */
export const ROWS = 4;
/** Keys per tile: a ROWS × KEY_TILE score tile stays in L1. */
export const KEY_TILE = 64;

export function readFloats(backend: KernelBackend, t: TensorInfo): Float32Array {
  return backend.readSync(t.dataId) as Float32Array;
}

export function writeFloats(backend: KernelBackend, values: Float32Array, shape: number[]): TensorInfo {
  return {dataId: backend.write(values as BackendValues, shape, 'float32'), shape, dtype: 'float32'};
}

/** One call's inputs as arrays, with its layout. */
export interface AttentionProblem {
  layout: AttentionLayout;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  bias: Float32Array | null;
  window: Float32Array | null;
  scale: number;
  dropoutRate: number;
  dropoutSeed: number;
}

export function readProblem(backend: KernelBackend, inputs: LayoutInputs, attrs: AttentionAttrs): AttentionProblem {
  return {
    layout: attentionLayout(inputs, attrs),
    q: readFloats(backend, inputs.query),
    k: readFloats(backend, inputs.key),
    v: readFloats(backend, inputs.value),
    bias: inputs.bias != null ? readFloats(backend, inputs.bias) : null,
    window: inputs.windowBias != null ? readFloats(backend, inputs.windowBias) : null,
    scale: attrs.scale,
    dropoutRate: attrs.dropoutRate,
    dropoutSeed: attrs.dropoutSeed >>> 0,
  };
}

/**
 * Rows past a tile's `rows` point at its first row, so the micro-kernels below run
 * without branches; whatever they compute for those rows is discarded or weighted 0.
 */
export function rowStarts(offset: number, i0: number, rows: number, len: number): [number, number, number, number] {
  const a0 = offset + i0 * len;
  return [a0, rows > 1 ? a0 + len : a0, rows > 2 ? a0 + 2 * len : a0, rows > 3 ? a0 + 3 * len : a0];
}

/**
 * out[r·KEY_TILE + c] = a[row i0 + r] · b[row j0 + c], rows of length `len` starting at
 * aOffset and bOffset. Register-blocked 4 rows × 2 keys: each loaded value serves 2 or 4
 * products. A lone last key pairs with itself.
 */
export function dotTile(
    a: Float32Array, aOffset: number, i0: number, rows: number, b: Float32Array, bOffset: number, j0: number,
    cols: number, len: number, out: Float64Array): void {
  const [a0, a1, a2, a3] = rowStarts(aOffset, i0, rows, len);
  for (let c = 0; c < cols; c += 2) {
    const bj = bOffset + (j0 + c) * len;
    const bk = c + 1 < cols ? bj + len : bj;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (let d = 0; d < len; d++) {
      const x = b[bj + d], y = b[bk + d];
      const q0 = a[a0 + d], q1 = a[a1 + d], q2 = a[a2 + d], q3 = a[a3 + d];
      s0 += q0 * x; s1 += q1 * x; s2 += q2 * x; s3 += q3 * x;
      t0 += q0 * y; t1 += q1 * y; t2 += q2 * y; t3 += q3 * y;
    }
    out[c] = s0; out[KEY_TILE + c] = s1; out[2 * KEY_TILE + c] = s2; out[3 * KEY_TILE + c] = s3;
    out[c + 1] = t0; out[KEY_TILE + c + 1] = t1; out[2 * KEY_TILE + c + 1] = t2; out[3 * KEY_TILE + c + 1] = t3;
  }
}

/** For each row of `len` values in `x`, 1 when it holds a non-finite value; null when none does. */
export function nonFiniteRows(x: Float32Array, len: number): Uint8Array | null {
  let rows: Uint8Array | null = null;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      rows ??= new Uint8Array(x.length / len);
      rows[Math.floor(i / len)] = 1;
    }
  }
  return rows;
}

/**
 * acc[r·len + d] += Σ_c w[r·KEY_TILE + c] · b[row j0 + c][d]: the tile's weights times
 * key rows, e.g. P V. Two keys at a time halve the accumulator loads and stores; a lone
 * last key pairs with itself at weight 0. Rows of b that `nonFinite` marks are read only
 * where their weight is not 0, so that a masked key's non-finite value does not reach a
 * row (docs/contract.md §7).
 */
export function accumulateRows(
    w: Float64Array, b: Float32Array, bOffset: number, j0: number, cols: number, len: number, acc: Float64Array,
    nonFinite: Uint8Array | null = null): void {
  const firstRow = bOffset / len + j0;
  for (let c = 0; c < cols; c += 2) {
    if (nonFinite != null && (nonFinite[firstRow + c] || (c + 1 < cols && nonFinite[firstRow + c + 1]))) {
      accumulateNonZeroWeights(w, b, bOffset, j0 + c, c, Math.min(2, cols - c), len, acc);
      continue;
    }
    const paired = c + 1 < cols;
    const p0 = w[c], p1 = w[KEY_TILE + c], p2 = w[2 * KEY_TILE + c], p3 = w[3 * KEY_TILE + c];
    const r0 = paired ? w[c + 1] : 0, r1 = paired ? w[KEY_TILE + c + 1] : 0;
    const r2 = paired ? w[2 * KEY_TILE + c + 1] : 0, r3 = paired ? w[3 * KEY_TILE + c + 1] : 0;
    if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && r0 === 0 && r1 === 0 && r2 === 0 && r3 === 0) continue;
    const bj = bOffset + (j0 + c) * len;
    const bk = paired ? bj + len : bj;
    for (let d = 0; d < len; d++) {
      const x = b[bj + d], y = b[bk + d];
      acc[d] += p0 * x + r0 * y;
      acc[len + d] += p1 * x + r1 * y;
      acc[2 * len + d] += p2 * x + r2 * y;
      acc[3 * len + d] += p3 * x + r3 * y;
    }
  }
}

/** accumulateRows for keys j … j + count − 1 (tile columns c …), skipping weights of 0. */
function accumulateNonZeroWeights(
    w: Float64Array, b: Float32Array, bOffset: number, j: number, c: number, count: number, len: number,
    acc: Float64Array): void {
  for (let n = 0; n < count; n++) {
    const row = bOffset + (j + n) * len;
    for (let r = 0; r < ROWS; r++) {
      const p = w[r * KEY_TILE + c + n];
      if (p === 0) continue;
      for (let d = 0; d < len; d++) acc[r * len + d] += p * b[row + d];
    }
  }
}

/**
 * out[row j0 + c][d] += scale · Σ_r w[r·KEY_TILE + c] · a[row i0 + r][d]: the tile's
 * weights, transposed, times query-side rows, e.g. dK += dSᵀ Q or dV += P'ᵀ dO. Rows past
 * the tile must have weight 0.
 */
export function accumulateKeys(
    w: Float64Array, a: Float32Array, aOffset: number, i0: number, rows: number, j0: number, cols: number, len: number,
    scale: number, out: Float32Array, outOffset: number): void {
  const [a0, a1, a2, a3] = rowStarts(aOffset, i0, rows, len);
  for (let c = 0; c < cols; c++) {
    const p0 = w[c] * scale, p1 = w[KEY_TILE + c] * scale;
    const p2 = w[2 * KEY_TILE + c] * scale, p3 = w[3 * KEY_TILE + c] * scale;
    if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0) continue;
    const o = outOffset + (j0 + c) * len;
    for (let d = 0; d < len; d++) out[o + d] += p0 * a[a0 + d] + p1 * a[a1 + d] + p2 * a[a2 + d] + p3 * a[a3 + d];
  }
}

/** Per (batch, head): where its rows live in each array. */
export interface HeadOffsets {
  q: number;
  k: number;
  v: number;
  /** Offset of (b, h) in `bias` (broadcast strides applied), and of (b % nW, h) in `window`. */
  bias: number;
  window: number;
  /** b·Hq + h, the dropout hash's head index. */
  batchHead: number;
}

export function headOffsets(p: AttentionProblem, b: number, h: number): HeadOffsets {
  const {shape, group, biasStrides, windowStrides, numWindows} = p.layout;
  const kvHead = b * shape.headsKV + Math.floor(h / group);
  return {
    q: (b * shape.headsQ + h) * shape.seqQ * shape.headDim,
    k: kvHead * shape.seqK * shape.headDim,
    v: kvHead * shape.seqK * shape.valueDim,
    bias: biasStrides != null ? b * biasStrides[0] + h * biasStrides[1] : 0,
    window: windowStrides != null ? (b % numWindows) * windowStrides[0] + h * windowStrides[1] : 0,
    batchHead: b * shape.headsQ + h,
  };
}

/**
 * The scores of a tile: scale · q·k + bias + window bias, and -Infinity where masked:
 * outside each row's key range or where a bias is -Infinity. Rows are i0 + r for r < rows, keys j0 + c for c < cols.
 */
export function scoreTile(
    p: AttentionProblem, o: HeadOffsets, i0: number, rows: number, j0: number, cols: number, scores: Float64Array):
    void {
  const {layout, q, k, bias, window, scale} = p;
  const {headDim} = layout.shape;
  dotTile(q, o.q, i0, rows, k, o.k, j0, cols, headDim, scores);
  const bs = layout.biasStrides;
  const ws = layout.windowStrides;
  for (let r = 0; r < rows; r++) {
    const i = i0 + r;
    const start = layout.keyStart[i], end = layout.keyEnd[i];
    const row = r * KEY_TILE;
    const biasRow = bs != null ? o.bias + i * bs[2] : 0;
    const windowRow = ws != null ? o.window + i * ws[2] : 0;
    for (let c = 0; c < cols; c++) {
      const j = j0 + c;
      if (j < start || j >= end) {
        scores[row + c] = -Infinity;
        continue;
      }
      // A -Infinity bias masks the key whatever its product (docs/contract.md §7).
      const biasValue = bias != null ? bias[biasRow + j * bs![3]] : 0;
      const windowValue = window != null ? window[windowRow + j] : 0;
      const masked = biasValue === -Infinity || windowValue === -Infinity;
      scores[row + c] = masked ? -Infinity : scores[row + c] * scale + biasValue + windowValue;
    }
  }
}

/** The key range [lo, hi) that any of rows i0 … i0 + rows − 1 may attend to. */
export function tileKeyRange(layout: AttentionLayout, i0: number, rows: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = i0; i < i0 + rows; i++) {
    if (layout.keyEnd[i] > layout.keyStart[i]) {
      lo = Math.min(lo, layout.keyStart[i]);
      hi = Math.max(hi, layout.keyEnd[i]);
    }
  }
  return hi > lo ? [lo, hi] : [0, 0];
}

/**
 * Dropout multipliers of a tile (1 / (1 − rate) kept, 0 dropped), from the contract's
 * hash; null when there is no dropout.
 */
export class DropoutTile {
  readonly multipliers = new Float64Array(ROWS * KEY_TILE);
  private readonly threshold: number;
  private readonly kept: number;
  private readonly rowStates = new Uint32Array(ROWS);

  constructor(private readonly seed: number, rate: number) {
    this.threshold = dropoutThreshold(rate);
    this.kept = 1 / (1 - rate);
  }

  static forProblem(p: AttentionProblem): DropoutTile | null {
    return p.dropoutRate > 0 ? new DropoutTile(p.dropoutSeed, p.dropoutRate) : null;
  }

  fill(batchHead: number, i0: number, rows: number, j0: number, cols: number): Float64Array {
    for (let r = 0; r < rows; r++) this.rowStates[r] = dropoutRowState(this.seed, batchHead, i0 + r);
    for (let r = 0; r < rows; r++) {
      const state = this.rowStates[r];
      for (let c = 0; c < cols; c++) {
        this.multipliers[r * KEY_TILE + c] = dropoutHash(state, j0 + c) >= this.threshold ? this.kept : 0;
      }
    }
    return this.multipliers;
  }
}
