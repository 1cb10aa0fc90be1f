import * as tf from '@tensorflow/tfjs-core';
import {CausalMode} from '../kernel_names';
import {AttentionShape, OP} from '../shapes';
import {AttentionBias, BiasKind, checkKnownKeys, denseMask, describeValue, LoweredBias} from './attention_bias';

/**
 * Causal masking: key j is masked for query i when j > i (top-left aligned, as PyTorch's
 * `is_causal`), or when j > i + Sk − Sq with `fromBottomRight` (as in decoding with a cache).
 */
export class LowerTriangularMask extends AttentionBias {
  readonly kind: BiasKind = 'causal';
  readonly fromBottomRight: boolean;
  constructor(options: {fromBottomRight?: boolean} = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`${OP}: LowerTriangularMask options must be an object, got ${describeValue(options)}`);
    }
    checkKnownKeys(options, ['fromBottomRight'], 'LowerTriangularMask option');
    const {fromBottomRight = false} = options;
    if (typeof fromBottomRight !== 'boolean') {
      throw new TypeError(
          `${OP}: LowerTriangularMask fromBottomRight must be a boolean, got ${describeValue(fromBottomRight)}`);
    }
    this.fromBottomRight = fromBottomRight;
  }

  get mode(): CausalMode {
    return this.fromBottomRight ? CausalMode.BottomRight : CausalMode.TopLeft;
  }

  check(): void {}

  toDense(shape: AttentionShape): tf.Tensor {
    const offset = this.fromBottomRight ? shape.seqK - shape.seqQ : 0;
    return denseMask(shape, (i, j) => j > i + offset);
  }

  override lowerInto(into: LoweredBias): string | null {
    if (into.qSeqStarts.length > 0) return 'a causal mask on top of a block-diagonal mask';
    if (into.causal !== CausalMode.None && into.causal !== this.mode) {
      return 'two causal masks with different alignments';
    }
    into.causal = this.mode;
    into.kinds.add(this.kind);
    return null;
  }
}
