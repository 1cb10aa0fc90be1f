/**
 * Puts one tile's part of a [heads, rows, cols] result into the whole: inside the tile's
 * region the part replaces (output, dQ: rows owned by one tile) or adds to (dK, dV: sums
 * over tiles) the previous whole; outside, the previous whole is copied. Keeping this
 * cheap copy apart lets the heavy pass run on the tile's region only, where every
 * fragment has work.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';

export class MergeTileProgram implements GPGPUProgram {
  variableNames = ['part'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  /** The part's region in the whole: heads [x, y), rows [z, w). */
  customUniforms = [{name: 'region', type: 'ivec4' as const}];

  /** Inputs: the part, then the previous whole unless first. */
  constructor(wholeShape: number[], add: boolean, hasPrevious: boolean) {
    this.outputShape = wholeShape;
    if (hasPrevious) this.variableNames.push('previous');
    const previous = hasPrevious ? 'getPrevious(h, r, c)' : 'vec4(0.0)';
    this.userCode = `
      void main() {
        ivec3 coords = getOutputCoords();
        int h = coords.x, r = coords.y, c = coords.z;
        bool inside = h >= region.x && h < region.y && r >= region.z && r < region.w;
        vec4 part = inside ? getPart(h - region.x, r - region.z, c) : vec4(0.0);
        setOutput(${add ? `part + ${previous}` : `inside ? part : ${previous}`});
      }
    `;
  }
}
