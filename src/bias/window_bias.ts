import * as tf from '@tensorflow/tfjs-core';
import {reduceToShape} from '../bias_terms';
import {AttentionShape, fmtShape, OP} from '../shapes';
import {AttentionBias, BiasKind, checkLiveTensor, ComposedTerm, LoweredBias} from './attention_bias';

const EXPECTED = 'a tf.Tensor [nW, 1 | heads, seqQ, seqK]';

/**
 * A bias periodic over the batch: t is [nW, 1 | Hq, Sq, Sk] and batch b uses t[b % nW].
 * This is Swin's window-partitioned batch (image-major, window-minor) with its
 * shifted-window mask, passed without repeating it for every image.
 */
export class WindowBias extends AttentionBias {
  readonly kind: BiasKind = 'window';
  constructor(readonly tensor: tf.Tensor) {
    super();
    checkLiveTensor(tensor, 'WindowBias tensor', EXPECTED);
  }

  get numWindows(): number {
    return this.tensor.shape[0];
  }

  check(shape: AttentionShape): void {
    const t = this.tensor;
    checkLiveTensor(t, 'WindowBias tensor', EXPECTED);
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

  /** Added per image, batch b taking window b % nW, without repeating the windows. */
  override composedTerm(): ComposedTerm {
    return {
      tensors: [this.tensor],
      addTo: (scores, [window]) => {
        const [b, h, sq, sk] = scores.shape;
        const nW = window.shape[0];
        const perImage = tf.reshape(scores, [b / nW, nW, h, sq, sk]);
        return tf.reshape(tf.add(perImage, tf.expandDims(window, 0)), scores.shape);
      },
      grads: (dScores, [window]) => {
        const [b, h, sq, sk] = dScores.shape;
        const nW = window.shape[0];
        return [reduceToShape(tf.sum(tf.reshape(dScores, [b / nW, nW, h, sq, sk]), 0), window.shape)];
      },
    };
  }

  override lowerInto(into: LoweredBias): string | null {
    const other = into.window[0];
    if (other != null && other.shape[0] !== this.numWindows) {
      return `window biases with different window counts (${other.shape[0]} and ${this.numWindows})`;
    }
    into.window.push(this.tensor);
    into.kinds.add(this.kind);
    return null;
  }
}
