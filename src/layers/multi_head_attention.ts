/**
 * Keras's `MultiHeadAttention` on the fused op: projections of query, key and value into
 * `numHeads` heads, scaled dot-product attention, output projection.
 *
 * Inputs: x (self-attention), [query, value] or [query, value, key] ([batch, seq, features]
 * each; key defaults to value). Call kwargs (`MultiHeadAttentionCallArgs`): `attentionMask`
 * (boolean, true = attend), `attentionBias` (additive, -Infinity masks), `useCausalMask`,
 * `returnAttentionScores`, `training`. In a functional model, predict() and fit() hand a
 * layer its input tensors only, so: a mask or bias given as a SymbolicTensor becomes an input
 * of the layer (attention_inputs.ts), causal attention is the constructor's `useCausalMask`,
 * and any other kwarg given on symbolic inputs throws rather than being dropped.
 * Weights are 2-D: `query/kernel` [queryDim, numHeads · keyDim] (Keras keeps
 * [queryDim, numHeads, keyDim]), and so on for key, value and `attention_output`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {SymbolicTensor} from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import {BiasLike, scaledDotProductAttention} from '../scaled_dot_product_attention';
import {
  checkLayout, describeLayout, InputLayout, packRoles, positionalLayout, readRoles, RoleValues, sameLayout,
} from './attention_inputs';
import {checkAttentionMask, maskBias} from './attention_mask';
import {attentionWithScores} from './attention_scores';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {DenseWeights} from './weights';

const LAYER = 'MultiHeadAttention';

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
  /** Causal (top-left, as Keras's `use_causal_mask`) in every call, graphs included. */
  useCausalMask?: boolean;
  /** Which role each input fills; set by the first apply() on symbolic inputs, and saved. */
  inputLayout?: InputLayout;
}

/** The call's kwargs. In a graph, only `attentionMask` and `attentionBias` (as SymbolicTensors). */
export interface MultiHeadAttentionCallArgs {
  /** Boolean or 0/1, true = attend: [seqQ, seqK], [batch, seqQ, seqK] or [batch, numHeads, seqQ, seqK]. */
  attentionMask?: tf.Tensor | SymbolicTensor;
  /** Additive (-Infinity masks), NumPy-broadcast to [batch, numHeads, seqQ, seqK]. */
  attentionBias?: BiasLike | BiasLike[] | SymbolicTensor;
  /** Causal for this call (top-left); in a graph, use the constructor's option. */
  useCausalMask?: boolean;
  /** Gives [output, scores], scores [batch, numHeads, seqQ, seqK] (before dropout). Eager calls only. */
  returnAttentionScores?: boolean;
  training?: boolean;
}

/** Kwargs tfjs-layers itself passes: the inputs' masks (Embedding's maskZero), in graphs. */
const CALL_KWARGS = ['attentionMask', 'attentionBias', 'useCausalMask', 'returnAttentionScores', 'training', 'mask'];
const GRAPH_INPUT_KWARGS = ['attentionMask', 'attentionBias'] as const;

function lastDim(shape: Shape, role: string): number {
  const dim = shape[shape.length - 1];
  if (shape.length !== 3 || dim == null) {
    throw new Error(`${LAYER}: ${role} must be [batch, seq, features] with known features, got [${shape}]`);
  }
  return dim;
}

/** [B, S, H · d] → [B, H, S, d]. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [b, s, width] = x.shape;
  return tf.transpose(tf.reshape(x, [b, s, heads, width / heads]), [0, 2, 1, 3]);
}

type Projections = {query: DenseWeights, key: DenseWeights, value: DenseWeights, output: DenseWeights};
type AnyTensor = tf.Tensor | SymbolicTensor;

export class MultiHeadAttention extends AttentionPackageLayer {
  /** Not 'MultiHeadAttention', which tfjs-layers registers for its own layer. */
  static readonly className = 'FusedMultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly outputDim: number | null;
  readonly useCausalMask: boolean;
  private projections: Projections | null = null;
  /** The layout of the graph inputs, fixed by the first apply() on symbolic inputs. */
  private graphLayout: InputLayout | null;
  /** The layout of the apply() in progress (build and call read it). */
  private callLayout: InputLayout | null = null;

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    this.outputDim = args.outputShape ?? null;
    this.useCausalMask = args.useCausalMask ?? false;
    if (!(this.dropout >= 0 && this.dropout < 1)) throw new Error(`${LAYER}: dropout must be in [0, 1), got ${this.dropout}`);
    if (typeof this.useCausalMask !== 'boolean') {
      throw new Error(`${LAYER}: useCausalMask must be a boolean, got ${String(this.useCausalMask)}`);
    }
    if (args.inputLayout != null) checkLayout(args.inputLayout, LAYER);
    this.graphLayout = args.inputLayout ?? null;
    this.supportsMasking = true;
  }

  /**
   * Symbolic inputs: masks and biases given as SymbolicTensors join the inputs, and the
   * layout is fixed (a layer wired more than once must be wired alike). Tensors: kwargs are
   * read as given, except that an input list as long as the graph layout is read by it
   * (that is how predict() and fit() call the layer).
   */
  override apply(inputs: AnyTensor | AnyTensor[], kwargs: MultiHeadAttentionCallArgs = {}):
      tf.Tensor | tf.Tensor[] | SymbolicTensor | SymbolicTensor[] {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    for (const key of Object.keys(kwargs)) {
      if (!CALL_KWARGS.includes(key)) throw new Error(`${LAYER}: unknown call argument '${key}' (known: ${CALL_KWARGS.slice(0, -1).join(', ')})`);
    }
    const symbolic = list.some(x => x instanceof SymbolicTensor);
    if (symbolic) checkGraphKwargs(kwargs);
    const givesInputs = GRAPH_INPUT_KWARGS.some(k => kwargs[k] != null);
    let values: AnyTensor[];
    let layout: InputLayout;
    if (!givesInputs && this.graphLayout != null && list.length === this.graphLayout.length) {
      [values, layout] = [list, this.graphLayout];
    } else {
      const roles = {...readRoles(list, positionalLayout(list.length, LAYER), LAYER)} as RoleValues<AnyTensor>;
      if (symbolic) GRAPH_INPUT_KWARGS.forEach(k => roles[k] = kwargs[k] as SymbolicTensor | undefined);
      ({values, layout} = packRoles(roles));
    }
    if (symbolic) {
      if (this.graphLayout == null) {
        this.graphLayout = layout;
      } else if (!sameLayout(layout, this.graphLayout)) {
        throw new Error(
            `${LAYER}: layer '${this.name}' is wired with inputs ${describeLayout(this.graphLayout)}; ` +
            `it cannot also take ${describeLayout(layout)}`);
      }
    }
    const rest = {...kwargs};
    if (symbolic) GRAPH_INPUT_KWARGS.forEach(k => delete rest[k]);
    this.callLayout = layout;
    try {
      return super.apply(values as tf.Tensor[], rest);
    } finally {
      this.callLayout = null;
    }
  }

  /** The layout of an input list of `count` entries. */
  private layoutOf(count: number): InputLayout {
    for (const layout of [this.callLayout, this.graphLayout]) {
      if (layout != null && layout.length === count) return layout;
    }
    return positionalLayout(count, LAYER);
  }

  private rolesOf<T>(inputs: T | T[]): RoleValues<T> {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    return readRoles(list, this.layoutOf(list.length), LAYER);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const {query, value, key} = this.rolesOf(shapes);
    const {numHeads, keyDim, valueDim, useBias} = this;
    const queryDim = lastDim(query, 'query');
    this.projections = {
      query: new DenseWeights(this.addWeightTo, 'query', queryDim, numHeads * keyDim, useBias),
      key: new DenseWeights(this.addWeightTo, 'key', lastDim(key, 'key'), numHeads * keyDim, useBias),
      value: new DenseWeights(this.addWeightTo, 'value', lastDim(value, 'value'), numHeads * valueDim, useBias),
      output: new DenseWeights(this.addWeightTo, 'attention_output', numHeads * valueDim, this.outputDim ?? queryDim, useBias),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const {query} = this.rolesOf(shapes);
    return [...query.slice(0, -1), this.outputDim ?? query[query.length - 1]];
  }

  /** The output's mask is the query's, as in Keras. */
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return ((Array.isArray(mask) ? mask[0] : mask) ?? null) as tf.Tensor;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const layout = this.layoutOf(list.length);
      const roles = readRoles(list, layout, LAYER);
      const {query, value, key} = roles;
      const {query: wq, key: wk, value: wv, output: wo} = this.projections!;
      const heads = this.numHeads;
      const [batch, seqQ] = query.shape as [number, number, number];
      const seqK = value.shape[1]!;
      const masks = tokenMasks(layout, roles, kwargs.mask as tf.Tensor | tf.Tensor[] | undefined);
      const attentionMask = roles.attentionMask ?? kwargs.attentionMask as tf.Tensor | undefined;
      if (attentionMask != null) checkAttentionMask(attentionMask, {batch, heads, seqQ, seqK}, LAYER);
      const fromMasks = maskBias({attentionMask, ...masks});
      const given = roles.attentionBias ?? kwargs.attentionBias as BiasLike | BiasLike[] | undefined;
      const biases = [...(given == null ? [] : Array.isArray(given) ? given : [given]), ...(fromMasks ? [fromMasks] : [])];
      const causal = this.useCausalMask || kwargs.useCausalMask === true;
      const dropoutRate = kwargs.training === true ? this.dropout : 0;
      const [q, k, v] = [splitHeads(wq.apply(query), heads), splitHeads(wk.apply(key), heads), splitHeads(wv.apply(value), heads)];
      let scores: tf.Tensor | null = null;
      let attended: tf.Tensor;
      if (kwargs.returnAttentionScores === true) {
        ({output: attended, scores} = attentionWithScores(q, k, v, {biases, causal, scale: this.keyDim ** -0.5, dropoutRate}));
      } else {
        attended = scaledDotProductAttention(q, k, v, {
          bias: biases, causal, dropout: dropoutRate > 0 ? {rate: dropoutRate} : undefined,
        });
      }
      const output = wo.apply(tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batch, seqQ, heads * this.valueDim]));
      return scores == null ? output : [output, scores];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(), numHeads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim,
      dropout: this.dropout, useBias: this.useBias, useCausalMask: this.useCausalMask,
    };
    if (this.outputDim != null) config.outputShape = this.outputDim;
    if (this.graphLayout != null && !isPositional(this.graphLayout)) config.inputLayout = this.graphLayout;
    return config;
  }
}
registerLayer(MultiHeadAttention);

/**
 * The per-token masks tfjs-layers passes in `mask` (Embedding's maskZero): one per input in
 * model.apply(), the first input's alone in predict() and fit(); the value's is then known
 * only where the value is the query (self-attention).
 */
function tokenMasks(layout: InputLayout, roles: RoleValues<tf.Tensor>, mask: tf.Tensor | tf.Tensor[] | undefined):
    {queryMask?: tf.Tensor, valueMask?: tf.Tensor, keyMask?: tf.Tensor} {
  if (mask == null) return {};
  const masks = Array.isArray(mask) ? mask : [mask];
  const maskOf = (role: 'query' | 'value' | 'key') => masks[layout.findIndex(entry => entry.includes(role))] ?? undefined;
  // As Keras: the key's mask counts only where the key is not the value.
  return {queryMask: maskOf('query'), valueMask: maskOf('value'), keyMask: roles.key === roles.value ? undefined : maskOf('key')};
}

function isPositional(layout: InputLayout): boolean {
  return layout.length <= 3 && sameLayout(layout, positionalLayout(layout.length, LAYER));
}

/** Kwargs given with symbolic inputs that predict() and fit() would not see are errors. */
function checkGraphKwargs(kwargs: MultiHeadAttentionCallArgs): void {
  if (kwargs.useCausalMask != null) {
    throw new Error(
        `${LAYER}: useCausalMask given to apply() on symbolic inputs would be lost in predict() and fit() ` +
        '(tfjs-layers hands a layer only its inputs there); pass it to the constructor: ' +
        'new MultiHeadAttention({..., useCausalMask: true})');
  }
  if (kwargs.returnAttentionScores != null) {
    throw new Error(`${LAYER}: returnAttentionScores works in eager calls only, not on symbolic inputs`);
  }
  if (kwargs.training != null) {
    throw new Error(`${LAYER}: training on symbolic inputs would be lost; fit() and predict() set it`);
  }
  for (const k of GRAPH_INPUT_KWARGS) {
    const given = kwargs[k];
    if (given != null && !(given instanceof SymbolicTensor)) {
      throw new Error(
          `${LAYER}: ${k} on symbolic inputs must be a SymbolicTensor (a model input or a layer's output) ` +
          'so that predict(), fit() and save() carry it; got a constant');
    }
  }
  if ((kwargs as Kwargs).mask != null) throw new Error(`${LAYER}: mask comes from the inputs' layers in a graph`);
}
