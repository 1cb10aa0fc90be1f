/**
 * The device-pointer entry (kernels/cuda/csrc/attention_call.h) as TensorFlow's GPU kernels
 * call it (kernels/tensorflow/gpu/gpu_kernels.cc): inputs in device buffers that another stream
 * wrote, outputs and scratch poisoned with NaN beforehand, a stream of the call's own, the device
 * synchronized before and the stream after. Forward (output and logsumexp) and backward (every
 * gradient) against the float64 reference, at each precision, over every bias kind. Runs on the
 * bench build; without it or a device every test is skipped, reason printed.
 */
import {expect} from 'chai';
import {loadBenchAddon} from '../../benchmarks/cuda/bench_addon';
import type {NativeSpec} from '../../kernels/cuda/addon';
import {broadcastStrides} from '../../src/shapes';
import {CaseShape, describeCase, makeCase, randomArray, randomSeed, relativeError, rng, testSeed} from '../suite/cases';
import {AttentionCase, referenceBackward, referenceForward} from '../suite/reference';

const PRECISIONS = [['highest', 0, 1e-4], ['tf32', 1, 2e-3], ['bf16', 2, 1e-2]] as const;

/** One per kernel of kernel_heuristics.h's table, and each bias kind, GQA, Dv ≠ D, dropout. */
const CASES: CaseShape[] = [
  // Short forward, bias held across windows (6,400 windows), window bias, dropout.
  {B: 1600, Hq: 4, Sq: 25, D: 16, dropout: {rate: 0.1, seed: 77},
   biases: [{kind: 'tensor', shape: [1, 4, 25, 25]}, {kind: 'window', shape: [8, 1, 25, 25], maskFraction: 0.2}]},
  // Short forward at head dim 64, GQA, Dv ≠ D, causal bottom-right.
  {B: 3, Hq: 4, Hkv: 2, Sq: 37, Sk: 53, D: 60, Dv: 40, biases: [{kind: 'causal', fromBottomRight: true}]},
  // Hopper forward ('tf32' on sm_90a) at head dims 64 and 128, GQA; the backward reads rounded copies.
  {B: 2, Hq: 4, Hkv: 1, Sq: 200, Sk: 333, D: 96, Dv: 128},
  {B: 1, Hq: 2, Sq: 300, Sk: 260, D: 64, biases: [{kind: 'causal', fromBottomRight: true}],
   dropout: {rate: 0.25, seed: 31337}},
  // Tiled forward with a dense bias; block-diagonal causal (the starts go through scratch).
  {B: 2, Hq: 4, Hkv: 2, Sq: 130, Sk: 200, D: 128, Dv: 96,
   biases: [{kind: 'tensor', shape: [1, 4, 130, 200], maskFraction: 0.1}]},
  {B: 1, Hq: 2, Sq: 400, D: 40, Dv: 24, biases: [{kind: 'blockDiagonal', qLens: [100, 37, 200, 63], causal: true}]},
  // Stream-K backward under 'tf32' (more key blocks than a wave of resident blocks).
  {B: 4, Hq: 8, Hkv: 4, Sq: 100, Sk: 704, D: 128, Dv: 64,
   biases: [{kind: 'tensor', shape: [4, 1, 1, 704], maskFraction: 0.1}]},
];

/** The addon's spec of a case (at most one tensor bias and one window bias). */
function specOf(c: AttentionCase, precision: number): NativeSpec {
  let causal = 0, biasStrides: number[] | null = null, biasElements = 0;
  let windowStrides: number[] | null = null, numWindows = 1, windowElements = 0;
  let qSeqStarts: number[] = [], kSeqStarts: number[] = [];
  const starts = (lens: number[]) => lens.reduce((s, n) => [...s, s[s.length - 1] + n], [0]);
  for (const b of c.biases) {
    if (b.kind === 'tensor') {
      biasStrides = broadcastStrides(b.shape, [c.B, c.Hq, c.Sq, c.Sk]);
      biasElements = b.data.length;
    } else if (b.kind === 'window') {
      const [nW, h] = b.shape;
      windowStrides = [h * c.Sq * c.Sk, h === 1 ? 0 : c.Sq * c.Sk, c.Sk, 1];
      numWindows = nW;
      windowElements = b.data.length;
    } else if (b.kind === 'causal') {
      causal = b.fromBottomRight ? 2 : 1;
    } else {
      qSeqStarts = starts(b.qLens);
      kSeqStarts = starts(b.kLens);
      causal = b.causal ? 1 : 0;
    }
  }
  return {
    precision, shape: [c.B, c.Hq, c.Hkv, c.Sq, c.Sk, c.D, c.Dv], scale: c.scale ?? 1 / Math.sqrt(c.D), causal,
    dropoutRate: c.dropout?.rate ?? 0, dropoutSeed: c.dropout?.seed ?? 0, qSeqStarts, kSeqStarts,
    biasStrides, biasElements, windowStrides, numWindows, windowElements,
  };
}

const f32 = (a: Float64Array) => Float32Array.from(a);

/** Infinite logsumexps (fully masked rows) must match exactly; the rest by relative error. */
function expectLogsumexp(actual: Float32Array, expected: Float64Array, tolerance: number): void {
  const finiteActual: number[] = [], finiteExpected: number[] = [];
  expected.forEach((e, i) => {
    if (Number.isFinite(e)) {
      finiteActual.push(actual[i]);
      finiteExpected.push(e);
    } else {
      expect(actual[i], `logsumexp[${i}]`).to.equal(e);
    }
  });
  expect(relativeError(finiteActual, finiteExpected), 'logsumexp').to.be.at.most(tolerance);
}

const load = loadBenchAddon();

describe('CUDA device-pointer entry, called as the TensorFlow GPU kernels call it', () => {
  if (load.addon == null) {
    console.log(`  device-pointer entry tests skipped: ${load.reason}`);
    it.skip(`need the bench build and a device: ${load.reason}`);
    return;
  }
  const addon = load.addon;
  const seed = randomSeed();

  for (const [name, code, tolerance] of PRECISIONS) {
    describe(`precision '${name}'`, () => {
      for (const shape of CASES) {
        const title = `${describeCase(makeCase(rng(0), shape))} (seed ${seed})`;
        it(title, () => {
          const random = rng(testSeed(seed, `${name} ${title}`));
          const c = makeCase(random, shape);
          const dy = randomArray(random, c.B * c.Hq * c.Sq * c.Dv);
          const spec = specOf(c, code);
          const tensor = c.biases.find(b => b.kind === 'tensor'), window = c.biases.find(b => b.kind === 'window');
          const bias = tensor && 'data' in tensor ? f32(tensor.data) : null;
          const windowBias = window && 'data' in window ? f32(window.data) : null;
          const want = referenceForward(c);
          const [out, lse] = addon.deviceForward(spec, f32(c.q), f32(c.k), f32(c.v), bias, windowBias);
          expect(out.every(Number.isFinite), 'output finite').to.equal(true);
          expect(relativeError(out, want.out), 'output').to.be.at.most(tolerance);
          expectLogsumexp(lse, want.lse, tolerance);
          const g = referenceBackward(c, dy);
          const grads = addon.deviceBackward(spec, f32(dy), f32(c.q), f32(c.k), f32(c.v), out, lse, bias, windowBias);
          // The reference's bias gradients come in the order of the case's biases: tensor, then window.
          const biasGrads = [...g.dBiases];
          const checks: [string, Float32Array | null, Float64Array | undefined][] = [
            ['dQuery', grads[0], g.dq], ['dKey', grads[1], g.dk], ['dValue', grads[2], g.dv],
            ['dBias', grads[3], bias ? biasGrads.shift() : undefined],
            ['dWindowBias', grads[4], windowBias ? biasGrads.shift() : undefined],
          ];
          for (const [gradName, actual, expected] of checks) {
            if (expected == null) {
              expect(actual, gradName).to.equal(null);
              continue;
            }
            expect(actual!.every(Number.isFinite), `${gradName} finite`).to.equal(true);
            expect(relativeError(actual!, expected), gradName).to.be.at.most(tolerance);
          }
        });
      }
    });
  }

  it('declines head dims above maxHeadDim before allocating, naming the limit', () => {
    expect(addon.maxHeadDim).to.equal(128);
    const D = addon.maxHeadDim + 8;
    const spec: NativeSpec = {
      precision: 1, shape: [1, 1, 1, 4, 4, D, D], scale: 1, causal: 0, dropoutRate: 0, dropoutSeed: 0, qSeqStarts: [],
      kSeqStarts: [], biasStrides: null, biasElements: 0, windowStrides: null, numWindows: 1, windowElements: 0,
    };
    const pooled = addon.memory().pooledBytes;
    const x = new Float32Array(4 * D);
    expect(() => addon.deviceForward(spec, x, x, x, null, null))
        .to.throw(Error, /^tfjs-attention cuda: spec: head dims above 128 are not supported, got 136$/);
    expect(addon.memory().pooledBytes).to.equal(pooled);
  });

  it('turns a device allocation failure into an Error naming the buffer, and recovers', () => {
    // The query alone takes 1.1 TB, so its allocation (the first) fails on any GPU.
    const spec: NativeSpec = {
      precision: 1, shape: [512, 64, 64, 65536, 16, 128, 128], scale: 1, causal: 0, dropoutRate: 0, dropoutSeed: 0,
      qSeqStarts: [], kSeqStarts: [], biasStrides: null, biasElements: 0, windowStrides: null, numWindows: 1,
      windowElements: 0,
    };
    expect(() => addon.timeKernels(spec, {iterations: 1, warmup: 0, backward: false}))
        .to.throw(Error, /^tfjs-attention cuda: cudaMalloc\(query, \d+ bytes\) failed: cudaErrorMemoryAllocation/);
    const small = {...spec, shape: [1, 1, 1, 4, 4, 8, 8]};
    const x = Float32Array.from({length: 32}, (_, i) => Math.sin(i));
    const [out] = addon.deviceForward(small, x, x, x, null, null);
    expect(out.every(Number.isFinite)).to.equal(true);
  });
});
