/**
 * Writes tile parts into a [heads, rows, cols] result: part n covers regions[n] (heads
 * [x, y), rows [z, w)), where it replaces (output, dQ: a row belongs to one tile) or adds
 * to (dK, dV: sums over tiles) what the previous whole holds; elsewhere the previous whole
 * is copied. One pass takes several parts, so the whole is copied a few times per call
 * rather than once per tile, and the heavy passes write only their tile's region, where
 * every fragment has work.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';

export class AssembleTilesProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms: GPGPUProgram['customUniforms'];

  /** Inputs: the `parts` parts, then the previous whole unless first. Uniform: the parts' regions. */
  constructor(wholeShape: number[], parts: number, add: boolean, hasPrevious: boolean) {
    this.outputShape = wholeShape;
    this.variableNames = Array.from({length: parts}, (_, n) => `part${n}`);
    if (hasPrevious) this.variableNames.push('previous');
    this.customUniforms = [{name: 'regions', arrayIndex: parts, type: 'ivec4'}];
    const gather = this.variableNames.slice(0, parts).map((name, n) => `
        region = regions[${n}];
        if (h >= region.x && h < region.y && r >= region.z && r < region.w) {
          value ${add ? '+=' : '='} get${name[0].toUpperCase()}${name.slice(1)}(h - region.x, r - region.z, c);
        }`).join('');
    this.userCode = `
      void main() {
        ivec3 coords = getOutputCoords();
        int h = coords.x, r = coords.y, c = coords.z;
        vec4 value = ${hasPrevious ? 'getPrevious(h, r, c)' : 'vec4(0.0)'};
        ivec4 region;
        ${gather}
        setOutput(value);
      }
    `;
  }
}
