/**
 * The correctness suite every backend runs (Node cpu and wasm, browser webgl, CUDA):
 * the op against the float64 reference, gradients, bias kinds, masked rows, dropout,
 * bad input and leaks. The caller selects the backend before calling. Results are read
 * asynchronously (`data()`), never with `dataSync()`: on webgpu in headless Chromium the
 * synchronous readback returns zeros and breaks later reads, and tensors are computed in
 * tf.tidy, read, then disposed.
 */
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  AttentionBias, attentionImplementation, BlockDiagonalMask, DenseBias, dropoutKeeps, fusedKernelsFor,
  LowerTriangularMask, preferFusedKernel, scaledDotProductAttention, WindowBias, withdrawFusedKernel,
} from '../../src/index';
import type {AttentionOptions, AttentionShape} from '../../src/index';
import {composedAttention} from '../../src/composed';
import {
  CaseShape, caseTensors, describeCase, makeCase, randomArray, randomSeed, relativeError, rng, testSeed,
} from './cases';
import {AttentionCase, biasAt, referenceBackward, referenceForward} from './reference';

export interface SuiteOptions {
  backend: string;
  /** The implementation `attentionImplementation` should report for supported calls. */
  implementation: string;
  /** Relative error bounds against the float64 reference. */
  forwardTolerance: number;
  gradientTolerance: number;
  /** Random combinations in the sweep. */
  sweepCases: number;
}

/** Cases that exercise every feature; shapes stay small enough for the float64 reference. */
export const FEATURE_CASES: CaseShape[] = [
  {B: 1, Hq: 1, Sq: 1, D: 1},
  {B: 2, Hq: 3, Sq: 5, Sk: 7, D: 4, Dv: 6},
  {B: 1, Hq: 2, Sq: 67, Sk: 150, D: 16, Dv: 8},
  {B: 2, Hq: 4, Hkv: 2, Sq: 9, Sk: 11, D: 8},
  {B: 1, Hq: 6, Hkv: 1, Sq: 13, D: 5, Dv: 3},
  {B: 2, Hq: 2, Sq: 10, Sk: 12, D: 8, biases: [{kind: 'tensor', shape: [2, 2, 10, 12]}]},
  {B: 2, Hq: 3, Sq: 6, Sk: 9, D: 4, biases: [{kind: 'tensor', shape: [9]}]},
  {B: 3, Hq: 2, Sq: 7, D: 4, biases: [{kind: 'tensor', shape: [3, 1, 1, 7]}, {kind: 'tensor', shape: [2, 7, 1]}]},
  {
    B: 4, Hq: 3, Sq: 49, D: 8,
    biases: [{kind: 'tensor', shape: [1, 3, 49, 49]}, {kind: 'window', shape: [2, 1, 49, 49]}],
  },
  {B: 6, Hq: 2, Sq: 5, Sk: 6, D: 4, biases: [{kind: 'window', shape: [3, 2, 5, 6], maskFraction: 0.3}]},
  {B: 1, Hq: 2, Sq: 70, D: 8, biases: [{kind: 'causal'}]},
  {B: 2, Hq: 2, Sq: 5, Sk: 9, D: 4, biases: [{kind: 'causal', fromBottomRight: true}]},
  {B: 1, Hq: 2, Sq: 9, Sk: 5, D: 4, biases: [{kind: 'causal'}]},
  {B: 1, Hq: 2, Sq: 9, Sk: 5, D: 4, biases: [{kind: 'causal', fromBottomRight: true}]},
  {B: 1, Hq: 2, Sq: 12, D: 4, biases: [{kind: 'blockDiagonal', qLens: [3, 5, 4]}]},
  {B: 1, Hq: 3, Hkv: 1, Sq: 12, Sk: 10, D: 4, biases: [{kind: 'blockDiagonal', qLens: [3, 5, 4], kLens: [2, 6, 2]}]},
  {B: 1, Hq: 2, Sq: 80, D: 4, biases: [{kind: 'blockDiagonal', qLens: [30, 1, 49], causal: true}]},
  {B: 1, Hq: 2, Sq: 8, Sk: 9, D: 4, biases: [{kind: 'blockDiagonal', qLens: [4, 0, 4], kLens: [3, 3, 3]}]},
  {B: 2, Hq: 2, Sq: 6, D: 4, biases: [{kind: 'tensor', shape: [2, 1, 6, 6], maskFraction: 0.5}, {kind: 'causal'}]},
  {B: 1, Hq: 2, Sq: 7, D: 4, scale: 0.3},
  {B: 1, Hq: 2, Sq: 7, D: 4, scale: 0},
  {B: 2, Hq: 2, Sq: 9, Sk: 70, D: 8, Dv: 5, dropout: {rate: 0.3, seed: 1234}},
  {
    B: 4, Hq: 2, Sq: 6, D: 4, biases: [{kind: 'window', shape: [2, 1, 6, 6]}, {kind: 'causal'}],
    dropout: {rate: 0.5, seed: 7},
  },
];

/** Small cases for finite differences: every input element is perturbed twice. */
const FINITE_DIFFERENCE_CASES: CaseShape[] = [
  {
    B: 2, Hq: 2, Hkv: 1, Sq: 3, Sk: 4, D: 3, Dv: 2,
    biases: [{kind: 'tensor', shape: [1, 2, 3, 4]}, {kind: 'causal', fromBottomRight: true}],
  },
  {
    B: 2, Hq: 2, Sq: 3, D: 2, biases: [{kind: 'window', shape: [2, 1, 3, 3]}, {kind: 'tensor', shape: [3]}],
    dropout: {rate: 0.3, seed: 5},
  },
];

/** d(Σ out ⊙ dy)/dx by central differences of the float64 reference, x being one of the case's arrays. */
function finiteDifferences(c: AttentionCase, dy: Float64Array, x: Float64Array): Float64Array {
  const eps = 1e-6;
  const loss = () => referenceForward(c).out.reduce((acc, value, i) => acc + value * dy[i], 0);
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + eps;
    const plus = loss();
    x[i] = saved - eps;
    const minus = loss();
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad;
}

/** A bias kind of the user's own (ALiBi-like distance penalty), with no kernel form. */
class DistanceBias extends AttentionBias {
  readonly kind = 'distance';
  constructor(private readonly slopes: number[]) {
    super();
  }
  check(): void {}
  toDense(shape: AttentionShape): tf.Tensor {
    const {seqQ, seqK} = shape;
    const values = new Float32Array(this.slopes.length * seqQ * seqK);
    this.slopes.forEach((slope, h) => {
      for (let i = 0; i < seqQ; i++) {
        for (let j = 0; j < seqK; j++) values[(h * seqQ + i) * seqK + j] = -slope * Math.abs(i - j);
      }
    });
    return tf.tensor4d(values, [1, this.slopes.length, seqQ, seqK]);
  }
}

/** Runs `make` in tf.tidy, reads back the tensors it returns, then disposes them. */
export async function read(make: () => tf.Tensor[]): Promise<Float32Array[]> {
  const tensors = tf.tidy(make);
  try {
    return await Promise.all(tensors.map(t => t.data() as Promise<Float32Array>));
  } finally {
    tf.dispose(tensors);
  }
}

/** The small call the leak checks repeat: every bias kind, causal and dropout, with its dy. */
export function leakCase(random: () => number): {c: AttentionCase, dy: Float64Array} {
  const c = makeCase(random, {
    B: 2, Hq: 2, Sq: 9, D: 4,
    biases: [{kind: 'tensor', shape: [1, 2, 9, 9]}, {kind: 'window', shape: [2, 1, 9, 9]}, {kind: 'causal'}],
    dropout: {rate: 0.1, seed: 1},
  });
  return {c, dy: randomArray(random, c.B * c.Hq * c.Sq * c.Dv)};
}

/** The op's output and gradients (for Σ out ⊙ dy) on the current backend. */
export async function runCase(c: AttentionCase, dy: Float64Array, run = scaledDotProductAttention) {
  const [out, ...grads] = await read(() => {
    const {q, k, v, biasTensors, options} = caseTensors(c);
    const dyT = tf.tensor4d(Float32Array.from(dy), [c.B, c.Hq, c.Sq, c.Dv]);
    const withBiases = (xs: tf.Tensor[]): AttentionOptions => {
      let next = 0;
      const bias = (options.bias as unknown[]).map(b => {
        if (b instanceof tf.Tensor) return xs[next++];
        if (b instanceof WindowBias) return new WindowBias(xs[next++]);
        return b;
      });
      return {...options, bias: bias as AttentionOptions['bias']};
    };
    const f = (...xs: tf.Tensor[]) =>
        run(xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, xs[2] as tf.Tensor4D, withBiases(xs.slice(3)));
    return [f(q, k, v, ...biasTensors), ...tf.grads(f)([q, k, v, ...biasTensors], dyT)];
  });
  return {out, grads};
}

/** The case's output, and its gradients when asked, against the float64 reference. */
export async function checkCase(c: AttentionCase, o: SuiteOptions, random: () => number, withGradients = true) {
  const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
  const expected = referenceForward(c);
  const actual = await runCase(c, dy);
  for (const x of actual.out) expect(Number.isFinite(x), 'output is finite').to.equal(true);
  expect(relativeError(actual.out, expected.out), 'output').to.be.at.most(o.forwardTolerance);
  if (!withGradients) return;
  const g = referenceBackward(c, dy);
  const names = ['dQuery', 'dKey', 'dValue', ...g.dBiases.map((_, i) => `dBias${i}`)];
  [g.dq, g.dk, g.dv, ...g.dBiases].forEach((want, i) => {
    const got = actual.grads[i];
    for (const x of got) expect(Number.isFinite(x), `${names[i]} is finite`).to.equal(true);
    // A bias gradient sums the score gradients its element broadcasts over.
    const summed = i < 3 ? 1 : (c.B * c.Hq * c.Sq * c.Sk) / want.length;
    expect(relativeError(got, want, summed), names[i]).to.be.at.most(o.gradientTolerance);
  });
}

export function describeAttentionSuite(o: SuiteOptions): void {
  const seed = randomSeed();
  describe(`scaledDotProductAttention on ${o.backend} (seed ${seed})`, () => {
    let random: () => number;
    beforeEach(function () {
      random = rng(testSeed(seed, this.currentTest!.fullTitle()));
    });

    describe('against the float64 reference', () => {
      for (const shape of FEATURE_CASES) {
        it(describeCase(makeCase(rng(0), shape)), () => checkCase(makeCase(random, shape), o, random));
      }
    });

    it(`a sweep of ${o.sweepCases} random shape, bias and option combinations`, async () => {
      for (let n = 0; n < o.sweepCases; n++) {
        const c = makeCase(random, randomShape(random));
        try {
          await checkCase(c, o, random, n % 4 === 0);
        } catch (e) {
          throw new Error(`draw ${n}, ${describeCase(c)}: ${(e as Error).message}`);
        }
      }
    });

    it('gradients match central finite differences of the float64 reference', async () => {
      for (const shape of FINITE_DIFFERENCE_CASES) {
        const c = makeCase(random, shape);
        const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
        const actual = (await runCase(c, dy)).grads;
        const trainable = c.biases.filter(b => b.kind === 'tensor' || b.kind === 'window') as {data: Float64Array}[];
        [c.q, c.k, c.v, ...trainable.map(b => b.data)].forEach((x, n) => {
          const numeric = finiteDifferences(c, dy, x);
          expect(relativeError(actual[n], numeric), `${describeCase(c)}: input ${n}`)
              .to.be.at.most(o.gradientTolerance * 10);
        });
      }
    });

    it('a bias kind no kernel knows falls back to the composed path, with its reason', async () => {
      const c = makeCase(random, {B: 2, Hq: 3, Sq: 6, Sk: 8, D: 4});
      const slopes = [0.5, 0.25, 0.125];
      const dense = new Float64Array(3 * 6 * 8);
      for (let h = 0; h < 3; h++) {
        for (let i = 0; i < 6; i++) {
          for (let j = 0; j < 8; j++) dense[(h * 6 + i) * 8 + j] = -slopes[h] * Math.abs(i - j);
        }
      }
      const expected = referenceForward({...c, biases: [{kind: 'tensor', shape: [1, 3, 6, 8], data: dense}]});
      const [out, dq] = await read(() => {
        const {q, k, v} = caseTensors(c);
        const bias = new DistanceBias(slopes);
        const dispatch = attentionImplementation(q, k, v, {bias});
        expect(dispatch.implementation).to.equal('composed');
        if (o.implementation !== 'composed') {
          expect(dispatch.reasons[o.implementation]).to.deep.equal([`bias kind 'distance' has no kernel form`]);
        }
        const out = scaledDotProductAttention(q, k, v, {bias});
        const grads = tf.grads((a: tf.Tensor) => scaledDotProductAttention(a as tf.Tensor4D, k, v, {bias}))(
            [q], tf.onesLike(out));
        return [out, grads[0]];
      });
      expect(relativeError(out, expected.out)).to.be.at.most(o.forwardTolerance);
      expect(dq.every(Number.isFinite)).to.equal(true);
    });

    it('takes the first kernel of the backend\'s list that fits, and reports why each one before it declined',
        async () => {
      const declaration = {name: 'test-first', backend: o.backend, biasKinds: [], maxHeadDim: 4, dropout: false};
      const before = fusedKernelsFor(o.backend).map(d => d.name);
      preferFusedKernel({kernelConfigs: [], declaration});
      try {
        expect(fusedKernelsFor(o.backend).map(d => d.name)).to.deep.equal(['test-first', ...before]);
        const [dq] = await read(() => {
          const q = tf.randomNormal([1, 2, 4, 8]), kv = tf.randomNormal([1, 2, 6, 8]);
          const options = {causal: true, dropout: {rate: 0.1, seed: 3}};
          const d = attentionImplementation(q, kv, kv, options);
          expect(d.implementation).to.equal(o.implementation);
          expect(d.reasons['test-first']).to.deep.equal(
              ["bias kind 'causal' is not supported", 'head dim 8 is above its maximum 4', 'no dropout']);
          // The declined call runs on the next kernel, gradient included.
          const grads = tf.grads((a: tf.Tensor) => scaledDotProductAttention(a as tf.Tensor4D, kv, kv, options))([q]);
          const small = [1, 1, 2, 4];
          expect(attentionImplementation(tf.zeros(small), tf.zeros(small), tf.zeros(small)).implementation)
              .to.equal('test-first');
          return grads;
        });
        expect(dq.every(Number.isFinite)).to.equal(true);
      } finally {
        withdrawFusedKernel('test-first', o.backend);
      }
      expect(fusedKernelsFor(o.backend).map(d => d.name)).to.deep.equal(before);
    });

    it('reports the expected implementation', () => {
      tf.tidy(() => {
        const q = tf.zeros([1, 2, 4, 8]), kv = tf.zeros([1, 2, 6, 8]);
        const d = attentionImplementation(q, kv, kv, {bias: new LowerTriangularMask()});
        expect(d.backend).to.equal(o.backend);
        expect(d.implementation).to.equal(o.implementation);
      });
    });

    describe('fully masked rows', () => {
      it('output zeros and pass zero gradient, never NaN', async () => {
        const mask = new Float32Array(2 * 6 * 5).fill(0);
        for (let j = 0; j < 5; j++) mask[1 * 5 + j] = -Infinity;  // batch 0, row 1
        for (let i = 0; i < 6 * 5; i++) mask[6 * 5 + i] = -Infinity;  // batch 1, every row
        const tensors = tf.tidy(() => {
          const q = tf.randomNormal([2, 2, 6, 4]), k = tf.randomNormal([2, 2, 5, 4]), v = tf.randomNormal([2, 2, 5, 3]);
          const bias = tf.tensor4d(mask, [2, 1, 6, 5]);
          const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
              scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, {bias: d});
          return [f(q, k, v, bias), ...tf.grads(f)([q, k, v, bias], tf.onesLike(f(q, k, v, bias)))];
        });
        try {
          const [out, dq, dk, dv, dBias] = await Promise.all(tensors.map(t => t.array() as Promise<number[][][][]>));
          for (const h of [0, 1]) {
            expect(out[0][h][1]).to.deep.equal([0, 0, 0]);
            expect(out[1][h].flat()).to.deep.equal(new Array(18).fill(0));
          }
          expect(dq[0][0][1]).to.deep.equal([0, 0, 0, 0]);
          expect(dq[1].flat(2).every(x => x === 0)).to.equal(true);
          for (const g of [dq, dk, dv, dBias]) expect(g.flat(3).every(Number.isFinite)).to.equal(true);
          expect(dBias[1].flat(2).every(x => x === 0)).to.equal(true);
        } finally {
          tf.dispose(tensors);
        }
      });
    });

    describe('dropout', () => {
      it('the hash matches hand-computed values of the contract formula', () => {
        // mix(x) by hand for x = 0 and 1, then u for (s, bh, i, j) = (1, 0, 0, 0).
        const mix = (x: bigint) => {
          const m = (a: bigint) => a & 0xffffffffn;
          x = m(x ^ (x >> 16n)); x = m(x * 0x7feb352dn); x = m(x ^ (x >> 15n)); x = m(x * 0x846ca68bn);
          return m(x ^ (x >> 16n));
        };
        const u = (s: number, bh: number, i: number, j: number) =>
            mix(mix(mix(mix(BigInt(s)) ^ BigInt(bh)) ^ BigInt(i)) ^ BigInt(j));
        for (const [s, bh, i, j] of [[1, 0, 0, 0], [42, 3, 17, 5], [4294967295, 11, 1000, 99999]]) {
          for (const rate of [0.1, 0.5, 0.9]) {
            const keep = u(s, bh, i, j) >= BigInt(Math.floor(rate * 2 ** 32));
            expect(dropoutKeeps(s, rate, bh, i, j), `s=${s} bh=${bh} i=${i} j=${j}`).to.equal(keep);
          }
        }
      });

      it('keeps exactly the elements the hash keeps, scaled by 1 / (1 - rate)', async () => {
        // V = identity makes the output the dropped probability matrix itself.
        const B = 2, H = 2, S = 24, rate = 0.4, seed = 987654321;
        const [out] = await read(() => {
          const q = tf.zeros([B, H, S, 4]), k = tf.zeros([B, H, S, 4]);
          const v = tf.tile(tf.reshape(tf.eye(S), [1, 1, S, S]), [B, H, 1, 1]);
          return [scaledDotProductAttention(q, k, v, {dropout: {rate, seed}})];
        });
        let kept = 0;
        for (let bh = 0; bh < B * H; bh++) {
          for (let i = 0; i < S; i++) {
            for (let j = 0; j < S; j++) {
              const want = dropoutKeeps(seed, rate, bh, i, j) ? 1 / S / (1 - rate) : 0;
              expect(out[(bh * S + i) * S + j]).to.be.closeTo(want, 1e-6);
              if (want > 0) kept++;
            }
          }
        }
        expect(kept / (B * H * S * S)).to.be.closeTo(1 - rate, 0.05);
      });

      it('the same seed gives the same output, another seed another', async () => {
        const [five, again, six] = await read(() => {
          const q = tf.randomNormal([1, 2, 16, 8]), k = tf.randomNormal([1, 2, 16, 8]);
          const v = tf.randomNormal([1, 2, 16, 8]);
          const run = (seed: number) => scaledDotProductAttention(q, k, v, {dropout: {rate: 0.5, seed}});
          return [run(5), run(5), run(6)];
        });
        expect(Array.from(five)).to.deep.equal(Array.from(again));
        expect(Array.from(five)).to.not.deep.equal(Array.from(six));
      });

      it('rate 0 is exactly no dropout', async () => {
        const [plain, none] = await read(() => {
          const q = tf.randomNormal([1, 2, 9, 8]), k = tf.randomNormal([1, 2, 9, 8]), v = tf.randomNormal([1, 2, 9, 8]);
          const none = scaledDotProductAttention(q, k, v, {dropout: {rate: 0, seed: 3}});
          return [scaledDotProductAttention(q, k, v), none];
        });
        expect(Array.from(none)).to.deep.equal(Array.from(plain));
      });
    });

    it('fused gradients equal the composed path\'s on larger shapes', async () => {
      const c = makeCase(random, {
        B: 2, Hq: 4, Hkv: 2, Sq: 96, Sk: 130, D: 32, Dv: 16,
        biases: [{kind: 'tensor', shape: [1, 4, 96, 130]}, {kind: 'causal', fromBottomRight: true}],
        dropout: {rate: 0.2, seed: 99},
      });
      const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
      const fused = await runCase(c, dy);
      const composed = await runCase(c, dy, (q, k, v, options) => {
        const [bias, causal] = options!.bias as [tf.Tensor, LowerTriangularMask];
        const shape = {batch: c.B, headsQ: c.Hq, headsKV: c.Hkv, seqQ: c.Sq, seqK: c.Sk, headDim: c.D, valueDim: c.Dv};
        return composedAttention(q, k, v, {
          shape, scale: 1 / Math.sqrt(c.D),
          terms: [new DenseBias(bias).composedTerm(shape), causal.composedTerm(shape)],
          dropoutRate: 0.2, dropoutSeed: 99,
        }) as tf.Tensor4D;
      });
      expect(relativeError(fused.out, composed.out)).to.be.at.most(o.forwardTolerance);
      fused.grads.forEach((g, i) => expect(relativeError(g, composed.grads[i])).to.be.at.most(o.gradientTolerance));
    });

    describe('bad input', () => {
      // Each entry makes its inputs, then returns the call to check.
      const cases: [string, () => () => unknown, RegExp][] = [
        ['key rank', () => call([1, 2, 4, 8], [2, 4, 8], [1, 2, 4, 8]),
         /^scaledDotProductAttention: key must be rank 4 \[batch, heads, seqK, headDim\], got shape \[2,4,8\]$/],
        ['query rank', () => call([2, 4, 8], [1, 2, 4, 8], [1, 2, 4, 8]), /query must be rank 4 .*got shape \[2,4,8\]/],
        ['batch mismatch', () => call([1, 2, 4, 8], [2, 2, 4, 8], [2, 2, 4, 8]), /key must have batch 1 .*got shape \[2,2,4,8\]/],
        ['head dim mismatch', () => call([1, 2, 4, 8], [1, 2, 4, 6], [1, 2, 4, 8]), /key must have headDim 8 .*\[1,2,4,6\]/],
        ['seqK mismatch', () => call([1, 2, 4, 8], [1, 2, 4, 8], [1, 2, 5, 8]), /value must have .*got shape \[1,2,5,8\]/],
        ['heads not a multiple', () => call([1, 3, 4, 8], [1, 2, 4, 8], [1, 2, 4, 8]), /query heads must be a multiple of key heads \(2\)/],
        ['dtype', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {}, 'int32'),
         /query must be float32, got int32/],
        ['bias does not broadcast', () => call([1, 2, 4, 8], [1, 2, 5, 8], [1, 2, 5, 8], {bias: tf.zeros([3, 5])}),
         /bias must broadcast to \[batch, heads, seqQ, seqK\] = \[1,2,4,5\], got shape \[3,5\]/],
        ['bias rank 5', () => call([1, 2, 4, 8], [1, 2, 5, 8], [1, 2, 5, 8], {bias: tf.zeros([1, 1, 2, 4, 5])}), /bias must broadcast/],
        ['window count',
         () => call([3, 2, 4, 8], [3, 2, 4, 8], [3, 2, 4, 8], {bias: new WindowBias(tf.zeros([2, 1, 4, 4]))}),
         /batch to be a multiple of its 2 windows, got batch 3/],
        ['window shape',
         () => call([2, 2, 4, 8], [2, 2, 4, 8], [2, 2, 4, 8], {bias: new WindowBias(tf.zeros([2, 3, 4, 4]))}),
         /windowBias must have shape \[nW, 1 or 2, 4, 4\], got shape \[2,3,4,4\]/],
        ['dropout rate 1', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {dropout: {rate: 1, seed: 0}}), /dropout rate must be a number in \[0, 1\), got 1/],
        ['dropout rate < 0', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {dropout: {rate: -0.1, seed: 0}}), /got -0.1/],
        ['dropout seed', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {dropout: {rate: 0.1, seed: 2 ** 32}}), /dropout seed must be an integer/],
        ['negative scale', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {scale: -1}), /scale must be a finite number ≥ 0, got -1/],
        ['NaN scale', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {scale: NaN}), /scale must be a finite number ≥ 0, got NaN/],
        ['block lengths',
         () => call([1, 1, 5, 2], [1, 1, 5, 2], [1, 1, 5, 2], {bias: BlockDiagonalMask.fromSeqLens([2, 2])}),
         /BlockDiagonalMask lengths must sum to seqQ = 5 and seqK = 5, got 4 and 4/],
        ['block batch',
         () => call([2, 1, 4, 2], [2, 1, 4, 2], [2, 1, 4, 2], {bias: BlockDiagonalMask.fromSeqLens([2, 2])}),
         /BlockDiagonalMask needs batch 1/],
        ['options null', () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], null as unknown as AttentionOptions),
         /^scaledDotProductAttention: options must be an object, got null$/],
        ['causal not a boolean',
         () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {causal: 'false' as unknown as boolean}),
         /^scaledDotProductAttention: causal must be a boolean, got string 'false'$/],
        ['an unknown option',
         () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {isCausal: true} as AttentionOptions),
         /^scaledDotProductAttention: unknown option 'isCausal' \(known: bias, causal, scale, dropout\)$/],
        ['an unknown dropout option',
         () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {dropout: {p: 0.1}} as unknown as AttentionOptions),
         /unknown dropout option 'p'/],
        ['headDim 0', () => call([1, 1, 2, 0], [1, 1, 2, 0], [1, 1, 2, 2]),
         /^scaledDotProductAttention: query must have headDim ≥ 1 .*got shape \[1,1,2,0\]$/],
        ['a bias that is not a tensor',
         () => call([1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], {bias: [1, 2] as unknown as tf.Tensor}),
         /bias must be a tf.Tensor, an AttentionBias or an array of these, got number 1/],
      ];
      for (const [name, prepare, message] of cases) {
        it(`rejects ${name} with a clear error and leaks nothing`, () => {
          const run = prepare();
          const before = tf.memory().numTensors;
          expect(run).to.throw(Error, message);
          expect(tf.memory().numTensors).to.equal(before);
        });
      }

      it('rejects disposed tensors with a TypeError, in the op and in attentionImplementation', () => {
        const live = tf.zeros([1, 1, 2, 2]);
        const disposed = () => {
          const t = tf.zeros([1, 1, 2, 2]);
          t.dispose();
          return t;
        };
        const q = disposed(), bias = disposed(), window = new WindowBias(tf.zeros([1, 1, 2, 2]));
        window.tensor.dispose();
        const before = tf.memory().numTensors;
        for (const f of [scaledDotProductAttention, attentionImplementation]) {
          expect(() => f(q, live, live)).to.throw(TypeError, /^scaledDotProductAttention: query must be a tf.Tensor of rank 4 .*got a disposed tf.Tensor$/);
          expect(() => f(live, live, live, {bias})).to.throw(TypeError, /bias must be .*got a disposed tf.Tensor/);
          expect(() => f(live, live, live, {bias: window})).to.throw(TypeError, /WindowBias tensor must be .*got a disposed tf.Tensor/);
        }
        expect(tf.memory().numTensors).to.equal(before);
        live.dispose();
      });

      it('rejects bad bias constructor arguments with TypeErrors', () => {
        const before = tf.memory().numTensors;
        expect(() => new LowerTriangularMask({fromBottomRight: 'no' as unknown as boolean}))
            .to.throw(TypeError, /^scaledDotProductAttention: LowerTriangularMask fromBottomRight must be a boolean, got string 'no'$/);
        expect(() => new LowerTriangularMask({bottomRight: true} as {fromBottomRight?: boolean}))
            .to.throw(Error, /unknown LowerTriangularMask option 'bottomRight'/);
        expect(() => new LowerTriangularMask(null as unknown as {fromBottomRight?: boolean}))
            .to.throw(TypeError, /LowerTriangularMask options must be an object, got null/);
        expect(() => BlockDiagonalMask.fromSeqLens(8 as unknown as number[]))
            .to.throw(TypeError, /^scaledDotProductAttention: BlockDiagonalMask.fromSeqLens query lengths must be an array .*got number 8$/);
        expect(() => BlockDiagonalMask.fromSeqLens([2, 2], 4 as unknown as number[])).to.throw(TypeError, /key lengths must be an array/);
        expect(() => new WindowBias(null as unknown as tf.Tensor))
            .to.throw(TypeError, /^scaledDotProductAttention: WindowBias tensor must be a tf.Tensor \[nW, 1 \| heads, seqQ, seqK\], got null$/);
        expect(tf.memory().numTensors).to.equal(before);
      });
    });

    describe('non-finite inputs (docs/contract.md §7)', () => {
      // Key jk of kv head 0 is NaN; value jv of kv head 1 is +Infinity in column 1, of kv head 0 NaN in column 2.
      const masks: [string, CaseShape, number, number][] = [
        ['causal masking', {B: 2, Hq: 2, Sq: 6, D: 4, Dv: 3, biases: [{kind: 'causal'}]}, 4, 2],
        ['a -Infinity tensor bias',
         {B: 2, Hq: 2, Sq: 6, D: 4, Dv: 3, biases: [{kind: 'tensor', shape: [2, 1, 6, 6], maskFraction: 0.5}]}, 4, 2],
        ['a -Infinity window bias',
         {B: 2, Hq: 2, Sq: 6, D: 4, Dv: 3, biases: [{kind: 'window', shape: [2, 2, 6, 6], maskFraction: 0.5}]}, 4, 2],
        ['a block-diagonal mask',
         {B: 1, Hq: 2, Sq: 6, Sk: 7, D: 4, Dv: 3, biases: [{kind: 'blockDiagonal', qLens: [3, 3], kLens: [4, 3]}]},
         4, 2],
        // Past the first key tile and query block of tiled kernels, at head dims 32, 64 and 128.
        ['causal masking, keys in a later tile',
         {B: 1, Hq: 2, Sq: 150, D: 64, Dv: 64, biases: [{kind: 'causal'}]}, 140, 100],
        ['causal masking, keys in a later tile, head dim 128',
         {B: 1, Hq: 2, Sq: 140, D: 128, Dv: 120, biases: [{kind: 'causal', fromBottomRight: true}]}, 133, 70],
        ['a -Infinity tensor bias, keys in a later tile',
         {B: 1, Hq: 2, Sq: 100, Sk: 130, D: 32, Dv: 32,
          biases: [{kind: 'tensor', shape: [1, 1, 100, 130], maskFraction: 0.5}]}, 120, 70],
        ['a -Infinity window bias, keys in a later tile',
         {B: 2, Hq: 2, Sq: 90, D: 64, Dv: 40, biases: [{kind: 'window', shape: [2, 2, 90, 90], maskFraction: 0.5}]},
         85, 40],
      ];
      for (const [name, shape, jk, jv] of masks) {
        it(`a NaN or Infinity in a key or value masked by ${name} reaches no row it is masked for`, async () => {
          const c = makeCase(random, shape);
          const poisoned = {...c, k: c.k.slice(), v: c.v.slice()};
          for (let b = 0; b < c.B; b++) {
            for (let d = 0; d < c.D; d++) poisoned.k[((b * c.Hkv) * c.Sk + jk) * c.D + d] = NaN;
            poisoned.v[((b * c.Hkv + 1) * c.Sk + jv) * c.Dv + 1] = Infinity;
            poisoned.v[((b * c.Hkv) * c.Sk + jv) * c.Dv + 2] = NaN;
          }
          const clean = {...c, k: c.k.map(x => x), v: c.v.map(x => x)};
          poisoned.k.forEach((x, n) => { if (!Number.isFinite(x)) clean.k[n] = 0; });
          poisoned.v.forEach((x, n) => { if (!Number.isFinite(x)) clean.v[n] = 0; });
          const expected = referenceForward(clean).out;
          const [actual] = await read(() => {
            const {q, k, v, options} = caseTensors(poisoned);
            return [scaledDotProductAttention(q, k, v, options)];
          });
          const got: number[] = [], want: number[] = [];
          let readers = 0;
          for (let b = 0; b < c.B; b++) {
            for (let h = 0; h < c.Hq; h++) {
              for (let i = 0; i < c.Sq; i++) {
                const row = ((b * c.Hq + h) * c.Sq + i) * c.Dv;
                const reads = (j: number) => biasAt(c, b, h, i, j) !== -Infinity;
                if (h === 0 && reads(jk)) {
                  readers++;
                  const values = Array.from(actual.subarray(row, row + c.Dv));
                  expect(values.some(Number.isFinite), `row (${b},${h},${i}) reads the NaN key: ${values}`)
                      .to.equal(false);
                } else if (reads(jv)) {
                  readers++;
                  expect(Number.isFinite(actual[row + (h === 0 ? 2 : 1)]),
                      `row (${b},${h},${i}) reads the non-finite value`).to.equal(false);
                } else {
                  for (let d = 0; d < c.Dv; d++) got.push(actual[row + d]), want.push(expected[row + d]);
                }
              }
            }
          }
          expect(got.every(Number.isFinite), 'rows that mask them are finite').to.equal(true);
          expect(want.length, 'some rows mask them').to.be.greaterThan(0);
          expect(readers, 'some rows read them').to.be.greaterThan(0);
          expect(relativeError(got, want), 'rows that mask them').to.be.at.most(o.forwardTolerance);
        });
      }

      it('a NaN in a query row or in a bias entry a row reads makes that row non-finite, and no other', async () => {
        const c =
            makeCase(random, {B: 1, Hq: 2, Sq: 5, Sk: 6, D: 4, Dv: 3, biases: [{kind: 'tensor', shape: [1, 1, 5, 6]}]});
        const biasData = (c.biases[0] as {data: Float64Array}).data;
        const poisoned = {...c, q: c.q.slice(), biases: [{...c.biases[0], data: biasData.slice()}]} as AttentionCase;
        for (let d = 0; d < c.D; d++) poisoned.q[(0 * c.Sq + 1) * c.D + d] = NaN;  // head 0, row 1
        (poisoned.biases[0] as {data: Float64Array}).data[3 * c.Sk + 2] = NaN;  // every head, row 3, key 2
        const expected = referenceForward(c).out;
        const [actual] = await read(() => {
          const {q, k, v, options} = caseTensors(poisoned);
          return [scaledDotProductAttention(q, k, v, options)];
        });
        const got: number[] = [], want: number[] = [];
        for (let h = 0; h < c.Hq; h++) {
          for (let i = 0; i < c.Sq; i++) {
            const row = (h * c.Sq + i) * c.Dv;
            const nan = i === 3 || (h === 0 && i === 1);
            const values = Array.from(actual.subarray(row, row + c.Dv));
            if (nan) expect(values.some(Number.isFinite), `row (${h},${i}): ${values}`).to.equal(false);
            else got.push(...values), want.push(...expected.subarray(row, row + c.Dv));
          }
        }
        expect(relativeError(got, want)).to.be.at.most(o.forwardTolerance);
      });
    });

    it('leaks no tensors over forward + backward inside tf.tidy', async () => {
      const {c, dy} = leakCase(random);
      await runCase(c, dy);  // warm-up: backends may keep state after a first call
      const before = tf.memory().numTensors;
      await runCase(c, dy);
      expect(tf.memory().numTensors).to.equal(before);
    });
  });
}

/** The bad-input checks' tensors, disposed after the suite. */
const held: tf.Tensor[] = [];
after(() => held.splice(0).forEach(t => t.dispose()));

/** Makes the inputs now; the returned function calls the op. */
function call(qs: number[], ks: number[], vs: number[], options: AttentionOptions = {}, dtype: tf.DataType = 'float32'):
    () => tf.Tensor {
  const q = tf.zeros(qs, dtype), k = tf.zeros(ks), v = tf.zeros(vs);
  held.push(q, k, v);
  const b = options?.bias;
  if (b instanceof tf.Tensor) held.push(b);
  if (b instanceof WindowBias) held.push(b.tensor);
  return () => scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, options);
}

/** A random small case: any combination of the features. */
function randomShape(random: () => number): CaseShape {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const Hkv = int(1, 3), Hq = Hkv * int(1, 3);
  const B = int(1, 4), Sq = int(1, 20), Sk = int(1, 20);
  const shape: CaseShape = {B, Hq, Hkv, Sq, Sk, D: int(1, 12), Dv: int(1, 12), biases: []};
  if (random() < 0.4) {
    const full = [B, Hq, Sq, Sk];
    const rank = int(1, 4);
    shape.biases!.push({
      kind: 'tensor', shape: full.slice(4 - rank).map(d => random() < 0.4 ? 1 : d),
      maskFraction: random() < 0.3 ? 0.3 : 0,
    });
  }
  if (random() < 0.3) {
    const divisors = [1, 2, 3, 4].filter(n => B % n === 0);
    const nW = divisors[int(0, divisors.length - 1)];
    shape.biases!.push(
        {kind: 'window', shape: [nW, random() < 0.5 ? 1 : Hq, Sq, Sk], maskFraction: random() < 0.3 ? 0.2 : 0});
  }
  if (B === 1 && random() < 0.25) {
    const blocks = int(1, 3);
    shape.biases!.push({
      kind: 'blockDiagonal', qLens: split(random, Sq, blocks), kLens: split(random, Sk, blocks),
      causal: random() < 0.5,
    });
  } else if (random() < 0.3) {
    shape.biases!.push({kind: 'causal', fromBottomRight: random() < 0.5});
  }
  if (random() < 0.2) shape.scale = random() * 2;
  if (random() < 0.2) shape.dropout = {rate: random() * 0.8, seed: int(0, 2 ** 31)};
  return shape;
}

/** `total` split into `parts` non-negative lengths. */
function split(random: () => number, total: number, parts: number): number[] {
  const cuts = Array.from({length: parts - 1}, () => Math.floor(random() * (total + 1))).sort((a, b) => a - b);
  return [...cuts, total].map((c, i) => c - (i === 0 ? 0 : [...cuts, total][i - 1]));
}
