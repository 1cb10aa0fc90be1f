/**
 * The projections of Keras's MultiHeadAttention, with Keras's weight layout (its EinsumDense
 * layers): query, key and value kernels [inputDim, heads, headDim] with biases [heads, headDim]
 * ('abc,cde->abde'), the output kernel [heads, valueDim, outputDim] with bias [outputDim]
 * ('abcd,cde->abe'). Computed as one matMul each over flattened heads.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';

/** Adds the weight `name` ('kernel' or 'bias' of a projection) of `shape`. */
export type AddProjectionWeight = (name: string, shape: number[], kind: 'kernel' | 'bias') => LayerVariable;

/** [B, T, inputDim] → [B, heads, T, headDim]. */
export class HeadProjection {
  readonly kernel: LayerVariable;
  readonly bias: LayerVariable | null;

  constructor(
      add: AddProjectionWeight, name: string, inputDim: number, heads: number, headDim: number, useBias: boolean) {
    this.kernel = add(`${name}/kernel`, [inputDim, heads, headDim], 'kernel');
    this.bias = useBias ? add(`${name}/bias`, [heads, headDim], 'bias') : null;
  }

  apply(x: tf.Tensor): tf.Tensor {
    const [inputDim, heads, headDim] = this.kernel.shape as number[];
    const [batch, seq] = x.shape as number[];
    let flat = tf.matMul(tf.reshape(x, [-1, inputDim]), tf.reshape(this.kernel.read(), [inputDim, heads * headDim]));
    if (this.bias != null) flat = tf.add(flat, tf.reshape(this.bias.read(), [heads * headDim]));
    return tf.transpose(tf.reshape(flat, [batch, seq, heads, headDim]), [0, 2, 1, 3]);
  }
}

/** [B, heads, T, valueDim] → [B, T, outputDim]. */
export class OutputProjection {
  readonly kernel: LayerVariable;
  readonly bias: LayerVariable | null;

  constructor(
      add: AddProjectionWeight, name: string, heads: number, valueDim: number, outputDim: number, useBias: boolean) {
    this.kernel = add(`${name}/kernel`, [heads, valueDim, outputDim], 'kernel');
    this.bias = useBias ? add(`${name}/bias`, [outputDim], 'bias') : null;
  }

  apply(x: tf.Tensor): tf.Tensor {
    const [heads, valueDim, outputDim] = this.kernel.shape as number[];
    const [batch, , seq] = x.shape as number[];
    const merged = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [-1, heads * valueDim]);
    let flat = tf.matMul(merged, tf.reshape(this.kernel.read(), [heads * valueDim, outputDim]));
    if (this.bias != null) flat = tf.add(flat, this.bias.read());
    return tf.reshape(flat, [batch, seq, outputDim]);
  }
}
