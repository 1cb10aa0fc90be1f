/** D = rowsum(dO ⊙ O) per query row, the softmax backward's correction term. */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';

export class RowDotProgram implements GPGPUProgram {
  variableNames = ['dy', 'attended'];
  outputShape: number[];
  userCode: string;

  /** Inputs: dy and the forward output, both [B·Hq, Sq, Dv]. */
  constructor(queryHeads: number, seqQ: number, valueDim: number) {
    this.outputShape = [queryHeads, seqQ];
    this.userCode = `
      void main() {
        ivec2 coords = getOutputCoords();
        float total = 0.0;
        for (int c = 0; c < ${valueDim}; c++) {
          total += getDy(coords.x, coords.y, c) * getAttended(coords.x, coords.y, c);
        }
        setOutput(total);
      }
    `;
  }
}
