/**
 * The logsumexp of each query row of a score tile, max-shifted for stability; +Infinity
 * on a fully masked row. Rows outside the tile keep the previous tile's values.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {AttentionGeometry, geometryGlsl, keyRangeGlsl, TILE_UNIFORM} from './geometry';

export class RowLogsumexpProgram implements GPGPUProgram {
  variableNames = ['scores'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  customUniforms = [TILE_UNIFORM];

  /** Inputs: the score tile, then keyRange where present, then the previous logsumexp unless first. */
  constructor(g: AttentionGeometry, hasPrevious: boolean) {
    this.outputShape = [g.queryHeads, g.shape.seqQ];
    if (g.ranged) this.variableNames.push('keyRange');
    if (hasPrevious) this.variableNames.push('previous');
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      // One pass over the row with a running max m and sum of exp(s − m), rescaled when
      // the max grows; +Infinity when every key is masked.
      float rowLogsumexp(int n, int t, int i) {
        int pairRow = t - (t & 1);
        ivec4 ranges = keyRanges(i - (i & 1));
        ivec2 range = (i & 1) == 0 ? ranges.xy : ranges.zw;
        float m = NEG_INF;
        float total = 0.0;
        for (int j = range.x - (range.x & 1); j < range.y; j += 2) {
          vec2 s = pickRow(getScores(n, pairRow, j), t);
          float next = max(m, max(s.x, s.y));
          if (next == NEG_INF) continue;
          if (next > m) {
            total *= exp(m - next);
            m = next;
          }
          total += exp(s.x - m) + exp(s.y - m);
        }
        return m == NEG_INF ? uintBitsToFloat(0x7f800000u) : m + log(total);
      }
      void main() {
        ivec2 coords = getOutputCoords();
        int queryHead = coords.x;
        int i = coords.y;
        if (queryHead >= tile.x && queryHead < tile.y && i >= tile.z && i < tile.w) {
          setOutput(rowLogsumexp(queryHead - tile.x, i - tile.z, i));
        } else {
          setOutput(${hasPrevious ? 'pick(getPrevious(queryHead, i), queryHead, i)' : '0.0'});
        }
      }
    `;
  }
}
