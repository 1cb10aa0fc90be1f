/**
 * timm's Swin Transformer blocks on NHWC input [B, H, W, C]. The windowed attention is
 *   reverseShift(crop(windowReverse(attn(windowPartition(pad(shift(x)))))))
 * with the shift, padding and partition (and their inverses) run as one token gather each
 * way. Shifted blocks (SW-MSA) pass timm's region mask to the op as a `WindowBias` [nW, 1, N, N].
 *
 * `SwinTransformerBlock` (V1) is pre-norm:
 *   x = x + dropPath(windowedAttention(norm1(x)));  x = x + dropPath(mlp(norm2(x)))
 * `SwinTransformerV2Block` (swin_v2_block.ts) is res-post-norm with cosine attention.
 *
 * Padding follows timm: a grid the window does not divide is padded at the bottom and right
 * with zero tokens after the cyclic shift; they take part in attention (as keys too) and are
 * cropped afterwards. timm picks the window, the shift and the mask from its stage's
 * `input_resolution` (the patch grid floor-halved per stage), while its PatchMerging pads odd
 * sizes and so hands on the ceiling: `windowResolution` is that nominal resolution.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import {WindowBias} from '../bias/window_bias';
import type {AttentionDispatch} from '../dispatch';
import {attentionImplementation, BiasLike} from '../scaled_dot_product_attention';
import {
  checkNonNegativeInteger, checkPositiveInteger, checkPositiveNumber, checkRate, checkResolution, layerOwner,
} from './args';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {checkWindowAttentionOptions, WindowAttentionOptions, WindowAttentionWeights} from './window_attention';
import {
  effectiveWindow, inversePermutation, paddedResolution, permuteTokens, shiftWindowMask, windowTokenOrder, WindowSize,
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
  /**
   * timm's `input_resolution`, from which the window, the shift and the shifted-window mask
   * follow; default `inputResolution`. Differs from it after patch merging of an odd size.
   */
  windowResolution?: WindowSize;
}

/** The attention of a block: timm's V1 `WindowAttention` or V2's cosine attention. */
export interface WindowAttentionPart {
  readonly options: WindowAttentionOptions;
  apply(x: tf.Tensor, windowMask: tf.Tensor | null, training: boolean): tf.Tensor;
}

/** The MLP and norms every block holds, and its windowed attention. */
export interface SwinBlockParts {
  norm1: LayerNormWeights;
  attn: WindowAttentionPart;
  norm2: LayerNormWeights;
  fc1: DenseWeights;
  fc2: DenseWeights;
}

/**
 * What V1 and V2 blocks share: the arguments, the window geometry (window, shift, padding,
 * mask) and the windowed attention. timm labels the shifted-window mask on the nominal
 * resolution, which V1 pads to whole windows (`maskOnPaddedGrid`) and V2 does not.
 */
export abstract class SwinBlockBase extends AttentionPackageLayer {
  readonly dim: number;
  readonly inputResolution: WindowSize;
  readonly windowResolution: WindowSize;
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
  /** The input grid padded to whole windows. */
  readonly paddedResolution: WindowSize;
  protected parts: SwinBlockParts | null = null;

  protected constructor(args: SwinTransformerBlockArgs, className: string, maskOnPaddedGrid: boolean) {
    super(args);
    const owner = layerOwner(className, this.name);
    checkResolution(owner, 'inputResolution', args.inputResolution);
    checkResolution(owner, 'windowResolution', args.windowResolution ?? args.inputResolution);
    this.dim = args.dim;
    this.inputResolution = [args.inputResolution[0], args.inputResolution[1]];
    const windowResolution = args.windowResolution ?? args.inputResolution;
    this.windowResolution = [windowResolution[0], windowResolution[1]];
    this.numHeads = args.numHeads;
    this.windowSize = args.windowSize;
    this.shiftSize = args.shiftSize ?? 0;
    this.mlpRatio = args.mlpRatio ?? 4;
    this.qkvBias = args.qkvBias ?? true;
    this.attnDropRate = args.attnDropRate ?? 0;
    this.dropPath = args.dropPath ?? 0;
    checkPositiveInteger(owner, 'windowSize', this.windowSize);
    checkNonNegativeInteger(owner, 'shiftSize', this.shiftSize);
    if (this.shiftSize >= this.windowSize) {
      throw new Error(`${owner}: shiftSize must be in [0, windowSize), got ${this.shiftSize}`);
    }
    checkPositiveNumber(owner, 'mlpRatio', this.mlpRatio);
    checkRate(owner, 'dropPath', this.dropPath);
    const {window, shift} = effectiveWindow(this.windowResolution, this.windowSize, this.shiftSize);
    this.window = window;
    this.shift = shift;
    checkWindowAttentionOptions(owner, this.attentionOptions());
    if (Math.floor(this.dim * this.mlpRatio) < 1) {
      throw new Error(`${owner}: mlpRatio ${this.mlpRatio} leaves the MLP of ${this.dim} channels no hidden unit`);
    }
    this.paddedResolution = paddedResolution(this.inputResolution, window);
    if (this.hasShift) {
      const grid = maskOnPaddedGrid ? paddedResolution(this.windowResolution, window) : this.windowResolution;
      if (grid[0] !== this.paddedResolution[0] || grid[1] !== this.paddedResolution[1]) {
        throw new Error(
            `${owner}: timm's shifted-window mask covers [${grid}] (windowResolution [${this.windowResolution}]` +
            `${maskOnPaddedGrid ? ' padded to whole windows' : ', unpadded in Swin V2'}), but the input ` +
            `[${this.inputResolution}] pads to [${this.paddedResolution}] with window [${window}]: ` +
            'timm cannot run this block');
      }
    }
  }

  /** The block's gathers are built for `inputResolution`: reject another grid, or another channel count, at build. */
  protected checkInputShape(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const [, h, w, c] = shape;
    if (shape.length !== 4 || h !== this.inputResolution[0] || w !== this.inputResolution[1] || c !== this.dim) {
      throw new Error(
          `${layerOwner(this.getClassName(), this.name)}: input shape [${shape}] must be ` +
          `[batch, ${this.inputResolution[0]}, ${this.inputResolution[1]}, ${this.dim}] (inputResolution and dim)`);
    }
  }

  get hasShift(): boolean {
    return this.shift[0] > 0 || this.shift[1] > 0;
  }

  protected attentionOptions(): WindowAttentionOptions {
    return {
      dim: this.dim, numHeads: this.numHeads, window: this.window, qkvBias: this.qkvBias,
      attnDropRate: this.attnDropRate,
    };
  }

  get numWindows(): number {
    const [hp, wp] = this.paddedResolution;
    return (hp / this.window[0]) * (wp / this.window[1]);
  }

  private tokenOrder(): Int32Array {
    return windowTokenOrder(this.inputResolution, this.window, this.shift);
  }

  /** timm's shifted-window mask over the padded grid, [nW · N · N] with 0 and −100, or null for W-MSA. */
  shiftMaskValues(): Float32Array | null {
    return this.hasShift ? shiftWindowMask(this.paddedResolution, this.window, this.shift) : null;
  }

  /** The shifted-window mask [nW, 1, N, N], or null for W-MSA. */
  windowMask(): tf.Tensor | null {
    if (!this.hasShift) return null;
    const n = this.window[0] * this.window[1];
    return this.constantOf('shiftWindowMask', () => tf.tensor4d(this.shiftMaskValues()!, [this.numWindows, 1, n, n]));
  }

  /** Which attention implementation this block runs for `batchSize` images on the current backend, and why. */
  attentionDispatch(batchSize: number, training = false): AttentionDispatch {
    const n = this.window[0] * this.window[1];
    const query = tf.zeros([batchSize * this.numWindows, this.numHeads, n, this.dim / this.numHeads]);
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

  /** Shift, pad, partition, attend in windows, and undo it all: [B, H, W, C] → [B, H, W, C]. */
  protected windowedAttention(x: tf.Tensor, training: boolean): tf.Tensor {
    const [b, h, w, c] = x.shape;
    const n = this.window[0] * this.window[1];
    const padded = this.paddedResolution[0] * this.paddedResolution[1];
    const order = this.constantOf('windowTokenOrder', () => tf.tensor1d(this.tokenOrder(), 'int32'));
    const inverse = this.constantOf(
        'inverseTokenOrder', () => tf.tensor1d(inversePermutation(this.tokenOrder(), h * w), 'int32'));
    const windows = permuteTokens(tf.reshape(x, [b, h * w, c]), order, inverse);
    const attended = this.parts!.attn.apply(tf.reshape(windows, [-1, n, c]), this.windowMask(), training);
    return tf.reshape(permuteTokens(tf.reshape(attended, [b, padded, c]), inverse, order), x.shape);
  }

  protected mlp(x: tf.Tensor): tf.Tensor {
    const {fc1, fc2} = this.parts!;
    return fc2.apply(gelu(fc1.apply(x)));
  }

  /** The attention residual branch with its norm; where the norm sits is what the blocks differ in. */
  protected abstract attentionBranch(x: tf.Tensor, training: boolean): tf.Tensor;

  /** The MLP residual branch with its norm. */
  protected abstract mlpBranch(x: tf.Tensor): tf.Tensor;

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const training = kwargs.training === true;
      const afterAttention = tf.add(x, dropPath(this.attentionBranch(x, training), this.dropPath, training));
      return tf.add(afterAttention, dropPath(this.mlpBranch(afterAttention), this.dropPath, training));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), dim: this.dim, inputResolution: [...this.inputResolution],
      windowResolution: [...this.windowResolution], numHeads: this.numHeads, windowSize: this.windowSize,
      shiftSize: this.shiftSize, mlpRatio: this.mlpRatio, qkvBias: this.qkvBias, attnDropRate: this.attnDropRate,
      dropPath: this.dropPath,
    };
  }
}

export class SwinTransformerBlock extends SwinBlockBase {
  static readonly className = 'SwinTransformerBlock';

  constructor(args: SwinTransformerBlockArgs) {
    super(args, SwinTransformerBlock.className, true);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.checkInputShape(inputShape);
    const add = this.addWeightTo;
    this.parts = {
      norm1: new LayerNormWeights(add, 'norm1', this.dim),
      attn: new WindowAttentionWeights(add, this.constantOf, 'attn/', this.attentionOptions()),
      norm2: new LayerNormWeights(add, 'norm2', this.dim),
      fc1: new DenseWeights(add, 'mlp/fc1', this.dim, Math.floor(this.dim * this.mlpRatio), true),
      fc2: new DenseWeights(add, 'mlp/fc2', Math.floor(this.dim * this.mlpRatio), this.dim, true),
    };
    this.built = true;
  }

  protected override attentionBranch(x: tf.Tensor, training: boolean): tf.Tensor {
    return this.windowedAttention(this.parts!.norm1.apply(x), training);
  }

  protected override mlpBranch(x: tf.Tensor): tf.Tensor {
    return this.mlp(this.parts!.norm2.apply(x));
  }
}
registerLayer(SwinTransformerBlock);
