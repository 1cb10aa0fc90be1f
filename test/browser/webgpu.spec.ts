/**
 * Attention on the `webgpu` backend (WebGPU on SwiftShader in headless Chromium), against
 * the float64 reference, finite differences and the cpu kernel, with every result read
 * asynchronously: in this Chromium, tfjs-backend-webgpu's synchronous readback (a GPU
 * buffer drawn through a canvas) returns zeros and loses the device, so the shared suite
 * (test/suite/, which reads with dataSync) cannot run on webgpu here. It uses the suite's
 * cases, references and tolerances. Where WebGPU must come up (CI, see karma.conf.js) its
 * absence fails this file; elsewhere the file is skipped and says why.
 */
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';
import {attentionImplementation, LowerTriangularMask, scaledDotProductAttention, WindowBias} from '../../src/index';
import type {AttentionOptions} from '../../src/index';
import {FEATURE_CASES} from '../suite/index';
import {
  CaseShape, caseTensors, describeCase, makeCase, randomArray, randomSeed, relativeError, rng, testSeed,
} from '../suite/cases';
import {AttentionCase, referenceBackward, referenceForward} from '../suite/reference';

const FORWARD_TOLERANCE = 1e-5;
const GRADIENT_TOLERANCE = 1e-4;

const karmaConfig = (globalThis as {__karma__?: {config?: {webgpuRequired?: boolean}}}).__karma__?.config;

/** Selects webgpu for the specs of the enclosing describe, and webgl again after them. */
function useWebGPU(): void {
  before(async function() {
    // A device that never answers fails here, not as a silent browser timeout.
    const timeout = new Promise<string>(
        resolve => setTimeout(() => resolve('no adapter or device within 120 s'), 120_000));
    const outcome = await Promise.race([tf.setBackend('webgpu').catch((e: Error) => e.message), timeout]);
    if (outcome === true) return;
    const why = `WebGPU did not come up in this browser (navigator.gpu ${'gpu' in navigator ? 'present' : 'absent'}` +
        `${typeof outcome === 'string' ? `: ${outcome}` : ''})`;
    if (karmaConfig?.webgpuRequired === true) throw new Error(`${why}; the webgpu specs must run here`);
    console.warn(`${why}: skipping the webgpu specs`);
    this.skip();
  });
  after(async () => {
    await tf.setBackend('webgl');
  });
}

/** Runs `make` in tf.tidy and reads back the tensors it returns. */
async function read(make: () => tf.Tensor[]): Promise<Float32Array[]> {
  const tensors = tf.tidy(make);
  try {
    return await Promise.all(tensors.map(t => t.data() as Promise<Float32Array>));
  } finally {
    tf.dispose(tensors);
  }
}

/** The op's output and gradients of Σ out ⊙ dy for the case's inputs and tensor biases. */
function outputAndGrads(c: AttentionCase, dy: Float64Array): tf.Tensor[] {
  const {q, k, v, biasTensors, options} = caseTensors(c);
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
      scaledDotProductAttention(
          xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, xs[2] as tf.Tensor4D, withBiases(xs.slice(3)));
  const dyT = tf.tensor4d(Float32Array.from(dy), [c.B, c.Hq, c.Sq, c.Dv]);
  return [f(q, k, v, ...biasTensors), ...tf.grads(f)([q, k, v, ...biasTensors], dyT)];
}

async function checkCase(c: AttentionCase, random: () => number): Promise<void> {
  const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
  const [out, ...grads] = await read(() => outputAndGrads(c, dy));
  expect(relativeError(out, referenceForward(c).out), 'output').to.be.at.most(FORWARD_TOLERANCE);
  const g = referenceBackward(c, dy);
  [g.dq, g.dk, g.dv, ...g.dBiases].forEach((want, i) => {
    // A bias gradient sums the score gradients its element broadcasts over.
    const summed = i < 3 ? 1 : (c.B * c.Hq * c.Sq * c.Sk) / want.length;
    expect(grads[i].every(Number.isFinite), `gradient ${i} is finite`).to.equal(true);
    expect(relativeError(grads[i], want, summed), `gradient ${i}`).to.be.at.most(GRADIENT_TOLERANCE);
  });
}

/** Shapes past one tile and workgroup: real head dims, GQA, Swin's windows, the largest head dim. */
const TILED_CASES: CaseShape[] = [
  {
    B: 1, Hq: 4, Hkv: 2, Sq: 130, Sk: 200, D: 64,
    biases: [{kind: 'tensor', shape: [1, 4, 130, 200], maskFraction: 0.2}, {kind: 'causal'}],
  },
  {
    B: 8, Hq: 3, Sq: 49, D: 32,
    biases: [{kind: 'tensor', shape: [1, 3, 49, 49]}, {kind: 'window', shape: [4, 1, 49, 49], maskFraction: 0.3}],
  },
  {
    B: 1, Hq: 2, Sq: 100, Sk: 90, D: 128, Dv: 96,
    biases: [{kind: 'blockDiagonal', qLens: [40, 60], kLens: [50, 40], causal: true}],
    dropout: {rate: 0.25, seed: 11},
  },
  {B: 1, Hq: 1, Sq: 9, Sk: 40, D: 256, Dv: 256, biases: [{kind: 'causal', fromBottomRight: true}]},
];

/** d(Σ out ⊙ dy)/dx by central differences of the float64 reference. */
function finiteDifferences(c: AttentionCase, dy: Float64Array, x: Float64Array): Float64Array {
  const eps = 1e-6;
  const loss = () => referenceForward(c).out.reduce((acc, value, i) => acc + value * dy[i], 0);
  return x.map((saved, i) => {
    x[i] = saved + eps;
    const plus = loss();
    x[i] = saved - eps;
    const minus = loss();
    x[i] = saved;
    return (plus - minus) / (2 * eps);
  });
}

describe('on the webgpu backend', () => {
  useWebGPU();
  const seed = randomSeed();
  describe(`scaledDotProductAttention on webgpu (seed ${seed})`, () => {
    let random: () => number;
    beforeEach(function() {
      random = rng(testSeed(seed, this.currentTest!.fullTitle()));
    });

    it('runs the webgpu-fused kernels', () => {
      tf.tidy(() => {
        const q = tf.zeros([1, 2, 4, 8]), kv = tf.zeros([1, 2, 6, 8]);
        const dispatch = attentionImplementation(q, kv, kv, {bias: new LowerTriangularMask()});
        expect(dispatch).to.deep.include({backend: 'webgpu', implementation: 'webgpu-fused'});
      });
    });

    it('composes, with the reason, above the largest head dim', () => {
      tf.tidy(() => {
        const q = tf.zeros([1, 1, 4, 300]);
        const dispatch = attentionImplementation(q, q, q);
        expect(dispatch.implementation).to.equal('composed');
        expect(dispatch.reasons['webgpu-fused']).to.deep.equal(['head dim 300 is above its maximum 256']);
      });
    });

    describe('against the float64 reference, forward and gradients', () => {
      for (const shape of [...FEATURE_CASES, ...TILED_CASES]) {
        it(describeCase(makeCase(rng(0), shape)), () => checkCase(makeCase(random, shape), random));
      }
    });

    it('gradients match central finite differences of the float64 reference', async () => {
      const c = makeCase(random, {
        B: 2, Hq: 2, Hkv: 1, Sq: 3, Sk: 4, D: 3, Dv: 2,
        biases: [
          {kind: 'tensor', shape: [1, 2, 3, 4]}, {kind: 'window', shape: [2, 1, 3, 4]},
          {kind: 'causal', fromBottomRight: true},
        ],
        dropout: {rate: 0.3, seed: 5},
      });
      const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
      const [, ...grads] = await read(() => outputAndGrads(c, dy));
      const trainable = c.biases.filter(b => b.kind === 'tensor' || b.kind === 'window') as {data: Float64Array}[];
      [c.q, c.k, c.v, ...trainable.map(b => b.data)].forEach((x, n) => {
        const numeric = finiteDifferences(c, dy, x);
        expect(relativeError(grads[n], numeric), `input ${n}`).to.be.at.most(GRADIENT_TOLERANCE * 10);
      });
    });

    it('dropout keeps what the cpu kernel keeps, forward and backward', async () => {
      const c = makeCase(random, {
        B: 2, Hq: 4, Hkv: 2, Sq: 37, Sk: 70, D: 16, Dv: 8, biases: [{kind: 'causal', fromBottomRight: true}],
        dropout: {rate: 0.4, seed: 4000000000},
      });
      const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
      const onWebGPU = await read(() => outputAndGrads(c, dy));
      await tf.setBackend('cpu');
      try {
        const onCpu = await read(() => outputAndGrads(c, dy));
        onCpu.forEach((want, i) => {
          expect(relativeError(onWebGPU[i], want), `result ${i}`).to.be.at.most(GRADIENT_TOLERANCE);
        });
      } finally {
        await tf.setBackend('webgpu');
      }
    });

    it('fully masked rows output zeros and pass zero gradient', async () => {
      const mask = new Float32Array(2 * 6 * 5);
      for (let j = 0; j < 5; j++) mask[1 * 5 + j] = -Infinity;  // batch 0, row 1
      mask.fill(-Infinity, 6 * 5);  // batch 1, every row
      const [out, dq, dk, dv, dBias] = await read(() => {
        const q = tf.randomNormal([2, 2, 6, 4]), k = tf.randomNormal([2, 2, 5, 4]), v = tf.randomNormal([2, 2, 5, 3]);
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
            scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, {bias: d});
        const bias = tf.tensor4d(mask, [2, 1, 6, 5]);
        return [f(q, k, v, bias), ...tf.grads(f)([q, k, v, bias], tf.ones([2, 2, 6, 3]))];
      });
      for (const h of [0, 1]) {
        expect(Array.from(out.subarray((h * 6 + 1) * 3, (h * 6 + 2) * 3))).to.deep.equal([0, 0, 0]);
      }
      expect(out.subarray(2 * 6 * 3).every(x => x === 0)).to.equal(true);
      expect(dq.subarray(2 * 6 * 4).every(x => x === 0)).to.equal(true);
      expect(dBias.subarray(6 * 5).every(x => x === 0)).to.equal(true);
      for (const g of [dq, dk, dv, dBias]) expect(g.every(Number.isFinite)).to.equal(true);
    });

    it('a NaN key masked by causality reaches no row, a NaN query row makes its row NaN', async () => {
      const q = randomArray(random, 6 * 4), k = randomArray(random, 6 * 4);
      q.fill(NaN, 1 * 4, 2 * 4);  // query row 1
      k.fill(NaN, 4 * 4, 5 * 4);  // key 4
      const [out] = await read(() => [scaledDotProductAttention(
          tf.tensor4d(Float32Array.from(q), [1, 1, 6, 4]), tf.tensor4d(Float32Array.from(k), [1, 1, 6, 4]),
          tf.randomNormal([1, 1, 6, 2]), {causal: true})]);
      for (let i = 0; i < 6; i++) {
        const row = Array.from(out.subarray(2 * i, 2 * i + 2));
        // Row 1 has a NaN query; rows 4 and 5 read key 4, which is NaN.
        expect(row.some(Number.isFinite), `row ${i}: ${row}`).to.equal(!(i === 1 || i >= 4));
      }
    });

    it('rejects bad input with the op\'s error and leaks nothing', () => {
      const before = tf.memory().numTensors;
      const q = tf.zeros([1, 2, 4, 8]), k = tf.zeros([1, 2, 5, 8]);
      const bias = tf.zeros([3, 5]);
      expect(() => scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, k as tf.Tensor4D, {bias}))
          .to.throw(Error, /bias must broadcast to \[batch, heads, seqQ, seqK\] = \[1,2,4,5\], got shape \[3,5\]/);
      tf.dispose([q, k]);
      expect(tf.memory().numTensors).to.equal(before + 1);  // the rejected bias, still the caller's
    });

    it('leaks no tensors and no GPU buffers over forward + backward', async () => {
      const c = makeCase(random, {
        B: 2, Hq: 2, Sq: 9, D: 4,
        biases: [{kind: 'tensor', shape: [1, 2, 9, 9]}, {kind: 'window', shape: [2, 1, 9, 9]}, {kind: 'causal'}],
        dropout: {rate: 0.1, seed: 1},
      });
      const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
      await read(() => outputAndGrads(c, dy));  // warm-up: pipelines and pooled buffers
      const memory = () => tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
      const before = memory();
      await read(() => outputAndGrads(c, dy));
      expect(memory().numTensors).to.equal(before.numTensors);
      expect(memory().numBytesInGPU).to.equal(before.numBytesInGPU);
    });
  });
});
