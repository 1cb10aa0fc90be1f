/**
 * Weight-owning building blocks (dense, LayerNorm) that a layer creates inside its own
 * `build`, so that composite layers (a Swin block holds an attention, two norms and an MLP)
 * keep all their weights on themselves, under names such as `attn/qkv/kernel`, without
 * nested tf.layers objects whose weights tfjs-layers would not track.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Initializer} from '@tensorflow/tfjs-layers/dist/initializers';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';

/** `Layer.addWeight`, which is protected, handed to the building blocks by their layer. */
export type AddWeight = (name: string, shape: number[], initializer: Initializer) => LayerVariable;

/** timm's Linear initialization (trunc_normal std 0.02, zero bias). */
export const linearInitializer = () => tfl.initializers.truncatedNormal({stddev: 0.02});

/** PyTorch's nn.LayerNorm default, which timm's Swin uses (tf.layers' default is 1e-3). */
export const LAYER_NORM_EPSILON = 1e-5;

/** x W + b over the last axis; kernel [in, out] (a PyTorch Linear's weight transposed). */
export class DenseWeights {
  readonly kernel: LayerVariable;
  readonly bias: LayerVariable | null;

  constructor(add: AddWeight, name: string, inputDim: number, units: number, useBias: boolean) {
    this.kernel = add(`${name}/kernel`, [inputDim, units], linearInitializer());
    this.bias = useBias ? add(`${name}/bias`, [units], tfl.initializers.zeros()) : null;
  }

  apply(x: tf.Tensor): tf.Tensor {
    const kernel = this.kernel.read() as tf.Tensor2D;
    const [inputDim, units] = kernel.shape;
    const flat = tf.matMul(tf.reshape(x, [-1, inputDim]), kernel);
    const biased = this.bias == null ? flat : tf.add(flat, this.bias.read());
    return tf.reshape(biased, [...x.shape.slice(0, -1), units]);
  }
}

/** LayerNorm over the last axis with gamma and beta, as torch.nn.LayerNorm (biased variance). */
export class LayerNormWeights {
  readonly gamma: LayerVariable;
  readonly beta: LayerVariable;

  /** `gammaInitializer` defaults to ones; Swin V2's res-post-norms start at zero. */
  constructor(add: AddWeight, name: string, dim: number, gammaInitializer: Initializer = tfl.initializers.ones()) {
    this.gamma = add(`${name}/gamma`, [dim], gammaInitializer);
    this.beta = add(`${name}/beta`, [dim], tfl.initializers.zeros());
  }

  apply(x: tf.Tensor): tf.Tensor {
    const {mean, variance} = tf.moments(x, -1, true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LAYER_NORM_EPSILON)));
    return tf.add(tf.mul(normalized, this.gamma.read()), this.beta.read());
  }
}

/** The exact (erf) GELU, as torch.nn.GELU() and timm's Mlp. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** Stochastic depth: during training, zeroes whole samples with probability `rate`, scaling the rest. */
export function dropPath(x: tf.Tensor, rate: number, training: boolean): tf.Tensor {
  if (!training || rate === 0) return x;
  const keep = 1 - rate;
  const sampleShape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
  const mask = tf.floor(tf.add(tf.randomUniform(sampleShape), keep));
  return tf.mul(x, tf.div(mask, keep));
}
