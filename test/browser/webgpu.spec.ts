/**
 * Attention on the `webgpu` backend (WebGPU on SwiftShader in headless Chromium): the shared
 * suite (test/suite/, which reads results asynchronously, as this backend needs), then what
 * only webgpu has: tiled shapes at real head dims, the head-dim limit's reason, GPU buffers.
 * Where WebGPU must come up (CI, see karma.conf.js) its absence fails this file; elsewhere
 * the file is skipped and says why.
 */
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';
import {attentionImplementation} from '../../src/index';
import {checkCase, describeAttentionSuite, leakCase, runCase} from '../suite/index';
import type {SuiteOptions} from '../suite/index';
import {CaseShape, describeCase, makeCase, randomSeed, rng, testSeed} from '../suite/cases';

const SUITE_OPTIONS: SuiteOptions = {
  backend: 'webgpu', implementation: 'webgpu-fused', forwardTolerance: 1e-5, gradientTolerance: 1e-4, sweepCases: 30,
};

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
  // A dropout seed above 2^31 (the shader's hash is unsigned), with GQA.
  {
    B: 2, Hq: 4, Hkv: 2, Sq: 37, Sk: 70, D: 16, Dv: 8, biases: [{kind: 'causal', fromBottomRight: true}],
    dropout: {rate: 0.4, seed: 4000000000},
  },
];

describe('on the webgpu backend', () => {
  useWebGPU();
  describeAttentionSuite(SUITE_OPTIONS);

  const seed = randomSeed();
  describe(`webgpu kernels beyond the shared suite (seed ${seed})`, () => {
    let random: () => number;
    beforeEach(function() {
      random = rng(testSeed(seed, this.currentTest!.fullTitle()));
    });

    it('composes, with the reason, above the largest head dim', () => {
      tf.tidy(() => {
        const q = tf.zeros([1, 1, 4, 300]);
        const dispatch = attentionImplementation(q, q, q);
        expect(dispatch.implementation).to.equal('composed');
        expect(dispatch.reasons['webgpu-fused']).to.deep.equal(['head dim 300 is above its maximum 256']);
      });
    });

    describe('tiled shapes against the float64 reference, forward and gradients', () => {
      for (const shape of TILED_CASES) {
        it(describeCase(makeCase(rng(0), shape)), () => checkCase(makeCase(random, shape), SUITE_OPTIONS, random));
      }
    });

    it('leaks no GPU buffers over forward + backward', async () => {
      const {c, dy} = leakCase(random);
      await runCase(c, dy);  // warm-up: pipelines and pooled buffers
      const memory = () => tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
      const before = memory();
      await runCase(c, dy);
      expect(memory().numTensors).to.equal(before.numTensors);
      expect(memory().numBytesInGPU).to.equal(before.numBytesInGPU);
    });
  });
});
