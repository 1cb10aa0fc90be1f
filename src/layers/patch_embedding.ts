/**
 * timm's `PatchEmbed` for Swin: a patchSize × patchSize convolution with stride patchSize
 * (kernel [kh, kw, in, out], a PyTorch Conv2d weight [out, in, kh, kw] permuted), then
 * LayerNorm. NHWC [B, H, W, inChans] → [B, H / p, W / p, embedDim].
 *
 * The convolution's windows do not overlap, so it runs as patches flattened in (ky, kx, c)
 * order times the kernel as a [p · p · in, out] matrix: the same result, and on the cpu
 * backend much faster to train than conv2d (whose filter gradient is the slowest kernel of
 * a small Swin's training step).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import {checkPositiveInteger, layerOwner} from './args';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {LayerNormWeights} from './weights';

export interface PatchEmbeddingArgs extends LayerArgs {
  patchSize: number;
  inChans: number;
  embedDim: number;
}

export class PatchEmbedding extends AttentionPackageLayer {
  static readonly className = 'PatchEmbedding';
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  private parts: {kernel: LayerVariable, bias: LayerVariable, norm: LayerNormWeights} | null = null;

  constructor(args: PatchEmbeddingArgs) {
    super(args);
    this.patchSize = args.patchSize;
    this.inChans = args.inChans;
    this.embedDim = args.embedDim;
    const owner = layerOwner(PatchEmbedding.className, this.name);
    checkPositiveInteger(owner, 'patchSize', this.patchSize);
    checkPositiveInteger(owner, 'inChans', this.inChans);
    checkPositiveInteger(owner, 'embedDim', this.embedDim);
  }

  override build(): void {
    const p = this.patchSize;
    this.parts = {
      kernel: this.addWeightTo('proj/kernel', [p, p, this.inChans, this.embedDim], tfl.initializers.glorotUniform({})),
      bias: this.addWeightTo('proj/bias', [this.embedDim], tfl.initializers.zeros()),
      norm: new LayerNormWeights(this.addWeightTo, 'norm', this.embedDim),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape): Shape {
    const [batch, h, w] = inputShape;
    const p = this.patchSize;
    return [batch, h == null ? null : Math.floor(h / p), w == null ? null : Math.floor(w / p), this.embedDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const {kernel, bias, norm} = this.parts!;
      const p = this.patchSize;
      if (x.shape[1] % p !== 0 || x.shape[2] % p !== 0) {
        throw new Error(
            `PatchEmbedding: image size [${x.shape[1]}, ${x.shape[2]}] must be a multiple of patchSize ${p}`);
      }
      const [b, h, w, c] = x.shape;
      const grid = tf.reshape(x, [b, h / p, p, w / p, p, c]);
      const patches = tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, p * p * c]);
      const embedded = tf.add(tf.matMul(patches, tf.reshape(kernel.read(), [p * p * c, this.embedDim])), bias.read());
      return norm.apply(tf.reshape(embedded, [b, h / p, w / p, this.embedDim]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), patchSize: this.patchSize, inChans: this.inChans, embedDim: this.embedDim};
  }
}
registerLayer(PatchEmbedding);
