/**
 * timm's `PatchMerging`: odd sizes padded with a zero row or column at the bottom or right,
 * then each 2 × 2 neighbourhood's features concatenated in timm's order x0 = (0, 0),
 * x1 = (1, 0), x2 = (0, 1), x3 = (1, 1) as (row, column) offsets, then LayerNorm and a linear
 * 4C → outDim without bias (Swin V2: the linear, then LayerNorm over outDim).
 * NHWC [B, H, W, C] → [B, ⌈H / 2⌉, ⌈W / 2⌉, outDim].
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import {checkBoolean, checkPositiveInteger, layerOwner} from './args';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {DenseWeights, LayerNormWeights} from './weights';

export interface PatchMergingArgs extends LayerArgs {
  dim: number;
  /** Default 2 · dim. */
  outDim?: number;
  /** Swin V2's order: the reduction, then LayerNorm over outDim. Default false (V1: LayerNorm over 4 · dim first). */
  postNorm?: boolean;
}

/** [B, H, W, C] → [B, ⌈H / 2⌉, ⌈W / 2⌉, 4C] in timm's order, odd sizes padded with zeros. */
export function mergeNeighbourhoods(x: tf.Tensor): tf.Tensor {
  const [oddH, oddW] = [x.shape[1]! % 2, x.shape[2]! % 2];
  const padded = oddH === 0 && oddW === 0 ? x : tf.pad(x, [[0, 0], [0, oddH], [0, oddW], [0, 0]]);
  const [b, h, w, c] = padded.shape;
  // [B, H/2, row offset, W/2, column offset, C] → [B, H/2, W/2, column offset, row offset, C]
  const split = tf.reshape(padded, [b, h / 2, 2, w / 2, 2, c]);
  return tf.reshape(tf.transpose(split, [0, 1, 3, 4, 2, 5]), [b, h / 2, w / 2, 4 * c]);
}

export class PatchMerging extends AttentionPackageLayer {
  static readonly className = 'PatchMerging';
  readonly dim: number;
  readonly outDim: number;
  readonly postNorm: boolean;
  private parts: {norm: LayerNormWeights, reduction: DenseWeights} | null = null;

  constructor(args: PatchMergingArgs) {
    super(args);
    this.dim = args.dim;
    this.outDim = args.outDim ?? 2 * args.dim;
    this.postNorm = args.postNorm ?? false;
    const owner = layerOwner(PatchMerging.className, this.name);
    checkPositiveInteger(owner, 'dim', this.dim);
    checkPositiveInteger(owner, 'outDim', this.outDim);
    checkBoolean(owner, 'postNorm', this.postNorm);
  }

  override build(): void {
    this.parts = {
      norm: new LayerNormWeights(this.addWeightTo, 'norm', this.postNorm ? this.outDim : 4 * this.dim),
      reduction: new DenseWeights(this.addWeightTo, 'reduction', 4 * this.dim, this.outDim, false),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape): Shape {
    const [batch, h, w] = inputShape;
    return [batch, h == null ? null : Math.ceil(h / 2), w == null ? null : Math.ceil(w / 2), this.outDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const {norm, reduction} = this.parts!;
      const merged = mergeNeighbourhoods(x);
      return this.postNorm ? norm.apply(reduction.apply(merged)) : reduction.apply(norm.apply(merged));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), dim: this.dim, outDim: this.outDim, postNorm: this.postNorm};
  }
}
registerLayer(PatchMerging);
