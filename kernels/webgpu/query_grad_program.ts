/**
 * dQ (FlashAttention-2's query-side pass): an invocation owns a query row, keeps q, dO, its
 * logsumexp and rowsum(dO ⊙ O) in registers and walks the staged key and value tiles:
 * P = exp(S − logsumexp), dS = P ⊙ (dP ⊙ dropout − rowsum(dO ⊙ O)), dQ = scale · dS K.
 */
import {AttentionGeometry, biasVariableNames} from './geometry';
import {
  BACKWARD_INPUTS, backwardWgsl, QUERY_ROW_WGSL, STAGE_KEY_VALUE_TILES_WGSL, workgroupBlockWgsl,
} from './score_wgsl';
import {TiledAttentionProgram} from './tiled_program';

export class QueryGradProgram extends TiledAttentionProgram {
  constructor(g: AttentionGeometry) {
    const {batch, headsQ, seqQ, headDim} = g.layout.shape;
    super(g, {
      name: 'attentionQueryGrad',
      heads: batch * headsQ,
      ownedRows: seqQ,
      variableNames: [...BACKWARD_INPUTS, ...biasVariableNames(g)],
      outputShape: [batch, headsQ, seqQ, headDim],
    });
  }

  getUserCode(): string {
    const rows = this.owned, keys = this.staged;
    return `
  ${backwardWgsl(this.g)}
  const ROWS = ${rows};
  const KEYS = ${keys};
  var<workgroup> keyTile : array<vec4<f32>, ${keys * this.g.headVecs}>;
  var<workgroup> valueTile : array<vec4<f32>, ${keys * this.g.valueVecs}>;
  var<workgroup> workgroupBlock : vec4<i32>;

  fn main(index : i32) {
    ${workgroupBlockWgsl('query')}
    ${QUERY_ROW_WGSL}
    let ic = min(i, dims.x - 1);
    let row = batchHead * dims.x + ic;
    var q : array<vec4<f32>, HEAD_VECS>;
    for (var v = 0; v < HEAD_VECS; v++) {
      q[v] = queryVec(row, v);
    }
    var gradOut : array<vec4<f32>, VALUE_VECS>;
    for (var v = 0; v < VALUE_VECS; v++) {
      gradOut[v] = dyVec(row, v);
    }
    let lse = rowLogsumexp(row);
    let rowDot = rowOutputDot(row);
    var keys = keyRange(ic);
    // A fully masked row (logsumexp +Infinity) has P = 0 and passes no gradient.
    if (i >= dims.x || lse == uniforms.INFINITY) {
      keys = vec2<i32>(0, 0);
    }
    let biasRow = biasRows(b, h, ic);
    let rowState = dropoutRowState(batchHead, i);
    var dq : array<vec4<f32>, HEAD_VECS>;
    for (var j0 = blk.z; j0 < blk.w; j0 += KEYS) {
      workgroupBarrier();
      ${STAGE_KEY_VALUE_TILES_WGSL}
      workgroupBarrier();
      for (var c = 0; c < KEYS; c++) {
        let j = j0 + c;
        let biasValue = biasAt(biasRow, min(j, dims.y - 1));
        if (j >= keys.x && j < keys.y && !isNegInf(biasValue)) {
          var d = 0.0;
          for (var v = 0; v < HEAD_VECS; v++) {
            d += dot(q[v], keyTile[c * HEAD_VECS + v]);
          }
          let p = exp(d * uniforms.scale + biasValue - lse);
          var dp = 0.0;
          for (var v = 0; v < VALUE_VECS; v++) {
            dp += dot(gradOut[v], valueTile[c * VALUE_VECS + v]);
          }
          let ds = p * (dp * dropoutFactor(rowState, j) - rowDot);
          for (var v = 0; v < HEAD_VECS; v++) {
            dq[v] += ds * keyTile[c * HEAD_VECS + v];
          }
        }
      }
    }
    if (i < dims.x) {
      let out = row * dims.z;
      for (var e = 0; e < dims.z; e++) {
        result[out + e] = dq[e / 4][e % 4] * uniforms.scale;
      }
    }
  }`;
  }
}
