import * as tf from '@tensorflow/tfjs-core';
import {AttentionShape, fmtShape, OP} from '../shapes';
import {AttentionBias, LoweredBias} from './attention_bias';

/**
 * A bias periodic over the batch: t is [nW, 1 | Hq, Sq, Sk] and batch b uses t[b % nW].
 * This is Swin's window-partitioned batch (image-major, window-minor) with its
 * shifted-window mask, passed without repeating it for every image.
 */
export class WindowBias extends AttentionBias {
  readonly kind = 'window';
  constructor(readonly tensor: tf.Tensor) {
    super();
  }

  get numWindows(): number {
    return this.tensor.shape[0];
  }

  check(shape: AttentionShape): void {
    const t = this.tensor;
    const expected = `[nW, 1 or ${shape.headsQ}, ${shape.seqQ}, ${shape.seqK}]`;
    if (t.dtype !== 'float32') {
      throw new Error(`${OP}: windowBias must be float32, got ${t.dtype}`);
    }
    if (t.rank !== 4 || (t.shape[1] !== 1 && t.shape[1] !== shape.headsQ) || t.shape[2] !== shape.seqQ ||
        t.shape[3] !== shape.seqK || t.shape[0] < 1) {
      throw new Error(`${OP}: windowBias must have shape ${expected}, got shape ${fmtShape(t.shape)}`);
    }
    if (shape.batch % t.shape[0] !== 0) {
      throw new Error(
          `${OP}: windowBias needs batch to be a multiple of its ${t.shape[0]} windows, got batch ${shape.batch}`);
    }
  }

  /** [B, 1 | Hq, Sq, Sk]: the windows repeated for every image. */
  toDense(shape: AttentionShape): tf.Tensor {
    return tf.tile(this.tensor, [shape.batch / this.numWindows, 1, 1, 1]);
  }

  override lowerInto(into: LoweredBias): string | null {
    const other = into.window[0];
    if (other != null && other.shape[0] !== this.numWindows) {
      return `window biases with different window counts (${other.shape[0]} and ${this.numWindows})`;
    }
    into.window.push(this.tensor);
    return null;
  }
}
