/**
 * Summing and reducing bias terms without relying on tfjs-core's registered gradients
 * (a user of tfjs-core alone has none): both carry their own gradient.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Sums `grad` over the axes where `shape` (rank ≤ grad's, left-padded with 1s) broadcasts. */
export function reduceToShape(grad: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const padded = new Array(grad.rank - shape.length).fill(1).concat(shape);
    const axes = padded.flatMap((dim, axis) => dim === 1 && grad.shape[axis] !== 1 ? [axis] : []);
    const summed = axes.length > 0 ? tf.sum(grad, axes, true) : grad;
    return tf.reshape(summed, shape as number[]);
  });
}

/** The broadcast sum of `terms`, each of whose gradients is the output's reduced to its shape. */
export function sumBroadcast(terms: tf.Tensor[]): tf.Tensor {
  if (terms.length === 1) return terms[0];
  const sum = tf.customGrad((...args: unknown[]) => {
    const inputs = args.slice(0, terms.length) as tf.Tensor[];
    return {
      value: inputs.slice(1).reduce((acc: tf.Tensor, t) => tf.add(acc, t), inputs[0]),
      gradFunc: (dy: tf.Tensor) => inputs.map(t => reduceToShape(dy, t.shape)),
    };
  });
  return sum(...terms);
}
