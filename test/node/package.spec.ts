// The built package, as users load it: ESM with tfjs-core + a backend, CommonJS with the
// @tensorflow/tfjs union. Each runs in its own Node process (its own TF.js engine).
import {expect} from 'chai';
import {execFileSync, spawnSync} from 'node:child_process';
import {existsSync} from 'node:fs';

const ESM_WITH_CORE = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {attentionImplementation, LowerTriangularMask, scaledDotProductAttention} from 'tfjs-attention';
await tf.setBackend('cpu');
const q = tf.randomNormal([1, 2, 5, 4]), k = tf.randomNormal([1, 2, 5, 4]), v = tf.randomNormal([1, 2, 5, 4]);
const options = {bias: new LowerTriangularMask()};
const out = scaledDotProductAttention(q, k, v, options);
const [dq] = tf.grads((a, b, c) => scaledDotProductAttention(a, b, c, options))([q, k, v], tf.onesLike(out));
console.log(JSON.stringify({impl: attentionImplementation(q, k, v, options).implementation,
  first: out.dataSync()[0], v0: v.dataSync()[0], finite: dq.dataSync().every(Number.isFinite)}));
`;

const CJS_WITH_UNION = `
const tf = require('@tensorflow/tfjs');
const {scaledDotProductAttention, attentionImplementation} = require('tfjs-attention');
tf.setBackend('cpu').then(() => {
  const q = tf.randomNormal([2, 4, 6, 8]), k = tf.randomNormal([2, 2, 6, 8]), v = tf.randomNormal([2, 2, 6, 8]);
  const loss = (a) => tf.sum(scaledDotProductAttention(a, k, v, {causal: true}));
  const g = tf.grad(loss)(q);
  console.log(JSON.stringify({impl: attentionImplementation(q, k, v).implementation, shape: g.shape,
    finite: g.dataSync().every(Number.isFinite)}));
});
`;

const SUBPATHS_ESM = `
import * as tf from '@tensorflow/tfjs';
import {MultiHeadAttention} from 'tfjs-attention/layers';
import {cudaAvailability} from 'tfjs-attention';
await tf.setBackend('cpu');
const mha = new MultiHeadAttention({numHeads: 2, keyDim: 4});
const x = tf.randomNormal([1, 5, 8]);
const y = mha.apply([x, x]);
console.log(JSON.stringify({shape: y.shape, cuda: cudaAvailability()}));
`;

const SUBPATHS_CJS = `
const {swinPresets} = require('tfjs-attention/layers');
const {cudaAvailability} = require('tfjs-attention');
console.log(JSON.stringify({presets: Object.keys(swinPresets), cuda: cudaAvailability()}));
`;

function runNode(args: string[], source: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [...args, source], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  const line = out.trim().split('\n').filter(l => l.startsWith('{')).pop();
  return JSON.parse(line!);
}

describe('the built package', function() {
  before(() => {
    execFileSync(process.execPath, ['scripts/build.mjs'], {stdio: 'ignore'});
  });

  it('loads as ESM with only tfjs-core and the cpu backend, and differentiates', () => {
    const r = runNode(['--input-type=module', '-e'], ESM_WITH_CORE);
    expect(r.impl).to.equal('cpu-fused');
    // Causal row 0 sees only key 0: its output is v[0].
    expect(r.first).to.be.closeTo(r.v0 as number, 1e-6);
    expect(r.finite).to.equal(true);
  });

  it('loads as CommonJS next to the @tensorflow/tfjs union, and tf.grad works through it', () => {
    const r = runNode(['-e'], CJS_WITH_UNION);
    expect(r.impl).to.equal('cpu-fused');
    expect(r.shape).to.deep.equal([2, 4, 6, 8]);
    expect(r.finite).to.equal(true);
  });

  it('has a layers subpath sharing the core, and the CUDA API in Node (ESM and CommonJS)', () => {
    const esm = runNode(['--input-type=module', '-e'], SUBPATHS_ESM);
    expect(esm.shape).to.deep.equal([1, 5, 8]);
    // Without a device the CUDA entry loads and says why it is unavailable.
    const cuda = esm.cuda as {available: boolean, reason?: string};
    expect(cuda.available || typeof cuda.reason === 'string').to.equal(true);
    const cjs = runNode(['-e'], SUBPATHS_CJS);
    expect(cjs.presets).to.include.members(['tiny', 'small', 'base']);
    expect((cjs.cuda as {available: boolean}).available).to.equal(cuda.available);
  });

  it('skips the CUDA build, exit status 0, when there is no nvcc', () => {
    const out = 'build/no-nvcc-check';
    const build = spawnSync(process.execPath, ['kernels/cuda/build.mjs', `--out=${out}`],
                            {encoding: 'utf8', env: {...process.env, NVCC: '/nonexistent/bin/nvcc'}});
    expect(build.status).to.equal(0);
    expect(build.stdout).to.contain('nvcc not found');
    expect(existsSync(out)).to.equal(false);
  });
});
