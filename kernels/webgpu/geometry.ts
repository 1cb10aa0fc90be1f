/**
 * What every WebGPU program of the attention kernels shares: the problem's sizes, the
 * shader constants (tile sizes, which inputs exist), the uniforms that read the biases by
 * strides (docs/contract.md §2) and the dropout hash's parameters (§5), and the per-row key
 * ranges of causal and block-diagonal masks.
 *
 * Strategy: one invocation owns one query row (forward, dQ) or one key row (dK and dV) and
 * keeps that row, its accumulators and the softmax statistics in registers; the workgroup
 * stages tiles of the other side (keys and values, or queries and dO) in workgroup memory,
 * so every tile read from the storage buffers serves the whole workgroup. The forward runs
 * an online softmax over key tiles (FlashAttention); the backward recomputes
 * P = exp(S − logsumexp) from the saved logsumexp, so nothing of size Sq × Sk is stored.
 * WGSL has no float atomics, so dQ and dK/dV are separate passes (FlashAttention-2's
 * two-kernel backward), and bias gradients are reduced per bias element.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import type {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {mix32, dropoutThreshold} from '../../src/dropout';
import {attentionLayout, AttentionLayout, LayoutInputs} from '../../src/kernel_layout';
import {AttentionAttrs, CausalMode} from '../../src/kernel_names';

/** Invocations of the row-owning programs: rows (or keys) per workgroup, at most. */
export const MAX_ROWS_PER_WORKGROUP = 64;
/** Rows of the staged tile, at most: more amortize the barriers, fewer leave room for wide heads. */
export const MAX_TILE_ROWS = 32;
/** Workgroup memory a staged tile may take: WebGPU's default limit, 16 KiB (32 rows at head dims 64). */
export const TILE_BYTES = 16384;
/** Workgroups of the element-wise programs. */
export const ELEMENTWISE_WORKGROUP = 64;

/** The dispatch of an element-wise program: one invocation per element of `shape`. */
export function elementwiseDispatch(shape: number[]): [number, number, number] {
  return [Math.ceil(shape.reduce((a, b) => a * b, 1) / ELEMENTWISE_WORKGROUP), 1, 1];
}

export interface AttentionGeometry {
  layout: AttentionLayout;
  /** vec4s per head-dim and value-dim row (zero-padded past the dims). */
  headVecs: number;
  valueVecs: number;
  hasBias: boolean;
  hasWindow: boolean;
  /** Whether causal or block-diagonal masking limits key ranges (else every row sees [0, Sk)). */
  ranged: boolean;
  dropout: boolean;
  attrs: AttentionAttrs;
}

export function attentionGeometry(inputs: LayoutInputs, attrs: AttentionAttrs): AttentionGeometry {
  const layout = attentionLayout(inputs, attrs);
  return {
    layout,
    headVecs: Math.ceil(layout.shape.headDim / 4),
    valueVecs: Math.ceil(layout.shape.valueDim / 4),
    hasBias: inputs.bias != null,
    hasWindow: inputs.windowBias != null,
    ranged: attrs.causal !== CausalMode.None || attrs.qSeqStarts.length > 0,
    dropout: attrs.dropoutRate > 0,
    attrs,
  };
}

/** Invocations per workgroup of a program whose invocations own `rows` rows each head. */
export function rowsPerWorkgroup(rows: number): number {
  return Math.min(MAX_ROWS_PER_WORKGROUP, Math.max(4, 4 * Math.ceil(rows / 4)));
}

/** Rows of a staged tile whose rows hold `vecs` vec4s in all. */
export function tileRows(vecs: number): number {
  return Math.max(1, Math.min(MAX_TILE_ROWS, Math.floor(TILE_BYTES / (16 * vecs))));
}

/** A key that names the shader variant: everything score_wgsl.ts bakes into the WGSL. */
export function variantKey(g: AttentionGeometry): string {
  const {seqQ, seqK} = g.layout.shape;
  const flags = [g.hasBias, g.hasWindow, g.ranged, g.dropout].map(Number);
  return [g.headVecs, g.valueVecs, ...flags, rowsPerWorkgroup(seqQ), rowsPerWorkgroup(seqK)].join('_');
}

/** The storage buffers a score program reads besides its own, in binding order. */
export function biasInputs(g: AttentionGeometry, inputs: {bias?: TensorInfo, windowBias?: TensorInfo}): TensorInfo[] {
  return [...(g.hasBias ? [inputs.bias!] : []), ...(g.hasWindow ? [inputs.windowBias!] : [])];
}

export function biasVariableNames(g: AttentionGeometry): string[] {
  return [...(g.hasBias ? ['bias'] : []), ...(g.hasWindow ? ['windowBias'] : [])];
}

/** Declarations of the uniforms `attentionUniforms` fills, in the same order. */
export const ATTENTION_UNIFORMS = `scale : f32, keepScale : f32, seedMix : u32, dropThreshold : u32,
    biasStrides : vec4<i32>, windowStrides : vec4<i32>, heads : vec4<i32>, dims : vec4<i32>,`;

type Uniform = {type: string, data: number[]};

/**
 * heads = (batch, headsQ, headsKV, numWindows); dims = (seqQ, seqK, headDim, valueDim).
 * The seed enters pre-mixed: mix(s) is the same for every element (docs/contract.md §5).
 */
export function attentionUniforms(g: AttentionGeometry): Uniform[] {
  const {shape, biasStrides, windowStrides, numWindows} = g.layout;
  const {attrs} = g;
  return [
    {type: 'float32', data: [attrs.scale]},
    {type: 'float32', data: [g.dropout ? 1 / (1 - attrs.dropoutRate) : 1]},
    {type: 'uint32', data: [mix32(attrs.dropoutSeed >>> 0)]},
    {type: 'uint32', data: [g.dropout ? dropoutThreshold(attrs.dropoutRate) : 0]},
    {type: 'int32', data: biasStrides ?? [0, 0, 0, 0]},
    {type: 'int32', data: windowStrides ?? [0, 0, 0, 0]},
    {type: 'int32', data: [shape.batch, shape.headsQ, shape.headsKV, numWindows]},
    {type: 'int32', data: [shape.seqQ, shape.seqK, shape.headDim, shape.valueDim]},
  ];
}

/**
 * The ranges buffer of a ranged call, as float32 (exact: the declaration keeps sequences
 * below 2^24): per query row its key range [keyStart, keyEnd), then per workgroup of query
 * rows the keys any of them sees, then per workgroup of keys the query rows that see any of
 * them (workgroups of rowsPerWorkgroup(seqQ) rows and rowsPerWorkgroup(seqK) keys). The
 * WGSL that reads it: score_wgsl.ts.
 */
export function rangesTensor(backend: WebGPUBackend, g: AttentionGeometry): TensorInfo {
  const {keyStart, keyEnd, shape: {seqQ, seqK}} = g.layout;
  const rowBlock = rowsPerWorkgroup(seqQ), keyBlock = rowsPerWorkgroup(seqK);
  const rowBlocks = Math.ceil(seqQ / rowBlock), keyBlocks = Math.ceil(seqK / keyBlock);
  const values = new Float32Array(2 * seqQ + 2 * rowBlocks + 2 * keyBlocks);
  values.set(keyStart, 0);
  values.set(keyEnd, seqQ);
  const rowLo = 2 * seqQ, rowHi = rowLo + rowBlocks, keyLo = rowHi + rowBlocks, keyHi = keyLo + keyBlocks;
  values.fill(seqK, rowLo, rowHi);
  values.fill(seqQ, keyLo, keyHi);
  for (let i = 0; i < seqQ; i++) {
    if (keyEnd[i] <= keyStart[i]) continue;
    const r = Math.floor(i / rowBlock);
    values[rowLo + r] = Math.min(values[rowLo + r], keyStart[i]);
    values[rowHi + r] = Math.max(values[rowHi + r], keyEnd[i]);
    for (let kb = Math.floor(keyStart[i] / keyBlock); kb * keyBlock < keyEnd[i]; kb++) {
      values[keyLo + kb] = Math.min(values[keyLo + kb], i);
      values[keyHi + kb] = Math.max(values[keyHi + kb], i + 1);
    }
  }
  // Blocks that see nothing get the empty range [0, 0).
  for (let r = 0; r < rowBlocks; r++) if (values[rowHi + r] === 0) values[rowLo + r] = 0;
  for (let kb = 0; kb < keyBlocks; kb++) if (values[keyHi + kb] === 0) values[keyLo + kb] = 0;
  return backend.makeTensorInfo([values.length], 'float32', values);
}

/**
 * The most workgroup memory any program of a call declares: its staged tile of
 * tileRows(vecs) rows of `vecs` vec4s, plus, in KeyValueGradProgram, 28 bytes of row
 * statistics per row and the 16-byte block vector.
 */
export function largestWorkgroupBytes(headDim: number, valueDim: number): number {
  const vecs = Math.ceil(headDim / 4) + Math.ceil(valueDim / 4);
  const rows = tileRows(vecs);
  return rows * vecs * 16 + rows * 28 + 16;
}
