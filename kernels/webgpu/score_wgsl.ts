/**
 * WGSL shared by the programs that recompute scores: the dropout hash on u32
 * (docs/contract.md §5), the biases read by strides (§2), the key ranges of causal and
 * block-diagonal masks, and the flat workgroup index (tfjs spreads a long dispatch over y
 * and z), and the pieces of main the row-owning programs share. Programs declare
 * ATTENTION_UNIFORMS (geometry.ts) and the inputs named here.
 */
import {AttentionGeometry, rowsPerWorkgroup} from './geometry';

/** Readers of the ranges buffer (geometry.ts rangesTensor), made with blocks of `rowBlock` rows and `keyBlock` keys. */
function rangeOffsetsWgsl(rangesAt: string, rowBlock: number, keyBlock: number): string {
  return `
  fn rangeAt(x : i32) -> f32 { return ${rangesAt}; }
  fn rowKeyStart(i : i32) -> i32 { return i32(rangeAt(i)); }
  fn rowKeyEnd(i : i32) -> i32 { return i32(rangeAt(uniforms.dims.x + i)); }
  fn rowBlockKeys(block : i32) -> vec2<i32> {
    let rowBlocks = (uniforms.dims.x + ${rowBlock - 1}) / ${rowBlock};
    let at = 2 * uniforms.dims.x + block;
    return vec2<i32>(i32(rangeAt(at)), i32(rangeAt(at + rowBlocks)));
  }
  fn keyBlockRows(block : i32) -> vec2<i32> {
    let rowBlocks = (uniforms.dims.x + ${rowBlock - 1}) / ${rowBlock};
    let keyBlocks = (uniforms.dims.y + ${keyBlock - 1}) / ${keyBlock};
    let at = 2 * uniforms.dims.x + 2 * rowBlocks + block;
    return vec2<i32>(i32(rangeAt(at)), i32(rangeAt(at + keyBlocks)));
  }`;
}

/**
 * Helpers every score program has. `rangesAt`: element x of the ranges buffer, as WGSL (read
 * only when the call is ranged).
 */
export function scoreWgsl(g: AttentionGeometry, rangesAt: string): string {
  const {seqQ, seqK} = g.layout.shape;
  return `
  const HEAD_VECS = ${g.headVecs};
  const VALUE_VECS = ${g.valueVecs};

  fn flatWorkgroup() -> i32 {
    return i32((workgroupId.z * numWorkgroups.y + workgroupId.y) * numWorkgroups.x + workgroupId.x);
  }

  fn isNegInf(x : f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }

  fn mix32(x0 : u32) -> u32 {
    var x = x0;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    return x ^ (x >> 16u);
  }

  /** mix(mix(mix(s) ^ (b·Hq + h)) ^ i): the hash state of a query row. */
  fn dropoutRowState(batchHead : i32, i : i32) -> u32 {
    return mix32(mix32(uniforms.seedMix ^ u32(batchHead)) ^ u32(i));
  }

  /** 1 / (1 − rate) when element (row, j) is kept, else 0. */
  fn dropoutFactor(rowState : u32, j : i32) -> f32 {
    ${g.dropout ? 'return select(0.0, uniforms.keepScale, mix32(rowState ^ u32(j)) >= uniforms.dropThreshold);' :
                  'return 1.0;'}
  }

  /** Where row i of head (b, h) starts in each bias (x: the tensor bias, y: the window bias). */
  fn biasRows(b : i32, h : i32, i : i32) -> vec2<i32> {
    let bs = uniforms.biasStrides;
    let ws = uniforms.windowStrides;
    return vec2<i32>(b * bs.x + h * bs.y + i * bs.z, (b % uniforms.heads.w) * ws.x + h * ws.y + i * ws.z);
  }

  /**
   * The summed biases of key j for the row whose biasRows are \`rows\`. Where it is
   * -Infinity the key is masked and not read (docs/contract.md §7): callers test it first.
   */
  fn biasAt(rows : vec2<i32>, j : i32) -> f32 {
    var s = 0.0;
    ${g.hasBias ? 's = s + bias[rows.x + j * uniforms.biasStrides.w];' : ''}
    ${g.hasWindow ? 's = s + windowBias[rows.y + j];' : ''}
    return s;
  }

  fn isFiniteValue(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

  /** Keys [start, end) row i may see. */
  fn keyRange(i : i32) -> vec2<i32> {
    ${g.ranged ? 'return vec2<i32>(rowKeyStart(i), rowKeyEnd(i));' : 'return vec2<i32>(0, uniforms.dims.y);'}
  }

  /** Keys any row of row block \`block\` may see; query rows that may see any key of key block \`block\`. */
  fn blockKeys(block : i32) -> vec2<i32> {
    ${g.ranged ? 'return rowBlockKeys(block);' : 'return vec2<i32>(0, uniforms.dims.y);'}
  }
  fn blockRows(block : i32) -> vec2<i32> {
    ${g.ranged ? 'return keyBlockRows(block);' : 'return vec2<i32>(0, uniforms.dims.x);'}
  }
  ${g.ranged ? rangeOffsetsWgsl(rangesAt, rowsPerWorkgroup(seqQ), rowsPerWorkgroup(seqK)) : ''}

  `;
}

/**
 * fn <name>Vec(row, v) -> vec4<f32>: elements 4v … 4v + 3 of row `row` of the [rows, dim]
 * storage buffer `name`, zero past dim (the tiles and registers are padded to whole vec4s).
 */
export function vecLoaderWgsl(name: string, dim: string): string {
  return `
  fn ${name}Vec(row : i32, v : i32) -> vec4<f32> {
    let base = row * ${dim};
    let d = 4 * v;
    if (d + 3 < ${dim}) {
      return vec4<f32>(${name}[base + d], ${name}[base + d + 1], ${name}[base + d + 2], ${name}[base + d + 3]);
    }
    var x = vec4<f32>(0.0);
    for (var e = 0; e < 4; e++) {
      if (d + e < ${dim}) { x[e] = ${name}[base + d + e]; }
    }
    return x;
  }`;
}

/** The inputs every backward program reads first, in binding order (then the biases). */
export const BACKWARD_INPUTS = ['query', 'key', 'value', 'dy', 'stats'];

/** Readers of the row stats buffer (row_stats_program.ts). */
export const statsWgsl = {
  rangesAt: 'stats[2 * statsRows() + x]',
  functions: `
  fn statsRows() -> i32 { return uniforms.heads.x * uniforms.heads.y * uniforms.dims.x; }
  fn rowLogsumexp(row : i32) -> f32 { return stats[row]; }
  fn rowOutputDot(row : i32) -> f32 { return stats[statsRows() + row]; }`,
};

/** What every backward program declares first: scoreWgsl, the row stats' readers, and loaders of q, k, v and dO. */
export function backwardWgsl(g: AttentionGeometry): string {
  return `${scoreWgsl(g, statsWgsl.rangesAt)}
  ${statsWgsl.functions}
  ${vecLoaderWgsl('query', 'uniforms.dims.z')}
  ${vecLoaderWgsl('key', 'uniforms.dims.z')}
  ${vecLoaderWgsl('value', 'uniforms.dims.w')}
  ${vecLoaderWgsl('dy', 'uniforms.dims.w')}`;
}

/**
 * The start of main in the row-owning programs: lane 0 finds this workgroup's
 * workgroupBlock = (head, block of owned rows, first and end of the other side's rows it
 * may see), every lane reads it as `blk`, and a workgroup past the last head returns. The
 * owner is a query row (forward, dQ: heads are b·Hq + h) or a key (dK and dV: b·Hkv + kv head).
 */
export function workgroupBlockWgsl(owner: 'query' | 'key'): string {
  const [owned, length, blocks, seen, seenName, headCount] = owner === 'query' ?
      ['ROWS', 'dims.x', 'rowBlocks', 'blockKeys', 'keys', 'heads.x * heads.y'] :
      ['KEYS', 'dims.y', 'keyBlocks', 'blockRows', 'queries', 'heads.x * heads.z'];
  return `let lane = i32(localIndex);
    let dims = uniforms.dims;
    let heads = uniforms.heads;
    if (lane == 0) {
      let ${blocks} = (${length} + ${owned} - 1) / ${owned};
      let w = flatWorkgroup();
      let ${seenName} = ${seen}(w % ${blocks});
      workgroupBlock = vec4<i32>(w / ${blocks}, w % ${blocks}, ${seenName}.x, ${seenName}.y);
    }
    let blk = workgroupUniformLoad(&workgroupBlock);
    if (blk.x >= ${headCount}) {
      return;
    }`;
}

/** The query row a lane of a query-row program (forward, dQ) owns: its head (b, h), kv head, and row i. */
export const QUERY_ROW_WGSL = `let batchHead = blk.x;
    let b = batchHead / heads.y;
    let h = batchHead % heads.y;
    let kvHead = b * heads.z + h / (heads.y / heads.z);
    let i = blk.y * ROWS + lane;`;

/** Stages keys [j0, j0 + KEYS) of head kvHead into keyTile and valueTile, all lanes of a query-row program sharing. */
export const STAGE_KEY_VALUE_TILES_WGSL = `for (var t = lane; t < KEYS * HEAD_VECS; t += ROWS) {
        let j = min(j0 + t / HEAD_VECS, dims.y - 1);
        keyTile[t] = keyVec(kvHead * dims.y + j, t % HEAD_VECS);
      }
      for (var t = lane; t < KEYS * VALUE_VECS; t += ROWS) {
        let j = min(j0 + t / VALUE_VECS, dims.y - 1);
        valueTile[t] = valueVec(kvHead * dims.y + j, t % VALUE_VECS);
      }`;
