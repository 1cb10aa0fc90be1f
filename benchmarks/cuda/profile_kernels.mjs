#!/usr/bin/env node
// One forward and one backward launch of a benchmark shape through the bench build, for Nsight
// Compute:  ncu --kernel-name regex:'Kernel' node benchmarks/cuda/profile_kernels.mjs [shape]
// shape: B,Hq,S,D[,nW] (default 8,12,1024,64), tf32; with nW, Swin's [1,H,S,S] relative bias
// and [nW,1,S,S] window bias.
import {createRequire} from 'node:module';

const addonPath = process.env.TFJS_ATTENTION_CUDA_BENCH_ADDON ??
    new URL('../../build/Release/tfjs_attention_cuda_bench.node', import.meta.url).pathname;
const addon = createRequire(import.meta.url)(addonPath);
const [B, H, S, D, windows] = (process.argv[2] ?? '8,12,1024,64').split(',').map(Number);
const spec = {
  precision: 1, shape: [B, H, H, S, S, D, D], scale: 1 / Math.sqrt(D), causal: 0, dropoutRate: 0, dropoutSeed: 0,
  qSeqStarts: [], kSeqStarts: [], biasStrides: windows ? [0, S * S, S, 1] : null, biasElements: windows ? H * S * S : 0,
  windowStrides: windows ? [S * S, 0, S, 1] : null, numWindows: windows || 1,
  windowElements: windows ? windows * S * S : 0,
};
const times = addon.timeKernels(spec, {iterations: 1, warmup: 0, backward: true});
console.log(JSON.stringify(times));
