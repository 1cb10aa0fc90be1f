/**
 * Turns a tile elementwise: scores into probabilities exp(score − logsumexp), and/or
 * applies dropout (kept entries scaled by 1 / (1 − rate), with the contract's hash) to a
 * tile of probabilities, stored transposed or not.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {AttentionGeometry, DROPOUT_GLSL, DROPOUT_UNIFORMS, geometryGlsl, TILE_UNIFORM} from './geometry';

export class ProbabilitiesProgram implements GPGPUProgram {
  variableNames = ['tileIn'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms: GPGPUProgram['customUniforms'] = [TILE_UNIFORM];

  /**
   * Inputs: the tile (`tileShape`, as stored), then logsumexp when `fromScores`. Uniforms:
   * tile, then dropout's when `dropout`. `transposed`: the tile is stored transposed.
   */
  constructor(g: AttentionGeometry, tileShape: number[], fromScores: boolean, dropout: boolean, transposed = false) {
    this.outputShape = tileShape;
    if (fromScores) this.variableNames.push('logsumexp');
    if (dropout) this.customUniforms!.push(...DROPOUT_UNIFORMS);
    this.userCode = `
      ${geometryGlsl(g)}
      ${dropout ? DROPOUT_GLSL : ''}
      void main() {
        ivec3 coords = getOutputCoords();
        int queryHead = tile.x + coords.x;
        int i = tile.z + coords.${transposed ? 'z' : 'y'};
        int j = coords.${transposed ? 'y' : 'z'};
        vec4 x = getTileIn(coords.x, coords.y, coords.z);
        ${fromScores ? `
        vec4 lse = pickRow(getLogsumexp(queryHead, i), queryHead).${transposed ? 'xyxy' : 'xxyy'};
        for (int c = 0; c < 4; c++) x[c] = x[c] == NEG_INF ? 0.0 : exp(x[c] - lse[c]);` : ''}
        ${dropout ? `x *= dropoutBlock(queryHead, i, j)${transposed ? '.xzyw' : ''};` : ''}
        setOutput(x);
      }
    `;
  }
}
