/**
 * Packs the part of an unpacked [heads, rows, cols] input that one tile reads: heads
 * [start.x, start.x + H) and rows [start.y, start.y + R), zeros past the input's end.
 * Packing only that part keeps both the packing work and the packed copy small.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';

export class PackRowsProgram implements GPGPUProgram {
  variableNames = ['source'];
  outputShape: number[];
  userCode: string;
  packedOutput = true;
  customUniforms = [{name: 'start', type: 'ivec2' as const}];

  constructor(sourceShape: number[], outputShape: number[]) {
    this.outputShape = outputShape;
    const [heads, rows, cols] = sourceShape;
    this.userCode = `
      float valueAt(int h, int r, int c) {
        return h < ${heads} && r < ${rows} && c < ${cols} ? getSource(h, r, c) : 0.0;
      }
      void main() {
        ivec3 coords = getOutputCoords();
        int h = start.x + coords.x;
        int r = start.y + coords.y;
        int c = coords.z;
        setOutput(vec4(valueAt(h, r, c), valueAt(h, r, c + 1), valueAt(h, r + 1, c), valueAt(h, r + 1, c + 1)));
      }
    `;
  }
}
