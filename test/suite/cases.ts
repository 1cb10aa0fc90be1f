/**
 * Random attention cases (fresh each run, reproducible from the printed seed) and their tensors.
 * ATTENTION_TEST_SEED=<printed seed> in the environment (Node) replays a run's draws.
 */
import * as tf from '@tensorflow/tfjs-core';
import {AttentionBias, BlockDiagonalMask, LowerTriangularMask, WindowBias} from '../../src/index';
import type {AttentionOptions} from '../../src/index';
import {AttentionCase, BiasSpec} from './reference';

/** mulberry32: a small seeded generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: ATTENTION_TEST_SEED where the environment sets it, else a fresh one. */
export function randomSeed(): number {
  const pinned = (globalThis as {process?: {env: Record<string, string | undefined>}}).process?.env.ATTENTION_TEST_SEED;
  if (pinned != null && pinned !== '') {
    const seed = Number(pinned);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
      throw new Error(`ATTENTION_TEST_SEED must be a uint32, got '${pinned}'`);
    }
    return seed;
  }
  return Math.floor(Math.random() * 4294967296);
}

/**
 * A test's own seed from its run's seed and its title, so that each test draws the same values
 * when the seed is replayed.
 */
export function testSeed(seed: number, title: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function randomArray(random: () => number, n: number, spread = 1): Float64Array {
  const a = new Float64Array(n);
  // Values exactly representable in float32, so the backend sees the reference's inputs.
  for (let i = 0; i < n; i++) a[i] = Math.fround((random() * 2 - 1) * spread);
  return a;
}

export interface CaseShape {
  B: number; Hq: number; Hkv?: number; Sq: number; Sk?: number; D: number; Dv?: number;
  biases?: BiasDraft[];
  scale?: number;
  dropout?: {rate: number, seed: number};
}

/** A bias before its values are drawn. */
export type BiasDraft =
  | {kind: 'tensor', shape: number[], maskFraction?: number}
  | {kind: 'window', shape: number[], maskFraction?: number}
  | {kind: 'causal', fromBottomRight?: boolean}
  | {kind: 'blockDiagonal', qLens: number[], kLens?: number[], causal?: boolean};

function draw(random: () => number, draft: BiasDraft): BiasSpec {
  switch (draft.kind) {
    case 'tensor':
    case 'window': {
      const data = randomArray(random, draft.shape.reduce((a, b) => a * b, 1), 2);
      const fraction = draft.maskFraction ?? 0;
      for (let i = 0; i < data.length; i++) if (random() < fraction) data[i] = -Infinity;
      return {kind: draft.kind, shape: draft.shape, data};
    }
    case 'causal':
      return {kind: 'causal', fromBottomRight: draft.fromBottomRight ?? false};
    case 'blockDiagonal':
      return {
        kind: 'blockDiagonal', qLens: draft.qLens, kLens: draft.kLens ?? draft.qLens, causal: draft.causal ?? false,
      };
  }
}

export function makeCase(random: () => number, s: CaseShape): AttentionCase {
  const Hkv = s.Hkv ?? s.Hq, Sk = s.Sk ?? s.Sq, Dv = s.Dv ?? s.D;
  return {
    B: s.B, Hq: s.Hq, Hkv, Sq: s.Sq, Sk, D: s.D, Dv,
    q: randomArray(random, s.B * s.Hq * s.Sq * s.D, 1.5),
    k: randomArray(random, s.B * Hkv * Sk * s.D, 1.5),
    v: randomArray(random, s.B * Hkv * Sk * Dv),
    biases: (s.biases ?? []).map(d => draw(random, d)),
    scale: s.scale,
    dropout: s.dropout,
  };
}

export interface CaseTensors {
  q: tf.Tensor4D; k: tf.Tensor4D; v: tf.Tensor4D;
  /** The tensors of 'tensor' and 'window' biases, in order. */
  biasTensors: tf.Tensor[];
  options: AttentionOptions;
}

/** Tensors and op options for a case, biases built with the package's classes. */
export function caseTensors(c: AttentionCase): CaseTensors {
  const q = tf.tensor4d(Float32Array.from(c.q), [c.B, c.Hq, c.Sq, c.D]);
  const k = tf.tensor4d(Float32Array.from(c.k), [c.B, c.Hkv, c.Sk, c.D]);
  const v = tf.tensor4d(Float32Array.from(c.v), [c.B, c.Hkv, c.Sk, c.Dv]);
  const biasTensors: tf.Tensor[] = [];
  const bias: (AttentionBias | tf.Tensor)[] = c.biases.map(s => {
    switch (s.kind) {
      case 'tensor': {
        const t = tf.tensor(Float32Array.from(s.data), s.shape);
        biasTensors.push(t);
        return t;
      }
      case 'window': {
        const t = tf.tensor(Float32Array.from(s.data), s.shape);
        biasTensors.push(t);
        return new WindowBias(t);
      }
      case 'causal':
        return new LowerTriangularMask({fromBottomRight: s.fromBottomRight});
      case 'blockDiagonal': {
        const mask = BlockDiagonalMask.fromSeqLens(s.qLens, s.kLens);
        return s.causal ? mask.makeCausal() : mask;
      }
    }
  });
  return {q, k, v, biasTensors, options: {bias, scale: c.scale, dropout: c.dropout}};
}

/**
 * ‖a − b‖ / ‖b‖, with ‖b‖ floored at 0.01·√(n · summed): a reference that is zero up to
 * rounding (e.g. the gradient of a bias constant along the softmax axis) is compared
 * absolutely, allowing for float32 rounding over the `summed` terms behind each element.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, summed = 1): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let diff = 0, norm = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i] - expected[i];
    diff += d * d;
    norm += expected[i] * expected[i];
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 0.01 * Math.sqrt(expected.length * summed));
}

export function describeCase(c: AttentionCase): string {
  const kinds = c.biases.map(b => b.kind === 'tensor' || b.kind === 'window' ? `${b.kind}[${b.shape}]` : b.kind);
  return `q[${c.B},${c.Hq},${c.Sq},${c.D}] kv[${c.Hkv},${c.Sk},${c.Dv}]` +
      (kinds.length ? ` + ${kinds.join(' + ')}` : '') +
      (c.scale != null ? ` scale ${c.scale}` : '') + (c.dropout ? ` dropout ${c.dropout.rate}` : '');
}
