/**
 * D = rowsum(dO ⊙ O) per query row, the softmax backward's correction term, packed as the
 * tiles' passes read it: a fragment owns two heads × a row pair and reads dO and O as
 * packed texels (O, the forward's output, is packed already: no unpack pass), two rows
 * per read.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {zeroPaddingGlsl} from './block_glsl';

export class RowDotProgram implements GPGPUProgram {
  variableNames = ['dy', 'attended'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;

  /** Inputs: dy and the forward output, both [B·Hq, Sq, Dv]. */
  constructor(queryHeads: number, seqQ: number, valueDim: number) {
    this.outputShape = [queryHeads, seqQ];
    this.userCode = `
      // Rows i, i + 1 of one head; an odd Dv's last texel holds one real column.
      vec2 rowPairDot(int head, int i) {
        vec2 total = vec2(0.0);
        for (int c = 0; c < ${valueDim}; c += 2) {
          vec4 products = getDy(head, i, c) * getAttended(head, i, c);
          ${valueDim % 2 === 1 ? `if (c + 1 == ${valueDim}) products.yw = vec2(0.0);` : ''}
          total += products.xz + products.yw;
        }
        return total;
      }
      void main() {
        ivec2 coords = getOutputCoords();
        vec4 result = vec4(rowPairDot(coords.x, coords.y), 0.0, 0.0);
        if (coords.x + 1 < ${queryHeads}) result.zw = rowPairDot(coords.x + 1, coords.y);
        ${zeroPaddingGlsl('result', 'coords.x', `${queryHeads}`, 'coords.y', `${seqQ}`)}
        setOutput(result);
      }
    `;
  }
}
