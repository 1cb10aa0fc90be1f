/**
 * The CUDA kernels on the GPU machine: the shared suite with the kernels registered for
 * `cpu` at each precision, then what only the CUDA path has (tile boundaries and head dims
 * of the kernel variants, exact dropout decisions across tiles, device-memory leaks, CUDA
 * errors as JS Errors). Without the addon or a device every test is skipped, reason printed.
 */
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {cpuKernels} from '../../kernels/cpu/index';
import {loadCudaAddon, NativeSpec} from '../../kernels/cuda/addon';
import {useCudaKernels} from '../../kernels/cuda/index';
import {CudaPrecision} from '../../kernels/cuda/kernels';
import {registerFusedBackend} from '../../src/dispatch';
import {
  attentionImplementation, AttentionOptions, dropoutKeeps, scaledDotProductAttention, WindowBias,
} from '../../src/index';
import {
  CaseShape, caseTensors, describeCase, makeCase, randomArray, randomSeed, relativeError, rng,
} from '../suite/cases';
import {describeAttentionSuite} from '../suite/index';
import {AttentionCase, referenceBackward, referenceForward} from '../suite/reference';

const TOLERANCES: Record<CudaPrecision, number> = {highest: 1e-4, tf32: 2e-3, bf16: 1e-2};

/** Shapes that cross the kernels' tiles (64 query rows, 32–64 keys) and use each kernel variant. */
const TILE_CASES: CaseShape[] = [
  {B: 1, Hq: 2, Sq: 300, Sk: 260, D: 64, biases: [{kind: 'causal', fromBottomRight: true}]},
  {B: 2, Hq: 4, Hkv: 2, Sq: 130, Sk: 200, D: 128, Dv: 96, biases: [{kind: 'tensor', shape: [1, 4, 130, 200]}]},
  {B: 4, Hq: 3, Sq: 49, D: 32,
   biases: [{kind: 'tensor', shape: [1, 3, 49, 49]}, {kind: 'window', shape: [2, 1, 49, 49], maskFraction: 0.2}]},
  {B: 1, Hq: 2, Sq: 400, D: 40, Dv: 24, biases: [{kind: 'blockDiagonal', qLens: [100, 37, 200, 63], causal: true}]},
  {B: 2, Hq: 2, Sq: 150, D: 64, biases: [{kind: 'causal'}], dropout: {rate: 0.25, seed: 31337}},
  {B: 1, Hq: 1, Sq: 257, Sk: 513, D: 128, biases: [{kind: 'causal'}]},
  {B: 3, Hq: 6, Hkv: 3, Sq: 70, Sk: 33, D: 7, Dv: 13, biases: [{kind: 'tensor', shape: [3, 1, 70, 1]}]},
  // The short-sequence forward (Sq, Sk <= 64, head dims <= 64); the first two have more
  // windows than one wave of its persistent blocks.
  {B: 128, Hq: 6, Sq: 49, D: 32,
   biases: [{kind: 'tensor', shape: [1, 6, 49, 49]}, {kind: 'window', shape: [64, 1, 49, 49], maskFraction: 0.2}]},
  {B: 40, Hq: 8, Hkv: 2, Sq: 37, Sk: 53, D: 24, Dv: 40, dropout: {rate: 0.2, seed: 4242},
   biases: [{kind: 'tensor', shape: [1, 8, 37, 53]}]},
  {B: 8, Hq: 2, Sq: 61, Sk: 45, D: 16,
   biases: [{kind: 'window', shape: [4, 2, 61, 45], maskFraction: 0.3}, {kind: 'causal', fromBottomRight: true}]},
  // Enough windows (6,400) for blocks to walk runs of windows that share the bias (on up to
  // 266 multiprocessors): the summed bias is held across windows.
  {B: 1600, Hq: 4, Sq: 25, D: 16, dropout: {rate: 0.1, seed: 77},
   biases: [{kind: 'tensor', shape: [1, 4, 25, 25]}, {kind: 'window', shape: [8, 1, 25, 25], maskFraction: 0.2}]},
  {B: 3, Hq: 2, Sq: 17, Sk: 64, D: 60, Dv: 7, biases: [{kind: 'tensor', shape: [3, 1, 1, 64]}, {kind: 'causal'}]},
  {B: 1, Hq: 3, Sq: 64, D: 64, biases: [{kind: 'blockDiagonal', qLens: [20, 31, 13], causal: true}]},
  // Without a bias, 'tf32' takes the Hopper forward on sm_90a (as the D 40 to 128 cases above
  // with masks only do): GQA with Dv != D, and head dims that are not multiples of 4.
  {B: 2, Hq: 4, Hkv: 1, Sq: 200, Sk: 333, D: 96, Dv: 128},
  {B: 1, Hq: 2, Sq: 140, Sk: 190, D: 45, Dv: 66, biases: [{kind: 'causal', fromBottomRight: true}]},
  // More key blocks than one wave of resident backward blocks (on up to 175 multiprocessors), not
  // a whole number of waves: the 'tf32' backward runs stream-K, and key blocks split between
  // blocks get dK and dV added (pairs of columns, and single columns where Dv is odd).
  {B: 4, Hq: 8, Hkv: 4, Sq: 100, Sk: 704, D: 128, Dv: 64,
   biases: [{kind: 'tensor', shape: [4, 1, 1, 704], maskFraction: 0.1}],
   dropout: {rate: 0.1, seed: 606}},
  {B: 8, Hq: 4, Sq: 70, Sk: 704, D: 64, Dv: 33},
];

/** Output and gradients of Σ out ⊙ dy (query, key, value, then each bias tensor) for a case. */
function outputAndGradients(c: AttentionCase, dy: Float64Array): Float32Array[] {
  return tf.tidy(() => {
    const {q, k, v, biasTensors, options} = caseTensors(c);
    const f = (...xs: tf.Tensor[]) => {
      let next = 3;
      const bias = (options.bias as unknown[]).map(b =>
          b instanceof tf.Tensor ? xs[next++] : b instanceof WindowBias ? new WindowBias(xs[next++]) : b);
      return scaledDotProductAttention(xs[0], xs[1], xs[2], {...options, bias: bias as AttentionOptions['bias']});
    };
    const dyT = tf.tensor4d(Float32Array.from(dy), [c.B, c.Hq, c.Sq, c.Dv]);
    const out = f(q, k, v, ...biasTensors);
    const grads = tf.grads(f)([q, k, v, ...biasTensors], dyT);
    return [out.dataSync() as Float32Array, ...grads.map(g => g.dataSync() as Float32Array)];
  });
}

const load = loadCudaAddon();

describe('CUDA kernels', () => {
  if (load.addon == null) {
    console.log(`  CUDA tests skipped: ${load.reason}`);
    it.skip(`need the addon and a device: ${load.reason}`);
    return;
  }
  const addon = load.addon;
  console.log(`  device: ${load.device.name} (compute capability ${load.device.computeCapability})`);
  before(async () => {
    await tf.setBackend('cpu');
  });
  after(() => registerFusedBackend(cpuKernels));

  for (const precision of ['highest', 'tf32', 'bf16'] as CudaPrecision[]) {
    describe(`precision '${precision}'`, () => {
      before(() => useCudaKernels({backend: 'cpu', precision}));
      const tolerance = TOLERANCES[precision];
      describeAttentionSuite({
        backend: 'cpu', implementation: 'cuda', forwardTolerance: tolerance, gradientTolerance: tolerance,
        sweepCases: 60,
      });

      describe('shapes across tiles and head-dim variants, against the float64 reference', () => {
        const seed = randomSeed();
        for (const shape of TILE_CASES) {
          it(`${describeCase(makeCase(rng(0), shape))} (seed ${seed})`, () => {
            const random = rng(seed);
            const c = makeCase(random, shape);
            const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
            const want = referenceForward(c);
            const g = referenceBackward(c, dy);
            const [out, ...grads] = outputAndGradients(c, dy);
            expect(relativeError(out, want.out), 'output').to.be.at.most(tolerance);
            const names = ['dQuery', 'dKey', 'dValue', 'dBias', 'dWindowBias'];
            [g.dq, g.dk, g.dv, ...g.dBiases].forEach((expected, i) => {
              expect(grads[i].every(Number.isFinite), `${names[i]} finite`).to.equal(true);
              expect(relativeError(grads[i], expected), names[i]).to.be.at.most(tolerance);
            });
          });
        }
      });
    });
  }

  describe('with tf32 kernels on cpu', () => {
    before(() => useCudaKernels({backend: 'cpu'}));

    it('keeps the elements the contract hash keeps, across key tiles, as the cpu kernel does', () => {
      // Q = K = 0 and V = identity: the output is the dropped probability matrix.
      const B = 2, H = 3, S = 128, rate = 0.3, seed = 2718281828;
      const run = () => tf.tidy(() => {
        const q = tf.zeros([B, H, S, 64]), k = tf.zeros([B, H, S, 64]);
        const v = tf.tile(tf.reshape(tf.eye(S), [1, 1, S, S]), [B, H, 1, 1]);
        return scaledDotProductAttention(q, k, v, {dropout: {rate, seed}}).dataSync();
      });
      const cuda = run();
      registerFusedBackend(cpuKernels);
      const cpu = run();
      useCudaKernels({backend: 'cpu'});
      let mismatches = 0;
      for (let bh = 0; bh < B * H; bh++) {
        for (let i = 0; i < S; i++) {
          for (let j = 0; j < S; j++) {
            const index = (bh * S + i) * S + j;
            const kept = dropoutKeeps(seed, rate, bh, i, j);
            if ((cuda[index] > 0) !== kept || (cpu[index] > 0) !== kept) mismatches++;
            if (kept) expect(cuda[index]).to.be.closeTo(1 / S / (1 - rate), 1e-6);
          }
        }
      }
      expect(mismatches).to.equal(0);
    });

    it('leaves calls above head dim 128 to the cpu-fused kernel, and says why', () => {
      tf.tidy(() => {
        const q = tf.randomNormal([1, 2, 8, 160]);
        const d = attentionImplementation(q, q, q);
        expect(d.implementation).to.equal('cpu-fused');
        expect(d.reasons.cuda.join()).to.match(/head dim 160 is above its maximum 128/);
        expect(scaledDotProductAttention(q, q, q).shape).to.deep.equal([1, 2, 8, 160]);
      });
    });

    it('keeps GPU memory flat over 10,000 forward + backward calls', () => {
      const c = makeCase(rng(randomSeed()), {
        B: 2, Hq: 2, Sq: 33, D: 16, biases: [{kind: 'tensor', shape: [1, 2, 33, 33]}, {kind: 'causal'}],
      });
      const dy = randomArray(rng(1), c.B * c.Hq * c.Sq * c.Dv);
      const step = () => outputAndGradients(c, dy);
      for (let n = 0; n < 20; n++) step();
      const before = addon.memory();
      const tensors = tf.memory().numTensors;
      for (let n = 0; n < 5000; n++) step();  // a forward and a backward call each
      const after = addon.memory();
      console.log(`    device free bytes: ${before.freeBytes} before, ${after.freeBytes} after; ` +
                  `pooled ${after.pooledBytes}`);
      expect(after.freeBytes).to.equal(before.freeBytes);
      expect(after.pooledBytes).to.equal(before.pooledBytes);
      expect(tf.memory().numTensors).to.equal(tensors);
    });

    it('rejects arrays that do not match the spec, naming the argument', () => {
      const spec: NativeSpec = {
        precision: 1, shape: [1, 1, 1, 2, 2, 4, 4], scale: 1, causal: 0, dropoutRate: 0, dropoutSeed: 0,
        qSeqStarts: [], kSeqStarts: [], biasStrides: null, biasElements: 0, windowStrides: null, numWindows: 1,
        windowElements: 0,
      };
      const ok = new Float32Array(8);
      expect(() => addon.forward(spec, new Float32Array(3), ok, ok, null, null))
          .to.throw(Error, /^tfjs-attention cuda: query has 3 elements, expected 8$/);
      expect(() => addon.forward(spec, ok, ok, new Float64Array(8) as unknown as Float32Array, null, null))
          .to.throw(Error, /value must be a Float32Array/);
      expect(() => addon.forward({...spec, shape: [1, 1, 1, 2, 2, 256, 4]}, ok, ok, ok, null, null))
          .to.throw(Error, /head dims above 128 are not supported, got 256/);
    });
  });
});
