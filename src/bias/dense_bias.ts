import * as tf from '@tensorflow/tfjs-core';
import {AttentionShape, broadcastStrides, fmtShape, OP, scoreShape} from '../shapes';
import {AttentionBias, BiasKind, checkLiveTensor, LoweredBias} from './attention_bias';

/** A plain tensor bias: rank ≤ 4, NumPy broadcasting to [B, Hq, Sq, Sk]. */
export class DenseBias extends AttentionBias {
  readonly kind: BiasKind = 'tensor';
  constructor(readonly tensor: tf.Tensor) {
    super();
  }

  check(shape: AttentionShape): void {
    const target = scoreShape(shape);
    checkLiveTensor(this.tensor, 'bias', 'a tf.Tensor, an AttentionBias or an array of these');
    if (this.tensor.dtype !== 'float32') {
      throw new Error(`${OP}: bias must be float32, got ${this.tensor.dtype}`);
    }
    if (broadcastStrides(this.tensor.shape, target) == null) {
      throw new Error(
          `${OP}: bias must broadcast to [batch, heads, seqQ, seqK] = ${fmtShape(target)}, ` +
          `got shape ${fmtShape(this.tensor.shape)}`);
    }
  }

  toDense(): tf.Tensor {
    return this.tensor;
  }

  override lowerInto(into: LoweredBias): null {
    into.dense.push(this.tensor);
    into.kinds.add(this.kind);
    return null;
  }
}
