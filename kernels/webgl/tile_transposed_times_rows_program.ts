/**
 * factor · tileᵀ · R, summed over the query heads of each kv head's group: one tile's
 * share of dV = P'ᵀ·dO and dK = scale · dSᵀ·Q, for the tile's kv heads only
 * ([kv heads per tile, Sk, cols]), plus the previous tiles' share of the same kv heads
 * when given (TileAssembly adds up the rest). Loops only over the query rows that can see
 * the key pair. A tile stored transposed ([heads, Sk, rows], P' for dV) is read along its
 * texel rows, which runs faster than down its columns.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {Cursor, tileTimesMatrixGlsl, tileTransposedTimesMatrixGlsl, zeroPaddingGlsl} from './block_glsl';
import {AttentionGeometry, geometryGlsl, ORIGIN_UNIFORM, queryRangeGlsl, TILE_UNIFORM} from './geometry';

export class TileTransposedTimesRowsProgram implements GPGPUProgram {
  variableNames = ['tileIn', 'rows'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM, ORIGIN_UNIFORM, {name: 'factor', type: 'float' as const}];

  /**
   * Inputs: tile (`tileShape`, as stored; transposed when `tileTransposed`), rows ([query
   * heads, rows, cols], `rowsShape`), then queryRange where present, then the previous
   * share when `hasPrevious`.
   */
  constructor(
      g: AttentionGeometry, cols: number, kvHeadsPerTile: number, tileShape: number[], rowsShape: number[],
      hasPrevious: boolean, tileTransposed = false) {
    this.outputShape = [kvHeadsPerTile, g.shape.seqK, cols];
    if (g.ranged) this.variableNames.push('queryRange');
    if (hasPrevious) this.variableNames.push('previous');
    const product = tileTransposed ? tileTimesMatrixGlsl : tileTransposedTimesMatrixGlsl;
    const tileCursor: Cursor = tileTransposed ? {input: 'tileIn', shape: tileShape, start: ['n', 'j', 'start - tile.z'], along: 'col'} :
                                                {input: 'tileIn', shape: tileShape, start: ['n', 'start - tile.z', 'j'], along: 'row'};
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
          ${product('acc', tileCursor, {input: 'rows', shape: rowsShape, start: ['queryHead - origin.x', 'start - origin.y', 'col'], along: 'row'}, 'pairs', g.shape.seqQ % 2 === 1 ? 'start + 2 * pairs > SEQ_Q' : null)}
        }
        vec4 result = factor * acc${hasPrevious ? ' + getPrevious(coords.x, coords.y, col)' : ''};
        ${zeroPaddingGlsl('result', 'j', 'SEQ_K', 'col', `${cols}`)}
        setOutput(result);
      }
    `;
  }
}
