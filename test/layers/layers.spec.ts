/** Each layer against the float64 references of reference.ts, with random weights. */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {LowerTriangularMask} from '../../src/index';
import {
  MultiHeadAttention, PatchEmbedding, PatchMerging, SwinTransformerBlock, SwinTransformerV2Block, WindowAttention,
} from '../../src/layers/index';
import {expectClose, normals, randomizeWeights, tensorOf, weightsOf} from './helpers';
import * as ref from './reference';
import {useCpu} from './setup';

const TOLERANCE = 1e-5;

/** Builds `layer` on `input`, randomizes its weights and returns its output as float64. */
function run(layer: tf.layers.Layer, input: tf.Tensor | tf.Tensor[], seed: number, kwargs: object = {}): Float64Array {
  layer.apply(input, kwargs);
  randomizeWeights(layer, seed);
  const out = layer.apply(input, kwargs) as tf.Tensor;
  const values = Float64Array.from(out.dataSync());
  out.dispose();
  return values;
}

describe('layers against float64 references', () => {
  before(useCpu);
  const random = normals(7);

  it('PatchEmbedding', () => {
    const x = random(2 * 8 * 12 * 3);
    const layer = new PatchEmbedding({patchSize: 4, inChans: 3, embedDim: 6});
    const input = tensorOf(x, [2, 8, 12, 3]);
    const out = run(layer, input, 1);
    expectClose(out, ref.patchEmbedding(x, [8, 12], 3, 4, weightsOf(layer)), TOLERANCE);
    expect(layer.computeOutputShape([null, 8, 12, 3])).to.deep.equal([null, 2, 3, 6]);
    tf.dispose([input]);
  });

  const merges: Array<[[number, number], boolean]> = [[[4, 6], false], [[5, 3], false], [[5, 4], true]];
  for (const [resolution, postNorm] of merges) {
    it(`PatchMerging on [${resolution}]${resolution.some(r => r % 2 === 1) ? ' (odd: padded)' : ''}` +
       `${postNorm ? ', V2 order (reduction, then norm)' : ''}`, () => {
      const x = random(2 * resolution[0] * resolution[1] * 5);
      const layer = new PatchMerging({dim: 5, outDim: 7, postNorm});
      const input = tensorOf(x, [2, ...resolution, 5]);
      expectClose(run(layer, input, 2), ref.patchMerging(x, resolution, 5, weightsOf(layer), postNorm), TOLERANCE);
      expect(layer.computeOutputShape([null, ...resolution, 5]))
          .to.deep.equal([null, ...resolution.map(r => Math.ceil(r / 2)), 7]);
      tf.dispose([input]);
    });
  }

  for (const masked of [false, true]) {
    it(`WindowAttention${masked ? ' with a window mask' : ''}`, () => {
      const [numWindows, n, dim] = [4, 6, 8];
      const x = random(2 * numWindows * n * dim);
      const layer = new WindowAttention({dim, numHeads: 2, windowSize: [2, 3]});
      const maskValues = Array.from({length: numWindows}, (_, w) => Array.from({length: n}, (_, i) =>
        Array.from({length: n}, (_, j) => ((i + j + w) % 3 === 0 && i !== j ? -100 : 0))));
      const mask = tf.tensor3d(maskValues);
      const input = tensorOf(x, [2 * numWindows, n, dim]);
      const out = run(layer, input, 3, masked ? {windowMask: mask} : {});
      const expected =
          ref.windowAttention(x, {dim, heads: 2, window: [2, 3]}, weightsOf(layer), '', masked ? maskValues : null);
      expectClose(out, expected, TOLERANCE);
      tf.dispose([input, mask]);
    });
  }

  interface BlockCase {
    name: string;
    resolution: [number, number];
    window: number;
    shift: number;
    windowResolution?: [number, number];
  }
  const blocks: BlockCase[] = [
    {name: 'W-MSA', resolution: [8, 8], window: 4, shift: 0},
    {name: 'SW-MSA (shifted windows, masked)', resolution: [8, 8], window: 4, shift: 2},
    {name: 'SW-MSA on a non-square image', resolution: [4, 8], window: 2, shift: 1},
    {name: 'one axis no larger than the window (no shift along it)', resolution: [4, 8], window: 4, shift: 2},
    {name: 'a stage whose resolution equals the window (no shift)', resolution: [4, 4], window: 4, shift: 2},
    {name: 'a stage smaller than the window (window shrinks)', resolution: [3, 3], window: 7, shift: 3},
    {name: 'a resolution the window does not divide (padded)', resolution: [7, 10], window: 4, shift: 0},
    {name: 'shifted windows on a padded resolution (V1 only)', resolution: [10, 7], window: 4, shift: 2},
    {name: 'an odd merge: input larger than the nominal resolution', resolution: [5, 5], window: 4, shift: 2,
     windowResolution: [4, 4]},
  ];
  for (const version of [1, 2] as const) {
    const Block = version === 1 ? SwinTransformerBlock : SwinTransformerV2Block;
    for (const {name, resolution, window, shift, windowResolution} of blocks) {
      // timm's V2 labels the shift mask on the unpadded resolution: it cannot pad shifted blocks.
      if (version === 2 && name.includes('V1 only')) continue;
      it(`${Block.className}: ${name}`, () => {
        const [dim, heads, mlpRatio] = [6, 3, 2];
        const x = random(2 * resolution[0] * resolution[1] * dim);
        const layer = new Block({
          dim, inputResolution: resolution, windowResolution, numHeads: heads, windowSize: window, shiftSize: shift,
          mlpRatio,
        });
        const input = tensorOf(x, [2, ...resolution, dim]);
        const out = run(layer, input, 4);
        const spec = {dim, heads, resolution, window, shift, mlpRatio, windowResolution, version};
        expectClose(out, ref.swinBlock(x, spec, weightsOf(layer)), TOLERANCE);
        tf.dispose([input]);
      });
    }
  }

  it('SwinTransformerV2Block: logit scales above log(100) clamped; without qkv biases, padding keys are zero', () => {
    const [dim, heads, resolution] = [4, 2, [3, 3] as [number, number]];
    const x = random(2 * 9 * dim);
    const layer =
        new SwinTransformerV2Block({dim, inputResolution: resolution, numHeads: heads, windowSize: 2, qkvBias: false});
    const input = tensorOf(x, [2, ...resolution, dim]);
    layer.apply(input);
    randomizeWeights(layer, 9);
    layer.weights.find(w => w.originalName.endsWith('logit_scale'))!.write(tf.tensor3d([[[7]], [[-1]]]));
    const out = layer.apply(input) as tf.Tensor;
    const spec = {dim, heads, resolution, window: 2, shift: 0, mlpRatio: 4, version: 2 as const};
    expectClose(out.dataSync(), ref.swinBlock(x, spec, weightsOf(layer)), TOLERANCE);
    tf.dispose([input, out]);
  });

  describe('MultiHeadAttention', () => {
    const [batch, seqQ, seqK, queryDim, valueDim, keyDim] = [2, 5, 7, 6, 4, 3];

    function reference(
        layer: MultiHeadAttention, q: Float64Array, v: Float64Array, k: Float64Array, vDim: number, kDim: number,
        bias: (h: number, i: number, j: number) => number): Float64Array {
      const w = weightsOf(layer);
      const out: number[] = [];
      const sk = k.length / (batch * kDim);
      const sq = q.length / (batch * queryDim);
      for (let b = 0; b < batch; b++) {
        const slice = (t: Float64Array, s: number, d: number) => t.subarray(b * s * d, (b + 1) * s * d);
        const projQ = ref.linear(slice(q, sq, queryDim), queryDim, w.get('query/kernel')!, w.get('query/bias'));
        const projK = ref.linear(slice(k, sk, kDim), kDim, w.get('key/kernel')!, w.get('key/bias'));
        const projV = ref.linear(slice(v, sk, vDim), vDim, w.get('value/kernel')!, w.get('value/bias'));
        const attended = ref.attention(projQ, projK, projV, layer.numHeads, layer.keyDim, layer.valueDim,
                                       layer.keyDim ** -0.5, bias);
        out.push(...ref.linear(attended, layer.numHeads * layer.valueDim, w.get('attention_output/kernel')!,
                               w.get('attention_output/bias')));
      }
      return Float64Array.from(out);
    }

    it('with a separate key, valueDim ≠ keyDim, outputShape and a tensor bias', () => {
      const [q, v, k] = [random(batch * seqQ * queryDim), random(batch * seqK * valueDim), random(batch * seqK * 5)];
      const biasValues = random(2 * seqQ * seqK);
      const bias = tensorOf(biasValues, [1, 2, seqQ, seqK]);
      const layer = new MultiHeadAttention({numHeads: 2, keyDim, valueDim: 5, outputShape: 9});
      const inputs =
          [tensorOf(q, [batch, seqQ, queryDim]), tensorOf(v, [batch, seqK, valueDim]), tensorOf(k, [batch, seqK, 5])];
      const out = run(layer, inputs, 5, {attentionBias: bias});
      expect(out.length).to.equal(batch * seqQ * 9);
      expectClose(
          out, reference(layer, q, v, k, valueDim, 5, (h, i, j) => biasValues[(h * seqQ + i) * seqK + j]), TOLERANCE);
      tf.dispose([...inputs, bias]);
    });

    it('self-attention with useCausalMask, and no biases', () => {
      const q = random(batch * seqQ * queryDim);
      const layer = new MultiHeadAttention({numHeads: 3, keyDim, useBias: false});
      const input = tensorOf(q, [batch, seqQ, queryDim]);
      const out = run(layer, [input, input], 6, {useCausalMask: true});
      expect(layer.weights.map(w => w.originalName.split('/').slice(1).join('/')))
          .to.deep.equal(['query/kernel', 'key/kernel', 'value/kernel', 'attention_output/kernel']);
      const causal = (_h: number, i: number, j: number) => (j > i ? -Infinity : 0);
      expectClose(out, reference(layer, q, q, q, queryDim, queryDim, causal), TOLERANCE);
      // An AttentionBias passed as attentionBias gives the same result.
      const viaBias = layer.apply([input, input], {attentionBias: new LowerTriangularMask()}) as tf.Tensor;
      expectClose(viaBias.dataSync(), out, 1e-6);
      tf.dispose([input, viaBias]);
    });
  });
});
