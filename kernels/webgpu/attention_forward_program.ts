/**
 * The forward pass in one program (FlashAttention): an invocation owns a query row, keeps
 * q, the output accumulator and the running max and sum in registers, and walks the key
 * tiles its workgroup stages in workgroup memory, rescaling once per tile (online
 * softmax). Writes [rows, Dv + 1]: each row's output, then its logsumexp (+Infinity on a
 * fully masked row, docs/contract.md §3); the kernel splits them.
 */
import {AttentionGeometry, biasVariableNames} from './geometry';
import {
  QUERY_ROW_WGSL, scoreWgsl, STAGE_KEY_VALUE_TILES_WGSL, vecLoaderWgsl, workgroupBlockWgsl,
} from './score_wgsl';
import {TiledAttentionProgram} from './tiled_program';

export class AttentionForwardProgram extends TiledAttentionProgram {
  constructor(g: AttentionGeometry) {
    const {batch, headsQ, seqQ, valueDim} = g.layout.shape;
    super(g, {
      name: 'attentionForward',
      heads: batch * headsQ,
      ownedRows: seqQ,
      variableNames: ['query', 'key', 'value', ...biasVariableNames(g), ...(g.ranged ? ['ranges'] : [])],
      outputShape: [batch * headsQ * seqQ, valueDim + 1],
    });
  }

  getUserCode(): string {
    const rows = this.owned, keys = this.staged;
    return `
  ${scoreWgsl(this.g, 'ranges[x]')}
  ${vecLoaderWgsl('query', 'uniforms.dims.z')}
  ${vecLoaderWgsl('key', 'uniforms.dims.z')}
  ${vecLoaderWgsl('value', 'uniforms.dims.w')}
  const ROWS = ${rows};
  const KEYS = ${keys};
  var<workgroup> keyTile : array<vec4<f32>, ${keys * this.g.headVecs}>;
  var<workgroup> valueTile : array<vec4<f32>, ${keys * this.g.valueVecs}>;
  // (batch·Hq + h, row block, first key, end of keys) of this workgroup.
  var<workgroup> workgroupBlock : vec4<i32>;

  fn main(index : i32) {
    ${workgroupBlockWgsl('query')}
    ${QUERY_ROW_WGSL}
    let live = i < dims.x;
    let ic = min(i, dims.x - 1);
    let row = batchHead * dims.x + ic;
    var q : array<vec4<f32>, HEAD_VECS>;
    for (var v = 0; v < HEAD_VECS; v++) {
      q[v] = queryVec(row, v);
    }
    var keys = keyRange(ic);
    if (!live) {
      keys = vec2<i32>(0, 0);
    }
    let biasRow = biasRows(b, h, ic);
    let rowState = dropoutRowState(batchHead, i);
    var acc : array<vec4<f32>, VALUE_VECS>;
    var scores : array<f32, KEYS>;
    var runningMax = 0.0;
    var runningSum = 0.0;
    var seen = false;
    var poisoned = false;
    for (var j0 = blk.z; j0 < blk.w; j0 += KEYS) {
      workgroupBarrier();
      ${STAGE_KEY_VALUE_TILES_WGSL}
      workgroupBarrier();
      var tileMax = 0.0;
      var anyKey = false;
      for (var c = 0; c < KEYS; c++) {
        let j = j0 + c;
        var s = -uniforms.INFINITY;
        let biasValue = biasAt(biasRow, min(j, dims.y - 1));
        if (j >= keys.x && j < keys.y && !isNegInf(biasValue)) {
          var d = 0.0;
          for (var v = 0; v < HEAD_VECS; v++) {
            d += dot(q[v], keyTile[c * HEAD_VECS + v]);
          }
          s = d * uniforms.scale + biasValue;
          // A non-finite score of a key the row reads makes the row NaN (docs/contract.md §7).
          if (!isFiniteValue(s)) {
            poisoned = true;
            s = -uniforms.INFINITY;
          }
        }
        scores[c] = s;
        if (!isNegInf(s)) {
          tileMax = select(s, max(tileMax, s), anyKey);
          anyKey = true;
        }
      }
      if (anyKey) {
        let newMax = select(tileMax, max(runningMax, tileMax), seen);
        let rescale = select(0.0, exp(runningMax - newMax), seen);
        runningSum *= rescale;
        for (var v = 0; v < VALUE_VECS; v++) {
          acc[v] *= rescale;
        }
        runningMax = newMax;
        seen = true;
        for (var c = 0; c < KEYS; c++) {
          if (!isNegInf(scores[c])) {
            let p = exp(scores[c] - runningMax);
            runningSum += p;
            let kept = p * dropoutFactor(rowState, j0 + c);
            for (var v = 0; v < VALUE_VECS; v++) {
              acc[v] += kept * valueTile[c * VALUE_VECS + v];
            }
          }
        }
      }
    }
    if (live) {
      let inverse = select(0.0, 1.0 / runningSum, seen);
      let out = row * (dims.w + 1);
      for (var e = 0; e < dims.w; e++) {
        result[out + e] = select(acc[e / 4][e % 4] * inverse, uniforms.NAN, poisoned);
      }
      let lse = select(uniforms.INFINITY, runningMax + log(runningSum), seen);
      result[out + dims.w] = select(lse, uniforms.NAN, poisoned);
    }
  }`;
  }
}
