/** Shape facts shared by the op, the bias kinds and the kernels. */

/** The attention problem's sizes (docs/contract.md §1). */
export interface AttentionShape {
  batch: number;
  headsQ: number;
  headsKV: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  valueDim: number;
}

export const OP = 'scaledDotProductAttention';

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** The full score shape [B, Hq, Sq, Sk] a bias broadcasts to. */
export function scoreShape(s: AttentionShape): [number, number, number, number] {
  return [s.batch, s.headsQ, s.seqQ, s.seqK];
}

/**
 * Strides (in elements) that read a tensor of `shape` (rank ≤ 4, NumPy broadcasting)
 * as if it had `target`'s rank-4 shape: broadcast dims get stride 0. Returns null when
 * the shape does not broadcast.
 */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] | null {
  if (shape.length > target.length) return null;
  const padded = new Array(target.length - shape.length).fill(1).concat(shape);
  const strides = new Array(target.length).fill(0);
  let stride = 1;
  for (let d = target.length - 1; d >= 0; d--) {
    if (padded[d] === target[d]) {
      strides[d] = padded[d] === 1 ? 0 : stride;
    } else if (padded[d] !== 1) {
      return null;
    }
    stride *= padded[d];
  }
  return strides;
}
