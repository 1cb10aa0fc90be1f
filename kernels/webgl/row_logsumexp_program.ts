/**
 * The logsumexp of each query row of a score tile, max-shifted for stability; +Infinity
 * on a fully masked row. Rows outside the tile keep the previous tile's values. Packed,
 * as the passes that read it are (else tfjs packs it again for each of them): a fragment
 * does two heads' row pairs, each pair in one sweep, since a score texel holds both rows.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {AttentionGeometry, geometryGlsl, keyRangeGlsl, TILE_UNIFORM} from './geometry';

export class RowLogsumexpProgram implements GPGPUProgram {
  variableNames = ['scores'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM];

  /** Inputs: the score tile, then keyRange where present, then the previous logsumexp unless first. */
  constructor(g: AttentionGeometry, hasPrevious: boolean) {
    this.outputShape = [g.queryHeads, g.shape.seqQ];
    if (g.ranged) this.variableNames.push('keyRange');
    if (hasPrevious) this.variableNames.push('previous');
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      // Rows (i, i+1) of tile row t (both even), over the keys either sees, with a running
      // max m and sum of exp(s − m) rescaled as the max grows; +Infinity when all are masked.
      vec2 rowPairLogsumexp(int n, int t, int i) {
        ivec4 ranges = keyRanges(i);
        int start = min(ranges.x, ranges.z);
        int end = max(ranges.y, ranges.w);
        vec2 m = vec2(NEG_INF);
        vec2 total = vec2(0.0);
        for (int j = start - (start & 1); j < end; j += 2) {
          vec4 s = getScores(n, t, j);
          vec2 next = max(m, max(s.xz, s.yw));
          // While a row has seen only masked keys, shift by 0 so that exp gives 0, not NaN.
          vec2 shift = mix(next, vec2(0.0), equal(next, vec2(NEG_INF)));
          if (any(greaterThan(next, m))) {
            total *= exp(m - shift);
            m = next;
          }
          total += exp(s.xz - shift) + exp(s.yw - shift);
        }
        return mix(m + log(total), vec2(uintBitsToFloat(0x7f800000u)), equal(m, vec2(NEG_INF)));
      }
      void main() {
        ivec2 coords = getOutputCoords();
        int i = coords.y;
        vec4 result = ${hasPrevious ? 'getPrevious(coords.x, i)' : 'vec4(0.0)'};
        bool inRows = i >= tile.z && i < tile.w;
        for (int dh = 0; dh < 2; dh++) {
          int queryHead = coords.x + dh;
          if (inRows && queryHead >= tile.x && queryHead < tile.y) {
            vec2 pair = rowPairLogsumexp(queryHead - tile.x, i - tile.z, i);
            if (i + 1 >= SEQ_Q) pair.y = 0.0;
            if (dh == 0) result.xy = pair; else result.zw = pair;
          }
        }
        setOutput(result);
      }
    `;
  }
}
