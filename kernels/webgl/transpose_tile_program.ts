/**
 * A tile's transpose, [heads, rows, Sk] → [heads, Sk, rows]: dSᵀ for dK = scale · dSᵀ·Q,
 * whose loop then reads along texel rows. One read per texel here costs less than reading
 * down the columns in the product, where each texel is read once per output column pair.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {transposedTile} from './scores_program';

export class TransposeTileProgram implements GPGPUProgram {
  variableNames = ['tileIn'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;

  constructor(tileShape: number[]) {
    this.outputShape = transposedTile(tileShape);
    this.userCode = `
      void main() {
        ivec3 coords = getOutputCoords();
        setOutput(getTileIn(coords.x, coords.z, coords.y).xzyw);
      }
    `;
  }
}
