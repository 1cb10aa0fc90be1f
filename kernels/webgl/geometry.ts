/**
 * What every WebGL program of the attention kernels shares: the problem's sizes, how the
 * score matrix is cut into tiles, and the GLSL helpers that index it.
 *
 * Strategy (why it looks like this):
 * - A fragment shader writes one texel, so one fragment cannot own a whole query row's
 *   output; computing the output per element without scores would redo Q·Kᵀ once per
 *   output column. Instead the [B·Hq, Sq, Sk] scores are produced tile by tile: a tile is
 *   a few heads (or a slice of one head's query rows) with *all* their keys, sized from
 *   the bytes of q, k, v and the output, so no texture of B·H·Sq·Sk is ever allocated.
 *   Full rows in a tile make the softmax exact in two steps (logsumexp, then exp), with no
 *   online rescaling of partial outputs.
 * - Heavy passes use packed RGBA textures (a texel is a 2×2 block of the last two dims,
 *   as tfjs-backend-webgl's packed matMul): each fetch brings four values, and a fragment
 *   computes a 2×2 block of scores or outputs, so every pair of fetches feeds eight FMAs.
 *   Inputs are viewed as [heads, rows, dim] so a block never straddles two heads; only the
 *   rows a tile reads are packed for it (tile_inputs.ts). Four values out per fragment bound
 *   the reuse at 2×2 blocks (tfjs's matMul has the same), so the reads set the speed, and
 *   the inner loops make them cheap (block_glsl.ts): texture() at a texel center stepped by
 *   a constant (SwiftShader's texelFetch() costs more, tfjs's samplers redo index
 *   arithmetic per read), eight steps per iteration, no division in the set-up. On
 *   SwiftShader at [1,8,1024,64] the score products run about 1.5× and the products with
 *   the 64-wide v, k, q or dO about 2.3× faster than tfjs's matMul passes.
 * - Every product reads its tile along texel rows: dK and dV, which sum over query rows,
 *   read the tile transposed, [heads, Sk, rows] (P is written so; dS gets a copy pass), as
 *   down the columns of a [heads, rows, Sk] tile they ran 1.3–1.5× slower.
 * - The heavy passes write only their tile's part (output, dQ) or their kv heads' share
 *   (dK, dV), where every fragment has work; TileAssembly writes a dozen parts into the
 *   whole per pass, so the whole is copied a few times per call, not once per tile. dK and
 *   dV are summed in their passes while consecutive tiles share kv heads. Small per-row or
 *   per-bias results (logsumexp, dBias) are carried from tile to tile.
 * - Nothing is computed twice within a pass: scores once per tile (forward), P and dS once
 *   per tile (backward, which recomputes P from the saved logsumexp instead of storing it).
 * - Precision: highp float throughout (tfjs's prelude); scores are shifted by the row max
 *   before exp, and the probabilities are exp(s − logsumexp) ≤ 1. Masked keys skip the
 *   dot products entirely; key ranges from causal and block-diagonal masks bound the loops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {attentionLayout, AttentionLayout, LayoutInputs} from '../../src/kernel_layout';
import {AttentionAttrs, CausalMode} from '../../src/kernel_names';
import {mix32, dropoutThreshold} from '../../src/dropout';
import {AttentionShape} from '../../src/shapes';

/** A bias input as the shaders read it: rank 4, with the broadcast dims of size 1. */
export interface BiasView {
  shape: [number, number, number, number];
  /** Batch b reads index b % period (the window count), or b when the bias is not periodic. */
  periodic: boolean;
}

export interface AttentionGeometry {
  shape: AttentionShape;
  group: number;
  /** B·Hq query heads, B·Hkv key/value heads. */
  queryHeads: number;
  kvHeads: number;
  bias: BiasView | null;
  window: BiasView | null;
  /** Whether causal or block-diagonal masking limits key ranges (else every row sees [0, Sk)). */
  ranged: boolean;
  dropout: boolean;
  layout: AttentionLayout;
}

export function attentionGeometry(inputs: LayoutInputs, attrs: AttentionAttrs): AttentionGeometry {
  const layout = attentionLayout(inputs, attrs);
  const {shape} = layout;
  const view = (t: tf.TensorInfo | undefined, periodic: boolean): BiasView | null =>
      t == null ? null : {shape: padToRank4(t.shape), periodic};
  return {
    shape,
    group: layout.group,
    queryHeads: shape.batch * shape.headsQ,
    kvHeads: shape.batch * shape.headsKV,
    bias: view(inputs.bias, false),
    window: view(inputs.windowBias, true),
    ranged: attrs.causal !== CausalMode.None || attrs.qSeqStarts.length > 0,
    dropout: attrs.dropoutRate > 0,
    layout,
  };
}

function padToRank4(shape: number[]): [number, number, number, number] {
  const padded = [...new Array(4 - shape.length).fill(1), ...shape];
  return padded as [number, number, number, number];
}

/** The flag: a problem whose one tile needs at most this many bytes is not cut (1 MB by default). */
export const ONE_TILE_BYTES = 'WEBGL_ATTENTION_ONE_TILE_BYTES';
tf.env().registerFlag(ONE_TILE_BYTES, () => 1 << 20);

/**
 * The flag: how many times the forward's tile budget (see planTiles) the backward's tiles may
 * take (4 by default). Its extra memory stays well under the composed backward's, which holds
 * the B·H·Sq·Sk probabilities and their gradient, and fewer, larger tiles mean fewer passes,
 * input packs and assemblies (on SwiftShader, Swin's [256,3,49,32] forward+backward took 1076
 * instead of 1418 ms with its backward in one tile instead of three).
 */
export const BACKWARD_TILE_BUDGET = 'WEBGL_ATTENTION_BACKWARD_TILE_BUDGET';
tf.env().registerFlag(BACKWARD_TILE_BUDGET, () => 4);

/** A tile: query heads [headStart, headEnd) × query rows [rowStart, rowEnd), all keys. */
export interface Tile {
  headStart: number;
  headEnd: number;
  rowStart: number;
  rowEnd: number;
  /** The kv heads its query heads use: [kvStart, kvEnd). */
  kvStart: number;
  kvEnd: number;
}

export interface TilePlan {
  /** The tile texture's shape [heads, rows, Sk]; every tile uses it (one shader per pass). */
  tileShape: [number, number, number];
  /** The most kv heads a tile uses. */
  kvHeadsPerTile: number;
  tiles: Tile[];
}

const even = (n: number) => n + (n & 1);

function kvHeadOf(g: AttentionGeometry, queryHead: number): number {
  const b = Math.floor(queryHead / g.shape.headsQ);
  return b * g.shape.headsKV + Math.floor((queryHead - b * g.shape.headsQ) / g.group);
}

/** `count` items cut into near-equal runs of at most `limit` (sizes rounded by `round`), as [start, end). */
function balancedRuns(count: number, limit: number, round: (n: number) => number): [number, number][] {
  const size = round(Math.ceil(count / Math.ceil(count / limit)));
  const runs: [number, number][] = [];
  for (let start = 0; start < count; start += size) runs.push([start, Math.min(count, start + size)]);
  return runs;
}

/**
 * Cuts the score matrix into tiles: whole heads when one fits, else an even number of
 * query rows of one head. While a tile is worked on, the forward holds two tiles (scores
 * and probabilities), the tile's packed rows of q, k and v, and the output: the whole and
 * the parts waiting for it, a quarter of it at most (TileAssembly). So the tiles and their
 * packed rows share what is left of the values of q, k, v and the output once 1.25 outputs
 * are counted, and the forward's extra memory stays within the bytes of q, k, v and the
 * output. (When parts are written in, no tile is held: two outputs and the packed rows.) A
 * tile holds at least one row pair, and fits a texture of WEBGL_MAX_TEXTURE_SIZE².
 * A problem whose single tile costs at most WEBGL_ATTENTION_ONE_TILE_BYTES is one tile:
 * at such sizes each pass's fixed cost, not memory, sets the time. `budget` scales the
 * share the tiles may take (the backward's, BACKWARD_TILE_BUDGET).
 */
export function planTiles(g: AttentionGeometry, budget = 1): TilePlan {
  const {seqQ, seqK, headDim, valueDim} = g.shape;
  const outputValues = g.queryHeads * seqQ * valueDim;
  const keySideValues = seqK * (headDim + valueDim);
  const ioValues = g.queryHeads * seqQ * headDim + g.kvHeads * keySideValues + outputValues;
  const maxTexture = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  const rowValues = even(seqK);
  const headValues = even(seqQ) * rowValues;
  const maxTileValues = maxTexture * maxTexture;
  // What one head of a tile costs with its packed rows (its kv head's shared by the group).
  const headCost = 2 * headValues + seqQ * headDim + keySideValues / g.group;
  const oneTileCost = g.queryHeads * headCost;
  // An output much larger than q, k, v (large Dv) leaves little: an eighth of the values is
  // then the floor, so tiles never shrink to a few rows.
  const share = oneTileCost <= tf.env().getNumber(ONE_TILE_BYTES) / 4 ?
      oneTileCost :
      budget * Math.max(ioValues - 1.25 * outputValues, ioValues / 8);
  const headsPerTile = Math.min(Math.floor(share / headCost), Math.floor(maxTileValues / headValues));
  // Or one query row of a head, once the head's k and v rows are packed.
  const rowsPerTile = Math.min(
      Math.floor((share - keySideValues) / (2 * rowValues + headDim)), Math.floor(maxTileValues / rowValues));
  const tiles: Tile[] = [];
  const addTile = (headStart: number, headEnd: number, rowStart: number, rowEnd: number) => tiles.push({
    headStart, headEnd, rowStart, rowEnd, kvStart: kvHeadOf(g, headStart), kvEnd: kvHeadOf(g, headEnd - 1) + 1,
  });
  let tileShape: [number, number, number];
  if (headsPerTile >= 1) {
    const runs = balancedRuns(g.queryHeads, headsPerTile, n => n);
    runs.forEach(([start, end]) => addTile(start, end, 0, seqQ));
    tileShape = [runs[0][1] - runs[0][0], seqQ, seqK];
  } else {
    const runs = balancedRuns(seqQ, Math.max(2, rowsPerTile & ~1), even);
    for (let h = 0; h < g.queryHeads; h++) runs.forEach(([start, end]) => addTile(h, h + 1, start, end));
    tileShape = [1, runs[0][1] - runs[0][0], seqK];
  }
  const kvHeadsPerTile = Math.max(...tiles.map(t => t.kvEnd - t.kvStart));
  return {tileShape, kvHeadsPerTile, tiles};
}

/** The `tile` uniform's value. */
export function tileUniform(t: Tile): number[] {
  return [t.headStart, t.headEnd, t.rowStart, t.rowEnd];
}

/** The dropout uniforms: mix(seed) and the threshold as 16-bit halves, and 1 / (1 − rate). */
export function dropoutUniforms(attrs: AttentionAttrs): number[][] {
  const seedMix = mix32(attrs.dropoutSeed >>> 0);
  const threshold = dropoutThreshold(attrs.dropoutRate);
  return [
    [seedMix >>> 16, seedMix & 0xffff, Math.floor(threshold / 65536), threshold % 65536],
    [1 / (1 - attrs.dropoutRate)],
  ];
}

export const TILE_UNIFORM = {name: 'tile', type: 'ivec4' as const};
/**
 * Where the tile's inputs start: (query head, query row) of its query-side input and kv
 * head of its key-side input, subtracted from global indices (0 for a whole input).
 */
export const ORIGIN_UNIFORM = {name: 'origin', type: 'ivec3' as const};
export const DROPOUT_UNIFORMS = [
  {name: 'dropoutBits', type: 'ivec4' as const},
  {name: 'keepScale', type: 'float' as const},
];

/**
 * Per query row, its unmasked key range [start, end), and per key its query range, as
 * [n, 2] tensors (exact in float32 below 2^24). Only made when masking limits the ranges.
 */
export function rangeTensors(backend: MathBackendWebGL, g: AttentionGeometry):
    {keyRange: tf.TensorInfo, queryRange: tf.TensorInfo} {
  const {keyStart, keyEnd} = g.layout;
  const {seqQ, seqK} = g.shape;
  const keys = new Float32Array(2 * seqQ);
  for (let i = 0; i < seqQ; i++) {
    keys[2 * i] = keyStart[i];
    keys[2 * i + 1] = keyEnd[i];
  }
  // keyStart and keyEnd never decrease with i, so the rows that see key j are the
  // contiguous run from the first row whose range ends after j to the last that starts
  // at or before it.
  const queries = new Float32Array(2 * seqK);
  let first = 0, last = 0;
  for (let j = 0; j < seqK; j++) {
    while (first < seqQ && keyEnd[first] <= j) first++;
    while (last < seqQ && keyStart[last] <= j) last++;
    queries[2 * j] = first;
    queries[2 * j + 1] = Math.max(first, last);
  }
  return {
    keyRange: backend.makeTensorInfo([seqQ, 2], 'float32', keys),
    queryRange: backend.makeTensorInfo([seqK, 2], 'float32', queries),
  };
}

/**
 * GLSL shared by the programs: sizes as constants, the kv head of a query head, the
 * picking of one value out of a packed texel, and the key/query ranges of a row pair.
 */
export function geometryGlsl(g: AttentionGeometry): string {
  const {headsQ, headsKV, seqQ, seqK, headDim, valueDim} = g.shape;
  return `
    const int HEADS_Q = ${headsQ};
    const int HEADS_KV = ${headsKV};
    const int GROUP = ${g.group};
    const int SEQ_Q = ${seqQ};
    const int SEQ_K = ${seqK};
    const int HEAD_DIM = ${headDim};
    const int VALUE_DIM = ${valueDim};
    #define NEG_INF uintBitsToFloat(0xff800000u)

    int kvHead(int queryHead) {
      int b = queryHead / HEADS_Q;
      return b * HEADS_KV + (queryHead - b * HEADS_Q) / GROUP;
    }

    // A packed texel holds (r, c), (r, c+1), (r+1, c), (r+1, c+1) of a 2×2 block.
    float pick(vec4 texel, int row, int col) {
      vec2 pair = (row & 1) == 0 ? texel.xy : texel.zw;
      return (col & 1) == 0 ? pair.x : pair.y;
    }
    vec2 pickRow(vec4 texel, int row) {
      return (row & 1) == 0 ? texel.xy : texel.zw;
    }
  `;
}

/** GLSL: `ivec4 keyRanges(int i)` for an even row i → (start_i, end_i, start_i+1, end_i+1). */
export function keyRangeGlsl(g: AttentionGeometry): string {
  return rangeGlsl('keyRanges', 'keyRange', g.ranged, 'SEQ_K');
}

/** GLSL: `ivec4 queryRanges(int j)` for an even key j → the query ranges of keys j and j+1. */
export function queryRangeGlsl(g: AttentionGeometry): string {
  return rangeGlsl('queryRanges', 'queryRange', g.ranged, 'SEQ_Q');
}

function rangeGlsl(fn: string, input: string, ranged: boolean, full: string): string {
  const getter = `get${input[0].toUpperCase()}${input.slice(1)}`;
  return ranged ? `
    ivec4 ${fn}(int x) { return ivec4(${getter}(x, 0) + 0.5); }` : `
    ivec4 ${fn}(int x) { return ivec4(0, ${full}, 0, ${full}); }`;
}

/** The contract's dropout hash in GLSL ES 3.0 uint arithmetic (multiplies wrap mod 2^32). */
export const DROPOUT_GLSL = `
  uint mix32(uint x) {
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
  }
  uint dropoutRowState(int queryHead, int row) {
    uint seedMix = (uint(dropoutBits.x) << 16u) | uint(dropoutBits.y);
    return mix32(mix32(seedMix ^ uint(queryHead)) ^ uint(row));
  }
  // 1 / (1 − rate) for kept elements, 0 for dropped ones.
  float dropoutFactor(uint rowState, int col) {
    uint threshold = (uint(dropoutBits.z) << 16u) | uint(dropoutBits.w);
    return mix32(rowState ^ uint(col)) >= threshold ? keepScale : 0.0;
  }
  // The factors of a 2×2 block of rows (i, i+1) and keys (j, j+1).
  vec4 dropoutBlock(int queryHead, int i, int j) {
    uint top = dropoutRowState(queryHead, i);
    uint bottom = dropoutRowState(queryHead, i + 1);
    return vec4(dropoutFactor(top, j), dropoutFactor(top, j + 1),
                dropoutFactor(bottom, j), dropoutFactor(bottom, j + 1));
  }
`;

