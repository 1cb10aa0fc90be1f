import * as tf from '@tensorflow/tfjs-core';
import {CausalMode} from '../kernel_names';
import {AttentionShape, fmtShape, OP} from '../shapes';
import {AttentionBias, BiasKind, denseMask, describeValue, LoweredBias} from './attention_bias';

function seqStarts(lens: readonly number[], what: string): number[] {
  if (!Array.isArray(lens)) {
    throw new TypeError(
        `${OP}: BlockDiagonalMask.fromSeqLens ${what} must be an array of non-negative integers, ` +
        `got ${describeValue(lens)}`);
  }
  const starts = [0];
  for (const len of lens) {
    if (!Number.isInteger(len) || len < 0) {
      throw new Error(`${OP}: BlockDiagonalMask ${what} must be non-negative integers, got ${fmtShape(lens)}`);
    }
    starts.push(starts[starts.length - 1] + len);
  }
  return starts;
}

/**
 * Several sequences packed along one batch row (B = 1): a query attends only to the keys
 * of its own sequence. `makeCausal()` adds top-left causality inside each block.
 */
export class BlockDiagonalMask extends AttentionBias {
  readonly kind: BiasKind = 'blockDiagonal';

  private constructor(
      readonly qSeqStarts: readonly number[], readonly kSeqStarts: readonly number[],
      readonly causal: boolean) {
    super();
  }

  static fromSeqLens(qLens: readonly number[], kLens?: readonly number[]): BlockDiagonalMask {
    const qSeqStarts = seqStarts(qLens, 'query lengths');
    const kSeqStarts = seqStarts(kLens ?? qLens, 'key lengths');
    if (qLens.length === 0) throw new Error(`${OP}: BlockDiagonalMask needs at least one sequence length`);
    if (kLens != null && kLens.length !== qLens.length) {
      throw new Error(
          `${OP}: BlockDiagonalMask needs as many key lengths as query lengths (${qLens.length}), ` +
          `got ${kLens.length}`);
    }
    return new BlockDiagonalMask(qSeqStarts, kSeqStarts, false);
  }

  makeCausal(): BlockDiagonalMask {
    return new BlockDiagonalMask(this.qSeqStarts, this.kSeqStarts, true);
  }

  check(shape: AttentionShape): void {
    if (shape.batch !== 1) {
      throw new Error(`${OP}: BlockDiagonalMask needs batch 1 (sequences packed along seq), got batch ${shape.batch}`);
    }
    const qTotal = this.qSeqStarts[this.qSeqStarts.length - 1];
    const kTotal = this.kSeqStarts[this.kSeqStarts.length - 1];
    if (qTotal !== shape.seqQ || kTotal !== shape.seqK) {
      throw new Error(
          `${OP}: BlockDiagonalMask lengths must sum to seqQ = ${shape.seqQ} and seqK = ${shape.seqK}, ` +
          `got ${qTotal} and ${kTotal}`);
    }
  }

  toDense(shape: AttentionShape): tf.Tensor {
    const qBlock = blockIndex(this.qSeqStarts, shape.seqQ);
    const kBlock = blockIndex(this.kSeqStarts, shape.seqK);
    return denseMask(shape, (i, j) => {
      const block = qBlock[i];
      if (kBlock[j] !== block) return true;
      return this.causal && j - this.kSeqStarts[block] > i - this.qSeqStarts[block];
    });
  }

  override lowerInto(into: LoweredBias): string | null {
    if (into.qSeqStarts.length > 0) return 'two block-diagonal masks';
    if (into.causal !== CausalMode.None) return 'a causal mask on top of a block-diagonal mask';
    into.qSeqStarts = [...this.qSeqStarts];
    into.kSeqStarts = [...this.kSeqStarts];
    if (this.causal) into.causal = CausalMode.TopLeft;
    into.kinds.add(this.kind);
    return null;
  }
}

/** For each position, the block it belongs to. */
function blockIndex(starts: readonly number[], length: number): Int32Array {
  const index = new Int32Array(length);
  for (let b = 0; b + 1 < starts.length; b++) index.fill(b, starts[b], starts[b + 1]);
  return index;
}
