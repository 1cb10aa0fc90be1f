/**
 * Swin V2's window attention (timm 1.0's `swin_transformer_v2.WindowAttention`): scaled cosine
 * attention with a per-head learnable logit scale, clamped at log(100), and the continuous
 * position bias, a 2-layer MLP (2 → 512 → heads, ReLU) over log-spaced relative coordinates,
 * then 16 · sigmoid. The qkv projection has no bias of its own: q and v have one each, k none.
 *
 * The cosine scores run on the fused op: q and k are L2-normalized, the logit scale is folded
 * into q, and the op's scale is 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import {WindowBias} from '../bias/window_bias';
import {BiasLike, scaledDotProductAttention} from '../scaled_dot_product_attention';
import type {ConstantOf} from './base_layer';
import type {WindowAttentionOptions} from './window_attention';
import {logSpacedRelativeCoordinates, relativePositionIndex} from './window_ops';
import {AddWeight, DenseWeights} from './weights';

/** The hidden width of timm's `cpb_mlp`. */
export const CPB_HIDDEN_UNITS = 512;
/** timm clamps the logit scale at log(1 / 0.01). */
const MAX_LOGIT_SCALE = Math.log(100);
/** F.normalize's eps, squared: x / max(‖x‖, 1e−12). */
const NORM_EPSILON_SQUARED = 1e-24;

/**
 * x / max(‖x‖, 1e−12) over the last axis, as torch's F.normalize; a zero row (padding) stays
 * zero, with finite gradients.
 */
function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), -1, true), NORM_EPSILON_SQUARED)));
}

export class CosineWindowAttentionWeights {
  readonly logitScale: LayerVariable;
  readonly cpbHidden: DenseWeights;
  readonly cpbOutput: DenseWeights;
  readonly qkv: DenseWeights;
  readonly qBias: LayerVariable | null;
  readonly vBias: LayerVariable | null;
  readonly proj: DenseWeights;
  readonly headDim: number;

  constructor(
      add: AddWeight, private readonly constant: ConstantOf, prefix: string, readonly options: WindowAttentionOptions) {
    const {dim, numHeads, qkvBias} = options;
    this.headDim = dim / numHeads;
    this.logitScale = add(`${prefix}logit_scale`, [numHeads, 1, 1], tfl.initializers.constant({value: Math.log(10)}));
    this.cpbHidden = new DenseWeights(add, `${prefix}cpb_mlp/0`, 2, CPB_HIDDEN_UNITS, true);
    this.cpbOutput = new DenseWeights(add, `${prefix}cpb_mlp/2`, CPB_HIDDEN_UNITS, numHeads, false);
    this.qkv = new DenseWeights(add, `${prefix}qkv`, dim, 3 * dim, false);
    this.qBias = qkvBias ? add(`${prefix}q_bias`, [dim], tfl.initializers.zeros()) : null;
    this.vBias = qkvBias ? add(`${prefix}v_bias`, [dim], tfl.initializers.zeros()) : null;
    this.proj = new DenseWeights(add, `${prefix}proj`, dim, dim, true);
  }

  /** 16 · sigmoid(cpb_mlp(coordinates)) gathered for every token pair: [1, heads, N, N]. */
  relativePositionBias(): tf.Tensor {
    const window = this.options.window;
    const n = window[0] * window[1];
    const coordinates = this.constant('relativeCoordinates', () => {
      const values = logSpacedRelativeCoordinates(window);
      return tf.tensor2d(values, [values.length / 2, 2]);
    });
    const index = this.constant('relativePositionIndex', () => tf.tensor1d(relativePositionIndex(window), 'int32'));
    const table = this.cpbOutput.apply(tf.relu(this.cpbHidden.apply(coordinates)));
    const perPair = tf.reshape(tf.gather(table, index), [n, n, -1]);
    return tf.mul(16, tf.sigmoid(tf.expandDims(tf.transpose(perPair, [2, 0, 1]), 0)));
  }

  /** x: [B · nW, N, C] windows; windowMask: [nW, 1, N, N] or null. */
  apply(x: tf.Tensor, windowMask: tf.Tensor | null, training: boolean): tf.Tensor {
    const [batchWindows, n, dim] = x.shape;
    const {numHeads, attnDropRate} = this.options;
    let projected = this.qkv.apply(x);
    if (this.qBias != null && this.vBias != null) {
      projected = tf.add(projected, tf.concat([this.qBias.read(), tf.zeros([dim]), this.vBias.read()]));
    }
    const qkv = tf.reshape(projected, [batchWindows, n, 3, numHeads, this.headDim]);
    const [query, key, value] = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]));
    const logitScale = tf.exp(tf.minimum(this.logitScale.read(), MAX_LOGIT_SCALE));
    const bias: BiasLike[] = [this.relativePositionBias()];
    if (windowMask != null) bias.push(new WindowBias(windowMask));
    const attended = scaledDotProductAttention(tf.mul(l2Normalize(query), logitScale), l2Normalize(key), value, {
      bias,
      scale: 1,
      dropout: training && attnDropRate > 0 ? {rate: attnDropRate} : undefined,
    });
    return this.proj.apply(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batchWindows, n, dim]));
  }
}
