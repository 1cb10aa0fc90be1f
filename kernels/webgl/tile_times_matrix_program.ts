/**
 * factor · tile · M for the query rows of a tile, where M is the key-side matrix of each
 * query head's kv head: the output P·V, or dQ = scale · dS·K. Rows outside the tile keep
 * the previous tile's values. Loops only over the keys a row pair can see.
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

  /** Inputs: tile, matrix [B·Hkv, Sk, cols], then keyRange where present, then previous unless first. */
  constructor(g: AttentionGeometry, cols: number, hasPrevious: boolean, tileShape: number[], matrixShape: number[]) {
    this.outputShape = [g.queryHeads, g.shape.seqQ, cols];
    if (g.ranged) this.variableNames.push('keyRange');
    if (hasPrevious) this.variableNames.push('previous');
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      void main() {
        ivec3 coords = getOutputCoords();
        int queryHead = coords.x;
        int i = coords.y;
        int col = coords.z;
        vec4 result;
        if (queryHead >= tile.x && queryHead < tile.y && i >= tile.z && i < tile.w) {
          int n = queryHead - tile.x;
          int t = i - tile.z;
          int kv = kvHead(queryHead);
          ivec4 range = keyRanges(i);
          if (i + 1 >= SEQ_Q) range.zw = range.xy;
          int lo = min(range.x, range.z);
          int hi = max(range.y, range.w);
          vec4 acc = vec4(0.0);
          int start = lo - (lo & 1);
          int pairs = (hi - start + 1) / 2;
          ${tileTimesMatrixGlsl('acc', {input: 'tileIn', shape: tileShape, start: ['n', 't', 'start'], along: 'col'}, {input: 'matrix', shape: matrixShape, start: ['kv - origin.z', 'start', 'col'], along: 'row'}, 'pairs', 'start + 2 * pairs > SEQ_K')}
          result = factor * acc;
        } else {
          result = ${hasPrevious ? 'getPrevious(queryHead, i, col)' : 'vec4(0.0)'};
        }
        ${zeroPaddingGlsl('result', 'i', 'SEQ_Q', 'col', `${cols}`)}
        setOutput(result);
      }
    `;
  }
}
