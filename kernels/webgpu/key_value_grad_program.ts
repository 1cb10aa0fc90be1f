/**
 * dK and dV (FlashAttention-2's key-side pass): an invocation owns a key of a key/value
 * head, keeps k, v and their accumulators in registers and walks the staged tiles of query
 * rows and dO of every query head of its group (GQA sums over the group here):
 * dV += P'ᵀ dO, dK += scale · dSᵀ Q. Writes [B·Hkv·Sk, D + Dv]: dK, then dV, per key.
 */
import {AttentionGeometry, biasVariableNames} from './geometry';
import {BACKWARD_INPUTS, backwardWgsl, workgroupBlockWgsl} from './score_wgsl';
import {TiledAttentionProgram} from './tiled_program';

export class KeyValueGradProgram extends TiledAttentionProgram {
  constructor(g: AttentionGeometry) {
    const {batch, headsKV, seqK, headDim, valueDim} = g.layout.shape;
    super(g, {
      name: 'attentionKeyValueGrad',
      heads: batch * headsKV,
      ownedRows: seqK,
      variableNames: [...BACKWARD_INPUTS, ...biasVariableNames(g)],
      outputShape: [batch * headsKV * seqK, headDim + valueDim],
    });
  }

  getUserCode(): string {
    const keys = this.owned, rows = this.staged;
    return `
  ${backwardWgsl(this.g)}
  const KEYS = ${keys};
  const ROWS = ${rows};
  var<workgroup> queryTile : array<vec4<f32>, ${rows * this.g.headVecs}>;
  var<workgroup> dyTile : array<vec4<f32>, ${rows * this.g.valueVecs}>;
  // Per staged row: (logsumexp, rowsum(dO ⊙ O), first key, end of keys); +Infinity marks a row without keys.
  var<workgroup> rowStats : array<vec4<f32>, ROWS>;
  var<workgroup> rowBiases : array<vec2<i32>, ROWS>;
  var<workgroup> rowStates : array<u32, ROWS>;
  // (b·Hkv + kv head, key block, first query row, end of query rows) of this workgroup.
  var<workgroup> workgroupBlock : vec4<i32>;

  fn main(index : i32) {
    ${workgroupBlockWgsl('key')}
    let kvHead = blk.x;
    let b = kvHead / heads.z;
    let group = heads.y / heads.z;
    let j = blk.y * KEYS + lane;
    let live = j < dims.y;
    let keyRow = kvHead * dims.y + min(j, dims.y - 1);
    var k : array<vec4<f32>, HEAD_VECS>;
    for (var v = 0; v < HEAD_VECS; v++) {
      k[v] = keyVec(keyRow, v);
    }
    var val : array<vec4<f32>, VALUE_VECS>;
    for (var v = 0; v < VALUE_VECS; v++) {
      val[v] = valueVec(keyRow, v);
    }
    var dk : array<vec4<f32>, HEAD_VECS>;
    var dv : array<vec4<f32>, VALUE_VECS>;
    for (var member = 0; member < group; member++) {
      let h = (kvHead % heads.z) * group + member;
      let batchHead = b * heads.y + h;
      for (var i0 = blk.z; i0 < blk.w; i0 += ROWS) {
        workgroupBarrier();
        for (var t = lane; t < ROWS * HEAD_VECS; t += KEYS) {
          let i = min(i0 + t / HEAD_VECS, dims.x - 1);
          queryTile[t] = queryVec(batchHead * dims.x + i, t % HEAD_VECS);
        }
        for (var t = lane; t < ROWS * VALUE_VECS; t += KEYS) {
          let i = min(i0 + t / VALUE_VECS, dims.x - 1);
          dyTile[t] = dyVec(batchHead * dims.x + i, t % VALUE_VECS);
        }
        for (var r = lane; r < ROWS; r += KEYS) {
          let i = i0 + r;
          let ic = min(i, dims.x - 1);
          let row = batchHead * dims.x + ic;
          let keys = keyRange(ic);
          let lse = select(uniforms.INFINITY, rowLogsumexp(row), i < blk.w);
          rowStats[r] = vec4<f32>(lse, rowOutputDot(row), f32(keys.x), f32(keys.y));
          rowBiases[r] = biasRows(b, h, ic);
          rowStates[r] = dropoutRowState(batchHead, i);
        }
        workgroupBarrier();
        for (var r = 0; r < ROWS; r++) {
          let stats = rowStats[r];
          if (!live || stats.x == uniforms.INFINITY || f32(j) < stats.z || f32(j) >= stats.w) {
            continue;
          }
          let biasValue = biasAt(rowBiases[r], j);
          if (isNegInf(biasValue)) {
            continue;
          }
          var d = 0.0;
          for (var v = 0; v < HEAD_VECS; v++) {
            d += dot(queryTile[r * HEAD_VECS + v], k[v]);
          }
          let s = d * uniforms.scale + biasValue;
          let p = exp(s - stats.x);
          let keep = dropoutFactor(rowStates[r], j);
          var dp = 0.0;
          for (var v = 0; v < VALUE_VECS; v++) {
            let g = dyTile[r * VALUE_VECS + v];
            dv[v] += (p * keep) * g;
            dp += dot(g, val[v]);
          }
          let ds = p * (dp * keep - stats.y);
          for (var v = 0; v < HEAD_VECS; v++) {
            dk[v] += ds * queryTile[r * HEAD_VECS + v];
          }
        }
      }
    }
    if (live) {
      let width = dims.z + dims.w;
      let out = keyRow * width;
      for (var e = 0; e < dims.z; e++) {
        result[out + e] = dk[e / 4][e % 4] * uniforms.scale;
      }
      for (var e = 0; e < dims.w; e++) {
        result[out + dims.z + e] = dv[e / 4][e % 4];
      }
    }
  }`;
  }
}
