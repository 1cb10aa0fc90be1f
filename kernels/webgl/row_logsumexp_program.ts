/**
 * The logsumexp of each query row of a score tile, max-shifted for stability; +Infinity
 * on a fully masked row. Rows outside the tile keep the previous tile's values.
 *
 * Packed: a fragment owns a 2×2 block of [B·Hq, Sq], two heads × a row pair, and reads each
 * score texel (both rows of a pair) once per pass over the keys, with texelFetch: a first
 * pass for the rows' maxima, a second for the sums of exp(s − max), no branches per key.
 * The consumers read it packed, so tfjs packs nothing per tile.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {rowTexelsGlsl, zeroPaddingGlsl} from './block_glsl';
import {AttentionGeometry, geometryGlsl, keyRangeGlsl, TILE_UNIFORM} from './geometry';

export class RowLogsumexpProgram implements GPGPUProgram {
  variableNames = ['scores'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM];

  /**
   * Inputs: the score tile (`tileShape`), then keyRange where present, then the previous
   * logsumexp unless first.
   */
  constructor(g: AttentionGeometry, tileShape: number[], hasPrevious: boolean) {
    this.outputShape = [g.queryHeads, g.shape.seqQ];
    if (g.ranged) this.variableNames.push('keyRange');
    if (hasPrevious) this.variableNames.push('previous');
    const keys = (body: string) =>
        rowTexelsGlsl({input: 'scores', shape: tileShape, start: ['n', 't', 'start'], along: 'col'}, 'count', body);
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      // Rows t, t + 1 of tile head n (t even; i the global row): masked scores are -Infinity
      // in the tile, so the pair's keys are walked over the union of the two rows' ranges.
      vec2 rowPairLogsumexp(int n, int t, int i) {
        ivec4 ranges = keyRanges(i);
        int lo = min(ranges.x, ranges.z);
        int hi = max(ranges.y, ranges.w);
        int start = lo - (lo & 1);
        int count = max(hi - start + 1, 0) / 2;
        vec2 m = vec2(NEG_INF);
        ${keys('m = max(m, max(texel.xz, texel.yw));')}
        // A fully masked row keeps base 0 so that exp(-Infinity - base) = 0, never NaN.
        vec2 base = vec2(m.x == NEG_INF ? 0.0 : m.x, m.y == NEG_INF ? 0.0 : m.y);
        vec2 total = vec2(0.0);
        ${keys('total += exp(texel.xz - base) + exp(texel.yw - base);')}
        vec2 infinity = vec2(uintBitsToFloat(0x7f800000u));
        return mix(m + log(total), infinity, equal(m, vec2(NEG_INF)));
      }
      void main() {
        ivec2 coords = getOutputCoords();
        int i = coords.y;
        vec4 result = ${hasPrevious ? 'getPrevious(coords.x, i)' : 'vec4(0.0)'};
        bool rows = i >= tile.z && i < tile.w;
        if (rows && coords.x >= tile.x && coords.x < tile.y) {
          result.xy = rowPairLogsumexp(coords.x - tile.x, i - tile.z, i);
        }
        if (rows && coords.x + 1 >= tile.x && coords.x + 1 < tile.y) {
          result.zw = rowPairLogsumexp(coords.x + 1 - tile.x, i - tile.z, i);
        }
        ${zeroPaddingGlsl('result', 'coords.x', `${g.queryHeads}`, 'i', 'SEQ_Q')}
        setOutput(result);
      }
    `;
  }
}
