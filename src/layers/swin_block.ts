/**
 * timm's `SwinTransformerBlock` on NHWC input [B, H, W, C]:
 *   x = x + dropPath(reverseShift(windowReverse(attn(windowPartition(shift(norm1(x)))))))
 *   x = x + dropPath(mlp(norm2(x)))
 * The shift and partition (and their inverses) run as one token permutation each way.
 * Shifted blocks (SW-MSA) pass timm's region mask to the op as a `WindowBias` [nW, 1, N, N].
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import {WindowBias} from '../bias/window_bias';
import type {AttentionDispatch} from '../dispatch';
import {attentionImplementation, BiasLike} from '../scaled_dot_product_attention';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {WindowAttentionWeights} from './window_attention';
import {
  effectiveWindow, inversePermutation, permuteTokens, shiftWindowMask, windowTokenOrder, WindowSize,
} from './window_ops';
import {DenseWeights, dropPath, gelu, LayerNormWeights} from './weights';

export interface SwinTransformerBlockArgs extends LayerArgs {
  dim: number;
  /** [H, W] of the block's input. */
  inputResolution: WindowSize;
  numHeads: number;
  windowSize: number;
  /** 0 for W-MSA; timm's stages use windowSize / 2 on odd blocks (SW-MSA). */
  shiftSize?: number;
  mlpRatio?: number;
  qkvBias?: boolean;
  attnDropRate?: number;
  /** Stochastic depth rate of both residual branches. */
  dropPath?: number;
}

export class SwinTransformerBlock extends AttentionPackageLayer {
  static readonly className = 'SwinTransformerBlock';
  readonly dim: number;
  readonly inputResolution: WindowSize;
  readonly numHeads: number;
  readonly windowSize: number;
  readonly shiftSize: number;
  readonly mlpRatio: number;
  readonly qkvBias: boolean;
  readonly attnDropRate: number;
  readonly dropPath: number;
  /** The window and shift after timm's rule for stages no larger than the window. */
  readonly window: WindowSize;
  readonly shift: WindowSize;
  private parts: {
    norm1: LayerNormWeights, attn: WindowAttentionWeights, norm2: LayerNormWeights, fc1: DenseWeights,
    fc2: DenseWeights,
  } | null = null;

  constructor(args: SwinTransformerBlockArgs) {
    super(args);
    this.dim = args.dim;
    this.inputResolution = [args.inputResolution[0], args.inputResolution[1]];
    this.numHeads = args.numHeads;
    this.windowSize = args.windowSize;
    this.shiftSize = args.shiftSize ?? 0;
    this.mlpRatio = args.mlpRatio ?? 4;
    this.qkvBias = args.qkvBias ?? true;
    this.attnDropRate = args.attnDropRate ?? 0;
    this.dropPath = args.dropPath ?? 0;
    const {window, shift} = effectiveWindow(this.inputResolution, this.windowSize, this.shiftSize);
    this.window = window;
    this.shift = shift;
    const [h, w] = this.inputResolution;
    if (h % window[0] !== 0 || w % window[1] !== 0) {
      throw new Error(
          `SwinTransformerBlock: inputResolution [${h}, ${w}] must be a multiple of the window [${window}] ` +
          '(timm would pad; this port does not)');
    }
    if (shift.some((s, axis) => s < 0 || s >= window[axis])) {
      throw new Error(`SwinTransformerBlock: shiftSize must be in [0, windowSize), got ${this.shiftSize}`);
    }
  }

  get hasShift(): boolean {
    return this.shift[0] > 0 || this.shift[1] > 0;
  }

  override build(): void {
    const add = this.addWeightTo;
    const hidden = Math.floor(this.dim * this.mlpRatio);
    this.parts = {
      norm1: new LayerNormWeights(add, 'norm1', this.dim),
      attn: new WindowAttentionWeights(add, this.constantOf, 'attn/', {
        dim: this.dim, numHeads: this.numHeads, window: this.window, qkvBias: this.qkvBias,
        attnDropRate: this.attnDropRate,
      }),
      norm2: new LayerNormWeights(add, 'norm2', this.dim),
      fc1: new DenseWeights(add, 'mlp/fc1', this.dim, hidden, true),
      fc2: new DenseWeights(add, 'mlp/fc2', hidden, this.dim, true),
    };
    this.built = true;
  }

  private tokenOrder(): Int32Array {
    return windowTokenOrder(this.inputResolution, this.window, this.shift);
  }

  /** The shifted-window mask [nW, 1, N, N], or null for W-MSA. */
  windowMask(): tf.Tensor | null {
    if (!this.hasShift) return null;
    const [wh, ww] = this.window;
    const [h, w] = this.inputResolution;
    const numWindows = (h / wh) * (w / ww);
    return this.constantOf(
        'shiftWindowMask',
        () => tf.tensor4d(
            shiftWindowMask(this.inputResolution, this.window, this.shift), [numWindows, 1, wh * ww, wh * ww]));
  }

  /** Which attention implementation this block runs for `batchSize` images on the current backend, and why. */
  attentionDispatch(batchSize: number, training = false): AttentionDispatch {
    const [wh, ww] = this.window;
    const [h, w] = this.inputResolution;
    const n = wh * ww;
    const query = tf.zeros([batchSize * (h / wh) * (w / ww), this.numHeads, n, this.dim / this.numHeads]);
    const relativeBias = tf.zeros([1, this.numHeads, n, n]);
    const bias: BiasLike[] = [relativeBias];
    const mask = this.windowMask();
    if (mask != null) bias.push(new WindowBias(mask));
    const dropout = training && this.attnDropRate > 0 ? {rate: this.attnDropRate} : undefined;
    try {
      return attentionImplementation(query, query, query, {bias, dropout});
    } finally {
      tf.dispose([query, relativeBias]);
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const training = kwargs.training === true;
      const {norm1, attn, norm2, fc1, fc2} = this.parts!;
      const [b, h, w, c] = x.shape;
      const n = this.window[0] * this.window[1];
      const order = this.constantOf('windowTokenOrder', () => tf.tensor1d(this.tokenOrder(), 'int32'));
      const inverse = this.constantOf('inverseTokenOrder', () => tf.tensor1d(inversePermutation(this.tokenOrder()), 'int32'));
      const windows = permuteTokens(tf.reshape(norm1.apply(x), [b, h * w, c]), order, inverse);
      const attendedWindows = attn.apply(tf.reshape(windows, [-1, n, c]), this.windowMask(), training);
      const attended = tf.reshape(permuteTokens(tf.reshape(attendedWindows, [b, h * w, c]), inverse, order), x.shape);
      const afterAttention = tf.add(x, dropPath(attended, this.dropPath, training));
      const mlp = fc2.apply(gelu(fc1.apply(norm2.apply(afterAttention))));
      return tf.add(afterAttention, dropPath(mlp, this.dropPath, training));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), dim: this.dim, inputResolution: [...this.inputResolution], numHeads: this.numHeads,
      windowSize: this.windowSize, shiftSize: this.shiftSize, mlpRatio: this.mlpRatio, qkvBias: this.qkvBias,
      attnDropRate: this.attnDropRate, dropPath: this.dropPath,
    };
  }
}
registerLayer(SwinTransformerBlock);
