/**
 * factor · tileᵀ · R, summed over the query heads of each kv head's group: one tile's
 * share of dV = P'ᵀ·dO and dK = scale · dSᵀ·Q, for the tile's kv heads only
 * ([kv heads per tile, Sk, cols]), plus the previous tiles' share of the same kv heads
 * when given (TileAssembly adds up the rest). Loops only over the query rows that can see
 * the key pair. The tile comes stored transposed, [heads, Sk, rows], so the loop reads it
 * along texel rows, like the matrix in TileTimesMatrixProgram: down the columns of the
 * tile as [heads, rows, Sk] it ran 1.3–1.5× slower on SwiftShader.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {tileTimesMatrixGlsl, zeroPaddingGlsl} from './block_glsl';
import {AttentionGeometry, geometryGlsl, ORIGIN_UNIFORM, queryRangeGlsl, TILE_UNIFORM} from './geometry';

export class TileTransposedTimesRowsProgram implements GPGPUProgram {
  variableNames = ['tileIn', 'rows'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM, ORIGIN_UNIFORM, {name: 'factor', type: 'float' as const}];

  /**
   * Inputs: the tile transposed (`transposedShape`), rows ([query heads, rows, cols],
   * `rowsShape`), then queryRange where present, then the previous share when `hasPrevious`.
   */
  constructor(
      g: AttentionGeometry, cols: number, kvHeadsPerTile: number, transposedShape: number[], rowsShape: number[],
      hasPrevious: boolean) {
    this.outputShape = [kvHeadsPerTile, g.shape.seqK, cols];
    if (g.ranged) this.variableNames.push('queryRange');
    if (hasPrevious) this.variableNames.push('previous');
    this.userCode = `
      ${geometryGlsl(g)}
      ${queryRangeGlsl(g)}
      void main() {
        ivec3 coords = getOutputCoords();
        int kv = kvHead(tile.x) + coords.x;
        int j = coords.y;
        int col = coords.z;
        int b = kv / HEADS_KV;
        int firstHead = b * HEADS_Q + (kv - b * HEADS_KV) * GROUP;
        int headLo = max(firstHead, tile.x);
        int headHi = kv < HEADS_KV * ${g.shape.batch} ? min(firstHead + GROUP, tile.y) : headLo;
        ivec4 range = queryRanges(j);
        if (j + 1 >= SEQ_K) range.zw = range.xy;
        int lo = max(min(range.x, range.z), tile.z);
        int hi = min(max(range.y, range.w), tile.w);
        vec4 acc = vec4(0.0);
        int start = lo - (lo & 1);
        int pairs = (hi - start + 1) / 2;
        for (int queryHead = headLo; queryHead < headHi; queryHead++) {
          int n = queryHead - tile.x;
          ${tileTimesMatrixGlsl('acc',
              {input: 'tileIn', shape: transposedShape, start: ['n', 'j', 'start - tile.z'], along: 'col'},
              {
                input: 'rows', shape: rowsShape, start: ['queryHead - origin.x', 'start - origin.y', 'col'],
                along: 'row',
              },
              'pairs', g.shape.seqQ % 2 === 1 ? 'start + 2 * pairs > SEQ_Q' : null)}
        }
        vec4 result = factor * acc${hasPrevious ? ' + getPrevious(coords.x, coords.y, col)' : ''};
        ${zeroPaddingGlsl('result', 'j', 'SEQ_K', 'col', `${cols}`)}
        setOutput(result);
      }
    `;
  }
}
