/**
 * One tile of scores, scale · q kᵀ + bias, with masked entries at -Infinity; or, given
 * the logsumexp, the probabilities exp(score − logsumexp) directly (the backward pass),
 * which it may write transposed, [heads, Sk, rows], for dV = P'ᵀ·dO to read along texel
 * rows. A fragment computes a 2×2 block: query rows (i, i+1) × keys (j, j+1).
 */
import type {GPGPUProgram} from '@tensorflow/tfjs-backend-webgl';
import {rowDotRowGlsl} from './block_glsl';
import {AttentionGeometry, BiasView, geometryGlsl, keyRangeGlsl, ORIGIN_UNIFORM, TILE_UNIFORM} from './geometry';

/**
 * GLSL `vec4 fn(int b, int h, int i, int j)`: the bias at the 2×2 block of rows (i, i+1) and
 * keys (j, j+1), i and j even, broadcasting by index. A bias with every row and key has the
 * block as one packed texel: one fetch instead of four.
 */
function biasBlockGlsl(fn: string, input: string, view: BiasView, g: AttentionGeometry): string {
  const getter = `get${input[0].toUpperCase()}${input.slice(1)}`;
  const [nb, nh, ni, nj] = view.shape;
  const batch = nb === 1 ? '0' : view.periodic ? `b % ${nb}` : 'b';
  const head = nh === 1 ? '0' : 'h';
  if (ni === g.shape.seqQ && nj === g.shape.seqK) {
    return `
    vec4 ${fn}(int b, int h, int i, int j) {
      return ${getter}(${batch}, ${head}, i, j);
    }`;
  }
  const index = (n: number, x: string) => n === 1 ? '0' : x;
  return `
    float ${fn}Value(int bi, int hi, int i, int j) {
      int ii = ${index(ni, 'i')}, ji = ${index(nj, 'j')};
      return pick(${getter}(bi, hi, ii, ji), ii, ji);
    }
    vec4 ${fn}(int b, int h, int i, int j) {
      int bi = ${batch}, hi = ${head};
      return vec4(${fn}Value(bi, hi, i, j), ${fn}Value(bi, hi, i, j + 1), ${fn}Value(bi, hi, i + 1, j),
                  ${fn}Value(bi, hi, i + 1, j + 1));
    }`;
}

/** The shape of a tile stored transposed, [heads, Sk, rows]. */
export function transposedTile(tileShape: number[]): number[] {
  return [tileShape[0], tileShape[2], tileShape[1]];
}

export class ScoresProgram implements GPGPUProgram {
  variableNames = ['q', 'k'];
  outputShape: number[];
  userCode: string;
  packedInputs = true;
  packedOutput = true;
  customUniforms = [TILE_UNIFORM, ORIGIN_UNIFORM, {name: 'scale', type: 'float' as const}];

  /**
   * Inputs: q ([heads, rows, D], `qShape`), k (`kShape`), then bias, windowBias, keyRange
   * where present, then logsumexp for probabilities. `transposed`: the output is the tile's
   * transpose.
   */
  constructor(
      g: AttentionGeometry, tileShape: number[], probabilities: boolean, qShape: number[], kShape: number[],
      transposed = false) {
    this.outputShape = transposed ? transposedTile(tileShape) : tileShape;
    const biasTerms: string[] = [];
    let helpers = '';
    if (g.bias != null) {
      this.variableNames.push('bias');
      helpers += biasBlockGlsl('biasBlock', 'bias', g.bias, g);
      biasTerms.push('biasBlock');
    }
    if (g.window != null) {
      this.variableNames.push('windowBias');
      helpers += biasBlockGlsl('windowBlock', 'windowBias', g.window, g);
      biasTerms.push('windowBlock');
    }
    if (g.ranged) this.variableNames.push('keyRange');
    if (probabilities) this.variableNames.push('logsumexp');
    // A -Infinity bias masks its entry whatever the product there (docs/contract.md §7).
    const addBias = biasTerms.map(fn => `
          {
            vec4 term = ${fn}(b, h, i, j);
            acc += term;
            visible = bvec4(vec4(visible) * vec4(notEqual(term, vec4(NEG_INF))));
          }`).join('');
    // Probabilities: masked entries (score -Infinity) are exactly 0, even on a fully masked
    // row, whose logsumexp is +Infinity.
    const finish = probabilities ? `
          vec2 lse = pickRow(getLogsumexp(queryHead, i), queryHead);
          vec4 lse4 = lse.xxyy;
          for (int c = 0; c < 4; c++) acc[c] = visible[c] && acc[c] != NEG_INF ? exp(acc[c] - lse4[c]) : 0.0;` : `
          for (int c = 0; c < 4; c++) acc[c] = visible[c] ? acc[c] : NEG_INF;`;
    this.userCode = `
      ${geometryGlsl(g)}
      ${keyRangeGlsl(g)}
      ${helpers}
      void main() {
        ivec3 coords = getOutputCoords();
        int queryHead = tile.x + coords.x;
        int i = tile.z + coords.${transposed ? 'z' : 'y'};
        int j = coords.${transposed ? 'y' : 'z'};
        vec4 result = vec4(${probabilities ? '0.0' : 'NEG_INF'});
        ivec4 range = keyRanges(i);
        bvec4 visible = bvec4(j >= range.x && j < range.y, j + 1 >= range.x && j + 1 < range.y,
                              j >= range.z && j < range.w, j + 1 >= range.z && j + 1 < range.w);
        if (i + 1 >= tile.w) visible.zw = bvec2(false);
        if (queryHead < tile.y && i < tile.w && any(visible)) {
          int b = queryHead / HEADS_Q;
          int h = queryHead - b * HEADS_Q;
          int kv = kvHead(queryHead);
          vec4 acc = vec4(0.0);
          ${rowDotRowGlsl('acc',
              {input: 'q', shape: qShape, start: ['queryHead - origin.x', 'i - origin.y', '0'], along: 'col'},
              {input: 'k', shape: kShape, start: ['kv - origin.z', 'j', '0'], along: 'col'}, g.shape.headDim)}
          acc *= scale;
          ${addBias}
          ${finish}
          result = acc;
        }
        setOutput(result${transposed ? '.xzyw' : ''});
      }
    `;
  }
}
