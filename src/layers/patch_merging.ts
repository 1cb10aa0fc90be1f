/**
 * timm's `PatchMerging`: each 2 × 2 neighbourhood's features concatenated in timm's order
 * x0 = (0, 0), x1 = (1, 0), x2 = (0, 1), x3 = (1, 1) as (row, column) offsets, LayerNorm,
 * then a linear 4C → outDim without bias. NHWC [B, H, W, C] → [B, H / 2, W / 2, outDim].
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {DenseWeights, LayerNormWeights} from './weights';

export interface PatchMergingArgs extends LayerArgs {
  dim: number;
  /** Default 2 · dim. */
  outDim?: number;
}

/** [B, H, W, C] → [B, H / 2, W / 2, 4C] in timm's order. */
export function mergeNeighbourhoods(x: tf.Tensor): tf.Tensor {
  const [b, h, w, c] = x.shape;
  if (h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`PatchMerging: input resolution [${h}, ${w}] must be even (timm would pad; this port does not)`);
  }
  // [B, H/2, row offset, W/2, column offset, C] → [B, H/2, W/2, column offset, row offset, C]
  const split = tf.reshape(x, [b, h / 2, 2, w / 2, 2, c]);
  return tf.reshape(tf.transpose(split, [0, 1, 3, 4, 2, 5]), [b, h / 2, w / 2, 4 * c]);
}

export class PatchMerging extends AttentionPackageLayer {
  static readonly className = 'PatchMerging';
  readonly dim: number;
  readonly outDim: number;
  private parts: {norm: LayerNormWeights, reduction: DenseWeights} | null = null;

  constructor(args: PatchMergingArgs) {
    super(args);
    this.dim = args.dim;
    this.outDim = args.outDim ?? 2 * args.dim;
  }

  override build(): void {
    this.parts = {
      norm: new LayerNormWeights(this.addWeightTo, 'norm', 4 * this.dim),
      reduction: new DenseWeights(this.addWeightTo, 'reduction', 4 * this.dim, this.outDim, false),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape): Shape {
    const [batch, h, w] = inputShape;
    return [batch, h == null ? null : Math.floor(h / 2), w == null ? null : Math.floor(w / 2), this.outDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const {norm, reduction} = this.parts!;
      return reduction.apply(norm.apply(mergeNeighbourhoods(x)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), dim: this.dim, outDim: this.outDim};
  }
}
registerLayer(PatchMerging);
