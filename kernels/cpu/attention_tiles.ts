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
 * out[r·KEY_TILE + c] = a[aRow(r)] · b[bOffset + (j0 + c)·len] for the tile's rows and
 * keys, where row r of `a` starts at aOffset + (i0 + r)·len. Rows past `rows` read row 0
 * again (their scores are ignored), so the inner loop has no branches.
 */
export function dotTile(
    a: Float32Array, aOffset: number, i0: number, rows: number, b: Float32Array, bOffset: number, j0: number,
    cols: number, len: number, out: Float64Array): void {
  const a0 = aOffset + i0 * len;
  const a1 = rows > 1 ? a0 + len : a0;
  const a2 = rows > 2 ? a0 + 2 * len : a0;
  const a3 = rows > 3 ? a0 + 3 * len : a0;
  for (let c = 0; c < cols; c++) {
    const bj = bOffset + (j0 + c) * len;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let d = 0; d < len; d++) {
      const x = b[bj + d];
      s0 += a[a0 + d] * x;
      s1 += a[a1 + d] * x;
      s2 += a[a2 + d] * x;
      s3 += a[a3 + d] * x;
    }
    out[c] = s0;
    out[KEY_TILE + c] = s1;
    out[2 * KEY_TILE + c] = s2;
    out[3 * KEY_TILE + c] = s3;
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
 * The scores of a tile: scale · q·k + bias + window bias, and -Infinity outside each
 * row's key range. Rows are i0 + r for r < rows, keys j0 + c for c < cols.
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
      let s = scores[row + c] * scale;
      if (bias != null) s += bias[biasRow + j * bs![3]];
      if (window != null) s += window[windowRow + j];
      scores[row + c] = s;
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
