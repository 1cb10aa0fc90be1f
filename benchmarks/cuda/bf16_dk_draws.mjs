#!/usr/bin/env node
// Draws of the 'bf16' sweep's failing shape, q[1,3,6,1] kv[1,2,7] + causal, straight through the
// addon, written as JSON for bf16_dk_error.py to compare with its rounding model draw by draw:
//   node benchmarks/cuda/bf16_dk_draws.mjs out.json [draws]
import {writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';

const addonPath = process.env.TFJS_ATTENTION_CUDA_ADDON ??
    new URL('../../build/Release/tfjs_attention_cuda.node', import.meta.url).pathname;
const addon = createRequire(import.meta.url)(addonPath);

const [B, Hq, Hkv, Sq, Sk, D, Dv] = [1, 3, 1, 6, 2, 1, 7];
const spec = {
  precision: 2, shape: [B, Hq, Hkv, Sq, Sk, D, Dv], scale: 1 / Math.sqrt(D), causal: 1, dropoutRate: 0, dropoutSeed: 0,
  qSeqStarts: [], kSeqStarts: [], biasStrides: null, biasElements: 0, windowStrides: null, numWindows: 1,
  windowElements: 0,
};
// The suite's input ranges (test/suite/cases.ts makeCase), float32 values.
const uniform = (n, spread) => Float32Array.from({length: n}, () => (Math.random() * 2 - 1) * spread);

const draws = [];
for (let n = 0; n < Number(process.argv[3] ?? 300); n++) {
  const q = uniform(Hq * Sq * D, 1.5), k = uniform(Hkv * Sk * D, 1.5), v = uniform(Hkv * Sk * Dv, 1);
  const dout = uniform(Hq * Sq * Dv, 1);
  const [out, lse] = addon.forward(spec, q, k, v, null, null);
  const [, dk] = addon.backward(spec, dout, q, k, v, out, lse, null, null);
  draws.push({q: [...q], k: [...k], v: [...v], dout: [...dout], dk: [...dk]});
}
writeFileSync(process.argv[2], JSON.stringify({draws}));
