/**
 * The op (docs/contract.md §1): validates, lowers the biases to their kernel form, then runs
 * the first fused kernel of the backend whose declaration fits the call, else the composed
 * path. Stage names of a call's description: see kernel_layout.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AttentionBias, checkKnownKeys, checkLiveTensor, describeValue, emptyLoweredBias, LoweredBias,
} from './bias/attention_bias';
import {DenseBias} from './bias/dense_bias';
import {LowerTriangularMask} from './bias/lower_triangular_mask';
import {sumBroadcast} from './bias_terms';
import {composedAttention} from './composed';
import {AttentionCall, AttentionDispatch, chooseImplementation} from './dispatch';
import {AttentionAttrs, AttentionInputs, ScaledDotProductAttention} from './kernel_names';
import {AttentionShape, fmtShape, OP} from './shapes';

export type BiasLike = AttentionBias | tf.Tensor;

export interface AttentionOptions {
  /** Additive biases, summed; -Infinity masks. */
  bias?: BiasLike | BiasLike[];
  /** Adds a top-left aligned `LowerTriangularMask`. */
  causal?: boolean;
  /** Multiplies Q Kᵀ; default 1 / sqrt(headDim). */
  scale?: number;
  /** Dropout on the attention probabilities; seed defaults to a random uint32. */
  dropout?: {rate: number; seed?: number};
}

const OPTION_KEYS = ['bias', 'causal', 'scale', 'dropout'];
const DROPOUT_KEYS = ['rate', 'seed'];

/** A validated call, ready to run. */
interface AttentionPlan {
  shape: AttentionShape;
  biases: AttentionBias[];
  /** Kernel form of the biases, or null when some bias has none (the dispatch says why). */
  lowered: LoweredBias | null;
  scale: number;
  dropoutRate: number;
  dropoutSeed: number;
  dispatch: AttentionDispatch;
}

function checkTensor(t: unknown, name: string, dims: string): asserts t is tf.Tensor {
  checkLiveTensor(t, name, `a tf.Tensor of rank 4 ${dims}`);
  if (t.rank !== 4) throw new Error(`${OP}: ${name} must be rank 4 ${dims}, got shape ${fmtShape(t.shape)}`);
  if (t.dtype !== 'float32') throw new Error(`${OP}: ${name} must be float32, got ${t.dtype}`);
}

function checkShapes(query: unknown, key: unknown, value: unknown): AttentionShape {
  checkTensor(query, 'query', '[batch, heads, seqQ, headDim]');
  checkTensor(key, 'key', '[batch, heads, seqK, headDim]');
  checkTensor(value, 'value', '[batch, heads, seqK, valueDim]');
  const [batch, headsQ, seqQ, headDim] = query.shape;
  const [keyBatch, headsKV, seqK, keyDim] = key.shape;
  const [valueBatch, valueHeads, valueSeq, valueDim] = value.shape;
  if (headDim === 0) {
    throw new Error(
        `${OP}: query must have headDim ≥ 1 (scores are dot products over it), got shape ${fmtShape(query.shape)}`);
  }
  if (keyBatch !== batch) {
    throw new Error(`${OP}: key must have batch ${batch} as query has, got shape ${fmtShape(key.shape)}`);
  }
  if (keyDim !== headDim) {
    throw new Error(`${OP}: key must have headDim ${headDim} as query has, got shape ${fmtShape(key.shape)}`);
  }
  if (valueBatch !== batch || valueHeads !== headsKV || valueSeq !== seqK) {
    throw new Error(
        `${OP}: value must have batch, heads and seqK of key, [${batch},${headsKV},${seqK},valueDim], ` +
        `got shape ${fmtShape(value.shape)}`);
  }
  if (headsKV === 0 || headsQ % headsKV !== 0) {
    throw new Error(
        `${OP}: query heads must be a multiple of key heads (${headsKV}), got query shape ${fmtShape(query.shape)}`);
  }
  return {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim};
}

function checkOptions(options: unknown): asserts options is AttentionOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${OP}: options must be an object, got ${describeValue(options)}`);
  }
  checkKnownKeys(options, OPTION_KEYS, 'option');
  const {causal} = options as AttentionOptions;
  if (causal != null && typeof causal !== 'boolean') {
    throw new TypeError(`${OP}: causal must be a boolean, got ${describeValue(causal)}`);
  }
}

function toBias(b: unknown): AttentionBias {
  if (b instanceof AttentionBias) return b;
  if (b instanceof tf.Tensor) return new DenseBias(b);
  throw new TypeError(
      `${OP}: bias must be a tf.Tensor, an AttentionBias or an array of these, got ${describeValue(b)}`);
}

function checkScale(scale: unknown, headDim: number): number {
  if (scale == null) return 1 / Math.sqrt(headDim);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0) {
    throw new Error(`${OP}: scale must be a finite number ≥ 0, got ${String(scale)}`);
  }
  return scale;
}

function checkDropout(dropout: unknown): {rate: number, seed: number} {
  if (dropout == null) return {rate: 0, seed: 0};
  if (typeof dropout !== 'object' || Array.isArray(dropout)) {
    throw new TypeError(`${OP}: dropout must be an object {rate, seed?}, got ${describeValue(dropout)}`);
  }
  checkKnownKeys(dropout, DROPOUT_KEYS, 'dropout option');
  const {rate, seed = Math.floor(Math.random() * 4294967296)} = dropout as {rate: unknown, seed?: unknown};
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new Error(`${OP}: dropout rate must be a number in [0, 1), got ${String(rate)}`);
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= 4294967296) {
    throw new Error(`${OP}: dropout seed must be an integer in [0, 2^32), got ${String(seed)}`);
  }
  return {rate, seed};
}

function lower(biases: AttentionBias[], shape: AttentionShape): {lowered: LoweredBias | null, reason: string | null} {
  const lowered = emptyLoweredBias();
  for (const bias of biases) {
    const reason = bias.lowerInto(lowered, shape);
    if (reason != null) return {lowered: null, reason};
  }
  return {lowered, reason: null};
}

function plan(query: unknown, key: unknown, value: unknown, options: unknown): AttentionPlan {
  checkOptions(options);
  const shape = checkShapes(query, key, value);
  const given = options.bias == null ? [] : Array.isArray(options.bias) ? options.bias : [options.bias];
  const biases = given.map(toBias);
  if (options.causal === true) biases.push(new LowerTriangularMask());
  biases.forEach(b => b.check(shape));
  const scale = checkScale(options.scale, shape.headDim);
  const {rate, seed} = checkDropout(options.dropout);
  const {lowered, reason} = lower(biases, shape);
  const call: AttentionCall = {shape, bias: lowered, biasReason: reason, dropoutRate: rate};
  const dispatch = chooseImplementation(tf.getBackend(), call);
  return {shape, biases, lowered, scale, dropoutRate: rate, dropoutSeed: seed, dispatch};
}

/**
 * Which implementation would run this call on the current backend, and why the others
 * would not (as xformers' `not_supported_reasons`). Validates like the op.
 */
export function attentionImplementation(
    query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, options: AttentionOptions = {}): AttentionDispatch {
  return plan(query, key, value, options).dispatch;
}

function attentionAttrs(p: AttentionPlan, lowered: LoweredBias): AttentionAttrs {
  return {
    implementation: p.dispatch.implementation,
    scale: p.scale,
    causal: lowered.causal,
    dropoutRate: p.dropoutRate,
    dropoutSeed: p.dropoutSeed,
    qSeqStarts: lowered.qSeqStarts,
    kSeqStarts: lowered.kSeqStarts,
    hasBias: lowered.dense.length > 0,
    hasWindowBias: lowered.window.length > 0,
  };
}

/**
 * The kernel's inputs, as an array carrying named entries: TF.js saves inputs of a
 * variable set for the gradient only with `saveAllInputs`, which wants an array.
 * Object.keys gives the names in the order query, key, value, bias, windowBias.
 */
function kernelInputs(named: AttentionInputs): AttentionInputs {
  return Object.assign([], named) as unknown as AttentionInputs;
}

function runFused(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, p: AttentionPlan, lowered: LoweredBias):
    tf.Tensor {
  const named: AttentionInputs = {query, key, value};
  if (lowered.dense.length > 0) named.bias = sumBroadcast(lowered.dense);
  if (lowered.window.length > 0) named.windowBias = sumBroadcast(lowered.window);
  const [output] = tf.engine().runKernel(
                       ScaledDotProductAttention, kernelInputs(named) as unknown as tf.NamedTensorMap,
                       attentionAttrs(p, lowered) as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return output;
}

function runComposed(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, p: AttentionPlan): tf.Tensor {
  return composedAttention(query, key, value, {
    shape: p.shape,
    scale: p.scale,
    terms: p.biases.map(b => b.composedTerm(p.shape)),
    dropoutRate: p.dropoutRate,
    dropoutSeed: p.dropoutSeed,
  });
}

/**
 * softmax(scale · Q Kᵀ + bias) V for query [B, Hq, Sq, D], key [B, Hkv, Sk, D] and
 * value [B, Hkv, Sk, Dv], giving [B, Hq, Sq, Dv]; query head h uses key/value head
 * h / (Hq / Hkv). A query row whose scores are all -Infinity gives zeros.
 */
export function scaledDotProductAttention(
    query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, options: AttentionOptions = {}): tf.Tensor4D {
  const p = plan(query, key, value, options);
  return tf.tidy(() => {
    const fused = p.dispatch.implementation !== 'composed' && p.lowered != null;
    return (fused ? runFused(query, key, value, p, p.lowered!) : runComposed(query, key, value, p)) as tf.Tensor4D;
  });
}
