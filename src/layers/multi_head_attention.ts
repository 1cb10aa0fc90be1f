/**
 * Keras's `MultiHeadAttention` on the fused op: projections of query, key and value into
 * `numHeads` heads, scaled dot-product attention, output projection.
 *
 * Called with [query, value] or [query, value, key] ([batch, seq, features] each; key
 * defaults to value) and kwargs `attentionBias` (an additive bias: a tensor broadcasting to
 * [batch, numHeads, seqQ, seqK], an AttentionBias, or an array of these; -Infinity masks,
 * where Keras takes a boolean `attention_mask`), `useCausalMask` and `training`.
 * Weights are 2-D: `query/kernel` [queryDim, numHeads · keyDim] (Keras keeps
 * [queryDim, numHeads, keyDim]), and so on for key, value and `attention_output`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import {BiasLike, scaledDotProductAttention} from '../scaled_dot_product_attention';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {DenseWeights} from './weights';

export interface MultiHeadAttentionArgs extends LayerArgs {
  numHeads: number;
  /** Size of each query and key head. */
  keyDim: number;
  /** Size of each value head; default keyDim. */
  valueDim?: number;
  /** Dropout on the attention probabilities, in training. */
  dropout?: number;
  useBias?: boolean;
  /** Last dimension of the output; default the query's. */
  outputShape?: number;
}

type Projections = {query: DenseWeights, key: DenseWeights, value: DenseWeights, output: DenseWeights};

function lastDim(shape: Shape): number {
  const dim = shape[shape.length - 1];
  if (shape.length !== 3 || dim == null) {
    throw new Error(`MultiHeadAttention: inputs must be [batch, seq, features] with known features, got [${shape}]`);
  }
  return dim;
}

/** [B, S, H · d] → [B, H, S, d]. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [b, s, width] = x.shape;
  return tf.transpose(tf.reshape(x, [b, s, heads, width / heads]), [0, 2, 1, 3]);
}

export class MultiHeadAttention extends AttentionPackageLayer {
  /** Not 'MultiHeadAttention', which tfjs-layers registers for its own layer. */
  static readonly className = 'FusedMultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly outputDim: number | null;
  private projections: Projections | null = null;

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    this.outputDim = args.outputShape ?? null;
    if (!(this.dropout >= 0 && this.dropout < 1)) throw new Error(`MultiHeadAttention: dropout must be in [0, 1), got ${this.dropout}`);
  }

  override build(inputShape: Shape | Shape[]): void {
    const [queryShape, valueShape, keyShape = valueShape] = inputShape as Shape[];
    if (!Array.isArray(queryShape) || !Array.isArray(valueShape)) {
      throw new Error('MultiHeadAttention: call it with [query, value] or [query, value, key]');
    }
    const {numHeads, keyDim, valueDim, useBias} = this;
    const queryDim = lastDim(queryShape);
    this.projections = {
      query: new DenseWeights(this.addWeightTo, 'query', queryDim, numHeads * keyDim, useBias),
      key: new DenseWeights(this.addWeightTo, 'key', lastDim(keyShape), numHeads * keyDim, useBias),
      value: new DenseWeights(this.addWeightTo, 'value', lastDim(valueShape), numHeads * valueDim, useBias),
      output: new DenseWeights(this.addWeightTo, 'attention_output', numHeads * valueDim, this.outputDim ?? queryDim, useBias),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const queryShape = (inputShape as Shape[])[0];
    return [...queryShape.slice(0, -1), this.outputDim ?? queryShape[queryShape.length - 1]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [query, value, key = value] = inputs as tf.Tensor[];
      const {query: wq, key: wk, value: wv, output: wo} = this.projections!;
      const heads = this.numHeads;
      const attended = scaledDotProductAttention(
          splitHeads(wq.apply(query), heads), splitHeads(wk.apply(key), heads), splitHeads(wv.apply(value), heads), {
            bias: kwargs.attentionBias as BiasLike | BiasLike[] | undefined,
            causal: kwargs.useCausalMask === true,
            dropout: kwargs.training === true && this.dropout > 0 ? {rate: this.dropout} : undefined,
          });
      const [b, , s] = attended.shape;
      return wo.apply(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [b, s, heads * this.valueDim]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(), numHeads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim,
      dropout: this.dropout, useBias: this.useBias,
    };
    if (this.outputDim != null) config.outputShape = this.outputDim;
    return config;
  }
}
registerLayer(MultiHeadAttention);
