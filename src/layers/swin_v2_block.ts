/**
 * timm 1.0's `SwinTransformerV2Block` on NHWC input [B, H, W, C], res-post-norm:
 *   x = x + dropPath(norm1(windowedAttention(x)));  x = x + dropPath(norm2(mlp(x)))
 * with cosine window attention and the continuous position bias (cosine_window_attention.ts).
 * The window geometry and padding are the V1 block's (swin_block.ts), except that timm's V2
 * labels the shifted-window mask on the unpadded nominal resolution, so a shifted block needs
 * the window to divide it; and its norms start at zero (timm's `_init_respostnorm`).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import {layerOwner} from './args';
import {registerLayer} from './base_layer';
import {CosineWindowAttentionWeights} from './cosine_window_attention';
import {SwinBlockBase, SwinTransformerBlockArgs} from './swin_block';
import {DenseWeights, LayerNormWeights} from './weights';

export class SwinTransformerV2Block extends SwinBlockBase {
  static readonly className = 'SwinTransformerV2Block';

  constructor(args: SwinTransformerBlockArgs) {
    super(args, SwinTransformerV2Block.className, false);
    const owner = layerOwner(SwinTransformerV2Block.className, this.name);
    if (this.window[0] < 2 || this.window[1] < 2) {
      throw new Error(
          `${owner}: window [${this.window}] (windowSize ${this.windowSize} at windowResolution ` +
          `[${this.windowResolution}]) must be at least 2 along each axis: timm's continuous position bias ` +
          'divides by window − 1');
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    this.checkInputShape(inputShape);
    const add = this.addWeightTo;
    const hidden = Math.floor(this.dim * this.mlpRatio);
    this.parts = {
      attn: new CosineWindowAttentionWeights(add, this.constantOf, 'attn/', this.attentionOptions()),
      norm1: new LayerNormWeights(add, 'norm1', this.dim, tfl.initializers.zeros()),
      fc1: new DenseWeights(add, 'mlp/fc1', this.dim, hidden, true),
      fc2: new DenseWeights(add, 'mlp/fc2', hidden, this.dim, true),
      norm2: new LayerNormWeights(add, 'norm2', this.dim, tfl.initializers.zeros()),
    };
    this.built = true;
  }

  protected override attentionBranch(x: tf.Tensor, training: boolean): tf.Tensor {
    return this.parts!.norm1.apply(this.windowedAttention(x, training));
  }

  protected override mlpBranch(x: tf.Tensor): tf.Tensor {
    return this.parts!.norm2.apply(this.mlp(x));
  }
}
registerLayer(SwinTransformerV2Block);
