/**
 * Swin's window attention (timm's `WindowAttention`): qkv projection, multi-head attention
 * inside each window with a learned relative position bias, output projection.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import {WindowBias} from '../bias/window_bias';
import {BiasLike, scaledDotProductAttention} from '../scaled_dot_product_attention';
import {checkBoolean, checkPositiveInteger, checkRate, checkResolution, layerOwner} from './args';
import {AttentionPackageLayer, ConstantOf, registerLayer} from './base_layer';
import {relativePositionIndex, WindowSize} from './window_ops';
import {AddWeight, DenseWeights} from './weights';

export interface WindowAttentionOptions {
  dim: number;
  numHeads: number;
  window: WindowSize;
  qkvBias: boolean;
  attnDropRate: number;
}

/** Checks the options of a window attention (V1 or V2) for the layer `owner`. */
export function checkWindowAttentionOptions(owner: string, options: WindowAttentionOptions): void {
  const {dim, numHeads, window, qkvBias, attnDropRate} = options;
  checkPositiveInteger(owner, 'dim', dim);
  checkPositiveInteger(owner, 'numHeads', numHeads);
  if (dim % numHeads !== 0) throw new Error(`${owner}: dim ${dim} must be a multiple of numHeads ${numHeads}`);
  checkResolution(owner, 'windowSize', window);
  checkBoolean(owner, 'qkvBias', qkvBias);
  checkRate(owner, 'attnDropRate', attnDropRate);
}

/** The weights and computation, shared by the `WindowAttention` layer and `SwinTransformerBlock`. */
export class WindowAttentionWeights {
  readonly qkv: DenseWeights;
  readonly relativePositionBiasTable: LayerVariable;
  readonly proj: DenseWeights;
  readonly headDim: number;

  constructor(
      add: AddWeight, private readonly constant: ConstantOf, prefix: string, readonly options: WindowAttentionOptions) {
    const {dim, numHeads, window: [wh, ww], qkvBias} = options;
    this.headDim = dim / numHeads;
    this.qkv = new DenseWeights(add, `${prefix}qkv`, dim, 3 * dim, qkvBias);
    this.relativePositionBiasTable = add(
        `${prefix}relative_position_bias_table`, [(2 * wh - 1) * (2 * ww - 1), numHeads],
        tfl.initializers.truncatedNormal({stddev: 0.02}));
    this.proj = new DenseWeights(add, `${prefix}proj`, dim, dim, true);
  }

  /** The table gathered for every token pair: [1, heads, N, N], broadcast over the batch. */
  relativePositionBias(): tf.Tensor {
    const window = this.options.window;
    const n = window[0] * window[1];
    const index = this.constant('relativePositionIndex', () => tf.tensor1d(relativePositionIndex(window), 'int32'));
    const perPair = tf.reshape(tf.gather(this.relativePositionBiasTable.read(), index), [n, n, -1]);
    return tf.expandDims(tf.transpose(perPair, [2, 0, 1]), 0);
  }

  /** x: [B · nW, N, C] windows; windowMask: [nW, 1, N, N] or null. */
  apply(x: tf.Tensor, windowMask: tf.Tensor | null, training: boolean): tf.Tensor {
    const [batchWindows, n, dim] = x.shape;
    const {numHeads, attnDropRate} = this.options;
    const qkv = tf.reshape(this.qkv.apply(x), [batchWindows, n, 3, numHeads, this.headDim]);
    const [query, key, value] = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]));
    const bias: BiasLike[] = [this.relativePositionBias()];
    if (windowMask != null) bias.push(new WindowBias(windowMask));
    const attended = scaledDotProductAttention(query, key, value, {
      bias,
      scale: this.headDim ** -0.5,
      dropout: training && attnDropRate > 0 ? {rate: attnDropRate} : undefined,
    });
    return this.proj.apply(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batchWindows, n, dim]));
  }
}

export interface WindowAttentionArgs extends LayerArgs {
  dim: number;
  numHeads: number;
  /** The window's side, or [height, width]. */
  windowSize: number | WindowSize;
  qkvBias?: boolean;
  attnDropRate?: number;
}

/**
 * Input [B · nW, N, C] (windows already partitioned, N = window area). Call kwargs:
 * `windowMask`, an optional [nW, N, N] or [nW, 1, N, N] additive mask (timm's `mask`) that
 * window w of every image uses.
 */
export class WindowAttention extends AttentionPackageLayer {
  static readonly className = 'WindowAttention';
  readonly dim: number;
  readonly numHeads: number;
  readonly window: WindowSize;
  readonly qkvBias: boolean;
  readonly attnDropRate: number;
  private attention: WindowAttentionWeights | null = null;

  constructor(args: WindowAttentionArgs) {
    super(args);
    this.dim = args.dim;
    this.numHeads = args.numHeads;
    this.window = typeof args.windowSize === 'number' ? [args.windowSize, args.windowSize] : args.windowSize;
    this.qkvBias = args.qkvBias ?? true;
    this.attnDropRate = args.attnDropRate ?? 0;
    checkWindowAttentionOptions(layerOwner(WindowAttention.className, this.name), {
      dim: this.dim, numHeads: this.numHeads, window: this.window, qkvBias: this.qkvBias,
      attnDropRate: this.attnDropRate,
    });
  }

  override build(): void {
    this.attention = new WindowAttentionWeights(this.addWeightTo, this.constantOf, '', {
      dim: this.dim, numHeads: this.numHeads, window: this.window, qkvBias: this.qkvBias,
      attnDropRate: this.attnDropRate,
    });
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const mask = kwargs.windowMask as tf.Tensor | undefined;
      const windowMask = mask == null ? null : mask.rank === 3 ? tf.expandDims(mask, 1) : mask;
      return this.attention!.apply(x, windowMask, kwargs.training === true);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), dim: this.dim, numHeads: this.numHeads, windowSize: [...this.window],
      qkvBias: this.qkvBias, attnDropRate: this.attnDropRate,
    };
  }
}
registerLayer(WindowAttention);
