/**
 * factor · tile · M for the query rows of a tile, where M is the key-side matrix of each
 * query head's kv head: the output P·V, or dQ = scale · dS·K. The output holds just the
 * tile's rows ([tile heads, tile rows, cols]), so every fragment has work (see
 * AssembleTilesProgram). Loops only over the keys a row pair can see.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {tileTimesMatrixGlsl, zeroPaddingGlsl} from './block_glsl';
import {AttentionGeometry, geometryGlsl, keyRangeGlsl, ORIGIN_UNIFORM, TILE_UNIFORM} from './geometry';

export class TileTimesMatrixProgram implements GPGPUProgram {
  variableNames = ['tileIn', 'matrix'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM, ORIGIN_UNIFORM, {name: 'factor', type: 'float' as const}];

  /**
   * Inputs: tile, matrix ([kv heads, Sk, cols], `matrixShape`), then keyRange where present.
   * `skipZeroWeights`: rows of the matrix are not read where the tile is 0 (P·V, see tileTimesMatrixGlsl).
   */
  constructor(g: AttentionGeometry, cols: number, tileShape: number[], matrixShape: number[], skipZeroWeights = false) {
    this.outputShape = [tileShape[0], tileShape[1], cols];
    if (g.ranged) this.variableNames.push('keyRange');
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      void main() {
        ivec3 coords = getOutputCoords();
        int n = coords.x;
        int t = coords.y;
        int col = coords.z;
        int queryHead = tile.x + n;
        int i = tile.z + t;
        vec4 result = vec4(0.0);
        if (queryHead < tile.y && i < tile.w) {
          int kv = kvHead(queryHead);
          ivec4 range = keyRanges(i);
          if (i + 1 >= SEQ_Q) range.zw = range.xy;
          int lo = min(range.x, range.z);
          int hi = max(range.y, range.w);
          int start = lo - (lo & 1);
          int pairs = (hi - start + 1) / 2;
          ${tileTimesMatrixGlsl('result',
              {input: 'tileIn', shape: tileShape, start: ['n', 't', 'start'], along: 'col'},
              {input: 'matrix', shape: matrixShape, start: ['kv - origin.z', 'start', 'col'], along: 'row'},
              'pairs', g.shape.seqK % 2 === 1 ? 'start + 2 * pairs > SEQ_K' : null, skipZeroWeights)}
          result *= factor;
        }
        ${zeroPaddingGlsl('result', 'i', 'SEQ_Q', 'col', `${cols}`)}
        setOutput(result);
      }
    `;
  }
}
