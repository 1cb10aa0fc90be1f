#!/usr/bin/env node
// A few forward + backward calls straight through the addon, small enough for
// compute-sanitizer (memcheck, racecheck):
//   compute-sanitizer --tool memcheck node test/cuda/sanitize.mjs [addon | device]
// 'addon' (default): the shipped addon's forward and backward (host arrays, pooled buffers);
// 'device': the bench build's device-pointer entry as TensorFlow's GPU kernels call it (a
// stream of its own, NaN-poisoned outputs and scratch). Covers each head-dim variant and
// precision, biases, window bias, GQA, block-diagonal, causal and dropout, and the backward's
// key blocks split between resident blocks.
import {createRequire} from 'node:module';

const path = process.argv[2] ?? 'addon';
if (!['addon', 'device'].includes(path)) {
  throw new Error(`sanitize.mjs: the path must be 'addon' or 'device', got '${path}'`);
}
const file = path === 'addon' ?
    process.env.TFJS_ATTENTION_CUDA_ADDON ?? '../../build/Release/tfjs_attention_cuda.node' :
    process.env.TFJS_ATTENTION_CUDA_BENCH_ADDON ?? '../../build/Release/tfjs_attention_cuda_bench.node';
const loaded = createRequire(import.meta.url)(file.startsWith('/') ? file : new URL(file, import.meta.url).pathname);
const [forward, backward] =
    path === 'addon' ? [loaded.forward, loaded.backward] : [loaded.deviceForward, loaded.deviceBackward];

let state = 12345;
const random = n => Float32Array.from({length: n}, () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 31 - 1;
});

const cases = [
  {name: 'D 64, causal bottom-right, bias, dropout, tf32', precision: 1, shape: [1, 2, 2, 70, 90, 64, 64], causal: 2,
   dropoutRate: 0.2, bias: {shape: [1, 2, 70, 90], strides: [0, 6300, 90, 1]}},
  {name: 'D 32, bias + window bias, bf16', precision: 2, shape: [2, 2, 2, 49, 49, 32, 32], causal: 0, dropoutRate: 0,
   bias: {shape: [1, 2, 49, 49], strides: [0, 2401, 49, 1]},
   window: {shape: [2, 1, 49, 49], strides: [2401, 0, 49, 1]}},
  {name: 'short-sequence path, bias held across windows: D 32, bias + window bias, causal, tf32', precision: 1,
   shape: [1600, 4, 4, 25, 25, 32, 32], causal: 1, dropoutRate: 0,
   bias: {shape: [1, 4, 25, 25], strides: [0, 625, 25, 1]},
   window: {shape: [8, 1, 25, 25], strides: [625, 0, 25, 1]}},
  {name: 'short-sequence path: D 24 / Dv 40, GQA, causal bottom-right, dropout, tf32', precision: 1,
   shape: [3, 4, 2, 37, 53, 24, 40], causal: 2, dropoutRate: 0.3},
  {name: 'Hopper forward (sm_90a), its tile rings wrapping: D 48 / Dv 64, GQA, causal bottom-right, dropout, tf32',
   precision: 1, shape: [1, 4, 2, 150, 520, 48, 64], causal: 2, dropoutRate: 0.1},
  {name: 'Hopper forward (sm_90a), its tile rings wrapping: D 128, tf32', precision: 1,
   shape: [1, 2, 2, 130, 330, 128, 128], causal: 0, dropoutRate: 0},
  {name: 'D 128 / Dv 96, GQA, block-diagonal causal, highest', precision: 0, shape: [1, 4, 1, 100, 100, 128, 96],
   causal: 1, dropoutRate: 0, qSeqStarts: [0, 30, 100], kSeqStarts: [0, 45, 100]},
  {name: 'stream-K backward (more key blocks than resident blocks): D 128 / Dv 64, dropout, tf32',
   precision: 1, shape: [4, 4, 4, 70, 600, 128, 64], causal: 0, dropoutRate: 0.1},
];

for (const c of cases) {
  const [B, Hq, Hkv, Sq, Sk, D, Dv] = c.shape;
  const size = s => s.reduce((a, b) => a * b, 1);
  const spec = {
    precision: c.precision, shape: c.shape, scale: 1 / Math.sqrt(D), causal: c.causal, dropoutRate: c.dropoutRate,
    dropoutSeed: 99, qSeqStarts: c.qSeqStarts ?? [], kSeqStarts: c.kSeqStarts ?? [],
    biasStrides: c.bias?.strides ?? null, biasElements: c.bias ? size(c.bias.shape) : 0,
    windowStrides: c.window?.strides ?? null, numWindows: c.window?.shape[0] ?? 1,
    windowElements: c.window ? size(c.window.shape) : 0,
  };
  const q = random(B * Hq * Sq * D), k = random(B * Hkv * Sk * D), v = random(B * Hkv * Sk * Dv);
  const bias = c.bias ? random(spec.biasElements) : null, window = c.window ? random(spec.windowElements) : null;
  const [out, lse] = forward(spec, q, k, v, bias, window);
  const grads = backward(spec, random(out.length), q, k, v, out, lse, bias, window);
  const finite = [out, ...grads.filter(g => g != null)].every(a => a.every(x => Number.isFinite(x)));
  console.log(`${path}: ${c.name}: ${finite ? 'finite' : 'NOT FINITE'}`);
  if (!finite) process.exitCode = 1;
}
