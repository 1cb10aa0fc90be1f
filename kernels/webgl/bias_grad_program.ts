/**
 * The gradient of a bias input in its own shape: dS summed over the dims the bias
 * broadcasts over (and, for a window bias, over the images b ≡ w mod nW), for the rows of
 * one tile, added to the previous tiles' sum.
 *
 * A bias with every row and key (e.g. Swin's [1, H, S, S] and [nW, 1, S, S]) is summed a
 * packed 2×2 block per fragment, one dS texel per (b, h) added as it is; a bias broadcast
 * over rows or keys sums element by element.
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {zeroPaddingGlsl} from './block_glsl';
import {AttentionGeometry, BiasView, geometryGlsl, TILE_UNIFORM} from './geometry';

export class BiasGradProgram implements GPGPUProgram {
  variableNames = ['scoreGrad'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput: boolean;
  customUniforms = [TILE_UNIFORM];

  /** Inputs: the dS tile, then previous unless first. */
  constructor(g: AttentionGeometry, view: BiasView, hasPrevious: boolean) {
    this.outputShape = view.shape;
    if (hasPrevious) this.variableNames.push('previous');
    const [nb, nh, ni, nj] = view.shape;
    this.packedOutput = ni === g.shape.seqQ && nj === g.shape.seqK;
    // Each output element visits b = bb, bb + step, …: every batch when broadcast, the
    // images of its window when periodic, else just its own.
    const batchStep = nb === 1 ? 1 : view.periodic ? nb : g.shape.batch;
    const headStep = nh === 1 ? 1 : g.shape.headsQ;
    const eachHead = (body: string) => `
        for (int b = coords.x; b < ${g.shape.batch}; b += ${batchStep}) {
          for (int h = coords.y; h < HEADS_Q; h += ${headStep}) {
            int n = b * HEADS_Q + h - tile.x;
            if (n < 0 || n >= tile.y - tile.x) continue;
            ${body}
          }
        }`;
    this.userCode = this.packedOutput ? `
      ${geometryGlsl(g)}
      void main() {
        ivec4 coords = getOutputCoords();
        vec4 total = vec4(0.0);
        // Tiles start at even rows, so a row pair lies in one tile.
        if (coords.z >= tile.z && coords.z < tile.w) {
          int t = coords.z - tile.z;
          ${eachHead('total += getScoreGrad(n, t, coords.w);')}
        }
        ${hasPrevious ? 'total += getPrevious(coords.x, coords.y, coords.z, coords.w);' : ''}
        ${zeroPaddingGlsl('total', 'coords.z', 'SEQ_Q', 'coords.w', 'SEQ_K')}
        setOutput(total);
      }
    ` : `
      ${geometryGlsl(g)}
      void main() {
        ivec4 coords = getOutputCoords();
        int rowLo = max(${ni === 1 ? 'tile.z' : 'coords.z'}, tile.z);
        int rowHi = min(${ni === 1 ? 'tile.w' : 'coords.z + 1'}, tile.w);
        int keyLo = ${nj === 1 ? '0' : 'coords.w'};
        int keyHi = ${nj === 1 ? 'SEQ_K' : 'coords.w + 1'};
        float total = 0.0;
        ${eachHead(`
            for (int i = rowLo; i < rowHi; i++) {
              int t = i - tile.z;
              for (int j = keyLo; j < keyHi; j++) total += pick(getScoreGrad(n, t, j), t, j);
            }`)}
        ${hasPrevious ? 'total += pick(getPrevious(coords.x, coords.y, coords.z, coords.w), coords.z, coords.w);' : ''}
        setOutput(total);
      }
    `;
  }
}
