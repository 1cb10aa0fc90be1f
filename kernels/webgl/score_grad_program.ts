/**
 * One tile of dS = P ⊙ (dropout(dO·Vᵀ) − D), the gradient of the scores, where D is the
 * row dot rowsum(dO ⊙ O). Blocks whose probabilities are all 0 (masked) are skipped. P is
 * read from its transposed tile (see ScoresProgram).
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {rowDotRowGlsl} from './block_glsl';
import {
  AttentionGeometry, DROPOUT_GLSL, DROPOUT_UNIFORMS, geometryGlsl, ORIGIN_UNIFORM, TILE_UNIFORM,
} from './geometry';

export class ScoreGradProgram implements GPGPUProgram {
  variableNames = ['dy', 'value', 'probs', 'rowDot'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms: GPGPUProgram['customUniforms'] = [TILE_UNIFORM, ORIGIN_UNIFORM];

  /**
   * Inputs: dy (`dyShape`), value (`valueShape`), Pᵀ, D. Uniforms: tile, origin, then dropout's
   * when the call has dropout.
   */
  constructor(g: AttentionGeometry, tileShape: number[], dyShape: number[], valueShape: number[]) {
    this.outputShape = tileShape;
    if (g.dropout) this.customUniforms!.push(...DROPOUT_UNIFORMS);
    this.userCode = `
      ${geometryGlsl(g)}
      ${g.dropout ? DROPOUT_GLSL : ''}
      void main() {
        ivec3 coords = getOutputCoords();
        int queryHead = tile.x + coords.x;
        int i = tile.z + coords.y;
        int j = coords.z;
        vec4 result = vec4(0.0);
        vec4 p = getProbs(coords.x, j, coords.y).xzyw;
        if (queryHead < tile.y && i < tile.w && any(notEqual(p, vec4(0.0)))) {
          int kv = kvHead(queryHead);
          vec4 acc = vec4(0.0);
          ${rowDotRowGlsl('acc',
              {input: 'dy', shape: dyShape, start: ['queryHead - origin.x', 'i - origin.y', '0'], along: 'col'},
              {input: 'value', shape: valueShape, start: ['kv - origin.z', 'j', '0'], along: 'col'}, g.shape.valueDim)}
          ${g.dropout ? 'acc *= dropoutBlock(queryHead, i, j);' : ''}
          vec4 rowDot = pickRow(getRowDot(queryHead, i), queryHead).xxyy;
          result = p * (acc - rowDot);
        }
        setOutput(result);
      }
    `;
  }
}
