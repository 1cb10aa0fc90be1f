/**
 * Keras 3's `MultiHeadAttention` on the fused op: projections of query, key and value into
 * `numHeads` heads, scaled dot-product attention, output projection. Keras's constructor
 * arguments (camelCased, Keras's defaults) and weights (layout and get_weights() order, see
 * head_projections.ts), so getWeights()/setWeights() interchange with Keras's get_weights().
 *
 * Inputs: x (self-attention), [query, value] or [query, value, key] ([batch, seq, features]
 * each; key defaults to value). Call kwargs (`MultiHeadAttentionCallArgs`): `attentionMask`
 * (boolean, true = attend), `attentionBias` (additive, -Infinity masks), `useCausalMask`,
 * `returnAttentionScores`, `training`. In a functional model, predict() and fit() hand a
 * layer its input tensors only, so: a mask or bias given as a SymbolicTensor becomes an input
 * of the layer (attention_inputs.ts), causal attention is the constructor's `useCausalMask`,
 * and any other kwarg given on symbolic inputs throws rather than being dropped.
 * A query row with every key masked gets zero scores and outputs the output bias, as Keras
 * 3.15 with `return_attention_scores` (its path without scores averages the values instead).
 */
import * as tf from '@tensorflow/tfjs-core';
import {SymbolicTensor} from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Constraint} from '@tensorflow/tfjs-layers/dist/constraints';
import type {Initializer} from '@tensorflow/tfjs-layers/dist/initializers';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {Regularizer} from '@tensorflow/tfjs-layers/dist/regularizers';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import {mix32} from '../dropout';
import {BiasLike, scaledDotProductAttention} from '../scaled_dot_product_attention';
import {
  checkLayout, describeLayout, InputLayout, InputRole, packRoles, positionalLayout, readRoles, RoleValues, sameLayout,
} from './attention_inputs';
import {checkAttentionMask, maskBias} from './attention_mask';
import {attentionWithScores} from './attention_scores';
import {AttentionPackageLayer, registerLayer} from './base_layer';
import {AddProjectionWeight, HeadProjection, OutputProjection} from './head_projections';
import {KerasObject, resolveConstraint, resolveInitializer, resolveRegularizer, serializeObject} from './keras_objects';

const LAYER = 'MultiHeadAttention';

export interface MultiHeadAttentionArgs extends LayerArgs {
  numHeads: number;
  /** Size of each query and key head. */
  keyDim: number;
  /** Size of each value head; default keyDim. */
  valueDim?: number | null;
  /** Dropout on the attention probabilities, in training. */
  dropout?: number;
  useBias?: boolean;
  /** Last dimension of the output (Keras also takes [dim]); default the query's. */
  outputShape?: number | [number] | null;
  /** Keras's attention_axes: only the sequence axis (1, the default) of [batch, seq, features] inputs. */
  attentionAxes?: number | number[] | null;
  /** Default glorotUniform, as Keras. */
  kernelInitializer?: KerasObject<Initializer>;
  /** Default zeros, as Keras. */
  biasInitializer?: KerasObject<Initializer>;
  kernelRegularizer?: KerasObject<Regularizer>;
  biasRegularizer?: KerasObject<Regularizer>;
  kernelConstraint?: KerasObject<Constraint>;
  biasConstraint?: KerasObject<Constraint>;
  /** Seeds the dropout: call n uses a seed drawn from (seed, n); default a random seed per call. */
  seed?: number | null;
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

const isPositiveInteger = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

function checkPositiveInteger(value: unknown, name: string): number {
  if (!isPositiveInteger(value)) {
    const given = value === undefined ? 'none' : JSON.stringify(value);
    throw new Error(`${LAYER}: ${name} must be a positive integer, got ${given}`);
  }
  return value;
}

function outputDimOf(outputShape: MultiHeadAttentionArgs['outputShape']): number | null {
  if (outputShape == null) return null;
  const dims = Array.isArray(outputShape) ? outputShape : [outputShape];
  if (dims.length !== 1 || !isPositiveInteger(dims[0])) {
    throw new Error(
        `${LAYER}: outputShape must be a positive integer (or [integer]), got ${JSON.stringify(outputShape)}`);
  }
  return dims[0];
}

/** Keras's attention_axes for [batch, seq, features] inputs: the sequence axis, 1 (or -2), is all there is. */
function checkAttentionAxes(axes: MultiHeadAttentionArgs['attentionAxes']): void {
  const list = axes == null ? [] : Array.isArray(axes) ? axes : [axes];
  if (list.some(axis => axis !== 1 && axis !== -2) || list.length > 1) {
    throw new Error(
        `${LAYER}: attentionAxes ${JSON.stringify(axes)} is not supported: inputs are [batch, seq, features] and ` +
        'attention runs over seq (attentionAxes null, 1 or [1])');
  }
}

/** Keras arguments with no counterpart here: an error where set to anything but Keras's default. */
function checkUnsupported(args: Record<string, unknown>): void {
  const defaults: Record<string, unknown> = {useGate: false, slidingWindow: null, activityRegularizer: null};
  for (const [name, value] of Object.entries(defaults)) {
    if (args[name] != null && args[name] !== value) {
      throw new Error(
          `${LAYER}: ${name} is not supported (got ${JSON.stringify(args[name])}; Keras's default is ${value})`);
    }
  }
}

type Projections = {query: HeadProjection, key: HeadProjection, value: HeadProjection, output: OutputProjection};
type AnyTensor = tf.Tensor | SymbolicTensor;

export class MultiHeadAttention extends AttentionPackageLayer {
  /** Registered for tf.loadLayersModel under this name; Keras models load through keras_models.ts. */
  static readonly className = 'FusedMultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly outputDim: number | null;
  readonly useCausalMask: boolean;
  readonly seed: number | null;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private readonly kernelRegularizer: Regularizer | null;
  private readonly biasRegularizer: Regularizer | null;
  private readonly kernelConstraint: Constraint | null;
  private readonly biasConstraint: Constraint | null;
  private projections: Projections | null = null;
  /** The layout of the graph inputs, fixed by the first apply() on symbolic inputs. */
  private graphLayout: InputLayout | null;
  /** The layout of the apply() in progress (build and call read it). */
  private callLayout: InputLayout | null = null;
  private dropoutCalls = 0;
  /** Whether the apply() in progress returns [output, scores]. */
  private returningScores = false;

  constructor(args: MultiHeadAttentionArgs) {
    if (typeof args !== 'object' || args == null) {
      throw new Error(`${LAYER}: arguments must be an object with numHeads and keyDim`);
    }
    checkUnsupported(args as unknown as Record<string, unknown>);
    super(args);
    this.numHeads = checkPositiveInteger(args.numHeads, 'numHeads');
    this.keyDim = checkPositiveInteger(args.keyDim, 'keyDim');
    this.valueDim = args.valueDim == null ? this.keyDim : checkPositiveInteger(args.valueDim, 'valueDim');
    this.dropout = args.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout < 1)) {
      throw new Error(`${LAYER}: dropout must be in [0, 1), got ${this.dropout}`);
    }
    this.useBias = args.useBias ?? true;
    this.useCausalMask = args.useCausalMask ?? false;
    for (const [name, value] of [['useBias', this.useBias], ['useCausalMask', this.useCausalMask]] as const) {
      if (typeof value !== 'boolean') {
        throw new Error(`${LAYER}: ${name} must be a boolean, got ${JSON.stringify(value)}`);
      }
    }
    this.outputDim = outputDimOf(args.outputShape);
    checkAttentionAxes(args.attentionAxes);
    this.seed = args.seed ?? null;
    if (this.seed != null && !(Number.isInteger(this.seed) && this.seed >= 0)) {
      throw new Error(`${LAYER}: seed must be a non-negative integer, got ${JSON.stringify(this.seed)}`);
    }
    this.kernelInitializer = resolveInitializer(args.kernelInitializer, `${LAYER}: kernelInitializer`) ??
        resolveInitializer('glorotUniform', LAYER)!;
    this.biasInitializer = resolveInitializer(args.biasInitializer, `${LAYER}: biasInitializer`) ??
        resolveInitializer('zeros', LAYER)!;
    this.kernelRegularizer = resolveRegularizer(args.kernelRegularizer, `${LAYER}: kernelRegularizer`);
    this.biasRegularizer = resolveRegularizer(args.biasRegularizer, `${LAYER}: biasRegularizer`);
    this.kernelConstraint = resolveConstraint(args.kernelConstraint, `${LAYER}: kernelConstraint`);
    this.biasConstraint = resolveConstraint(args.biasConstraint, `${LAYER}: biasConstraint`);
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
      if (!CALL_KWARGS.includes(key)) {
        throw new Error(`${LAYER}: unknown call argument '${key}' (known: ${CALL_KWARGS.slice(0, -1).join(', ')})`);
      }
    }
    for (const key of ['useCausalMask', 'returnAttentionScores', 'training'] as const) {
      if (kwargs[key] != null && typeof kwargs[key] !== 'boolean') {
        throw new Error(`${LAYER}: ${key} must be a boolean, got ${JSON.stringify(kwargs[key])}`);
      }
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
    this.returningScores = kwargs.returnAttentionScores === true;
    try {
      return super.apply(values as tf.Tensor[], rest);
    } finally {
      this.callLayout = null;
      this.returningScores = false;
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

  private readonly addProjectionWeight: AddProjectionWeight = (name, shape, kind) => kind === 'kernel' ?
      this.addWeight(name, shape, 'float32', this.kernelInitializer, this.kernelRegularizer ?? undefined, true,
                     this.kernelConstraint ?? undefined) :
      this.addWeight(name, shape, 'float32', this.biasInitializer, this.biasRegularizer ?? undefined, true,
                     this.biasConstraint ?? undefined);

  /** Builds Keras's weights, in its get_weights() order: query, key, value, output, each kernel then bias. */
  override build(inputShape: Shape | Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const {query, value, key} = this.rolesOf(shapes);
    if (key[1] != null && value[1] != null && key[1] !== value[1]) {
      throw new Error(
          `${LAYER}: key and value must have the same sequence length, got key [${key}] and value [${value}]`);
    }
    const {numHeads, keyDim, valueDim, useBias} = this;
    const queryDim = lastDim(query, 'query');
    const add = this.addProjectionWeight;
    this.projections = {
      query: new HeadProjection(add, 'query', queryDim, numHeads, keyDim, useBias),
      key: new HeadProjection(add, 'key', lastDim(key, 'key'), numHeads, keyDim, useBias),
      value: new HeadProjection(add, 'value', lastDim(value, 'value'), numHeads, valueDim, useBias),
      output: new OutputProjection(add, 'attention_output', numHeads, valueDim, this.outputDim ?? queryDim, useBias),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const {query} = this.rolesOf(shapes);
    return [...query.slice(0, -1), this.outputDim ?? query[query.length - 1]];
  }

  /** The output's mask is the query's, as in Keras; the attention scores have none. */
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    const queryMask = ((Array.isArray(mask) ? mask[0] : mask) ?? null) as tf.Tensor;
    return this.returningScores ? [queryMask, null as unknown as tf.Tensor] : queryMask;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const layout = this.layoutOf(list.length);
      const roles = readRoles(list, layout, LAYER);
      const {query, value, key} = roles;
      const projections = this.projections!;
      const heads = this.numHeads;
      const [batch, seqQ] = query.shape as [number, number, number];
      const seqK = value.shape[1]!;
      const masks = tokenMasks(layout, roles, kwargs.mask as tf.Tensor | tf.Tensor[] | undefined);
      const attentionMask = roles.attentionMask ?? kwargs.attentionMask as tf.Tensor | undefined;
      if (attentionMask != null) checkAttentionMask(attentionMask, {batch, heads, seqQ, seqK}, LAYER);
      const fromMasks = maskBias({attentionMask, ...masks});
      const given = roles.attentionBias ?? kwargs.attentionBias as BiasLike | BiasLike[] | undefined;
      const biases = [
        ...(given == null ? [] : Array.isArray(given) ? given : [given]), ...(fromMasks != null ? [fromMasks] : []),
      ];
      const causal = this.useCausalMask || kwargs.useCausalMask === true;
      const dropoutRate = kwargs.training === true ? this.dropout : 0;
      const seed = dropoutRate > 0 && this.seed != null ? mix32(this.seed + this.dropoutCalls++) : undefined;
      const [q, k, v] = [projections.query.apply(query), projections.key.apply(key), projections.value.apply(value)];
      let scores: tf.Tensor | null = null;
      let attended: tf.Tensor;
      if (kwargs.returnAttentionScores === true) {
        const scale = this.keyDim ** -0.5;
        ({output: attended, scores} = attentionWithScores(q, k, v, {biases, causal, scale, dropoutRate, seed}));
      } else {
        attended = scaledDotProductAttention(q, k, v, {
          bias: biases, causal, dropout: dropoutRate > 0 ? {rate: dropoutRate, seed} : undefined,
        });
      }
      const output = projections.output.apply(attended);
      return scores == null ? output : [output, scores];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(), numHeads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim,
      dropout: this.dropout, useBias: this.useBias, outputShape: this.outputDim, useCausalMask: this.useCausalMask,
      kernelInitializer: serializeObject(this.kernelInitializer),
      biasInitializer: serializeObject(this.biasInitializer),
      kernelRegularizer: serializeObject(this.kernelRegularizer),
      biasRegularizer: serializeObject(this.biasRegularizer),
      kernelConstraint: serializeObject(this.kernelConstraint), biasConstraint: serializeObject(this.biasConstraint),
      seed: this.seed,
    };
    if (this.graphLayout != null && !isPositional(this.graphLayout)) config.inputLayout = this.graphLayout;
    return config;
  }
}
registerLayer(MultiHeadAttention);

/**
 * The per-token masks tfjs-layers passes in `mask` (Embedding's maskZero): its executor
 * (predict(), fit(), model.apply()) passes the first input's alone, so the value's is known
 * where the value is the query (self-attention); a list, one per input, is read as such.
 */
function tokenMasks(layout: InputLayout, roles: RoleValues<tf.Tensor>, mask: tf.Tensor | tf.Tensor[] | undefined):
    {queryMask?: tf.Tensor, valueMask?: tf.Tensor, keyMask?: tf.Tensor} {
  if (mask == null) return {};
  const masks = Array.isArray(mask) ? mask : [mask];
  const maskOf = (role: InputRole) => masks[layout.findIndex(entry => entry.includes(role))] ?? undefined;
  // As Keras: the key's mask counts only where the key is not the value.
  const keyMask = roles.key === roles.value ? undefined : maskOf('key');
  return {queryMask: maskOf('query'), valueMask: maskOf('value'), keyMask};
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
