/** Gradients through the layers, training, and the presets' sizes. */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {
  MultiHeadAttention, SwinTransformerBlock, SwinTransformerV2Block, swinPresets, swinTransformer, swinTransformerV2,
  swinV2Presets,
} from '../../src/layers/index';
import {expectClose, expectSwinFitLearns, normals, randomizeWeights, tensorOf, weightsOf} from './helpers';
import * as ref from './reference';
import {useCpu} from './setup';

describe('training', () => {
  before(useCpu);

  it('the gradient reaches the relative position bias table (shifted block: dense and window bias)', () => {
    const spec = {dim: 4, heads: 2, resolution: [4, 4] as [number, number], window: 2, shift: 1, mlpRatio: 2};
    const random = normals(11);
    const x = random(2 * 4 * 4 * spec.dim);
    const r = random(x.length);
    const layer = new SwinTransformerBlock({
      dim: spec.dim, inputResolution: spec.resolution, numHeads: spec.heads, windowSize: spec.window,
      shiftSize: spec.shift, mlpRatio: spec.mlpRatio,
    });
    const [input, weightsOfR] = [tensorOf(x, [2, 4, 4, spec.dim]), tensorOf(r, [2, 4, 4, spec.dim])];
    layer.apply(input);
    randomizeWeights(layer, 12);
    const table = layer.weights.find(w => w.originalName.endsWith('attn/relative_position_bias_table'))!;
    // LayerVariable.read() returns the underlying tf.Variable.
    const tableVariable = table.read() as tf.Variable;
    const {grads} = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, weightsOfR)) as tf.Scalar, [tableVariable]);
    const analytic = grads[tableVariable.name].dataSync();
    // Central differences of the float64 reference, entry by entry.
    const weights = weightsOf(layer);
    const tableValues = weights.get('attn/relative_position_bias_table')!;
    const loss = () => ref.swinBlock(x, spec, weights).reduce((s, v, i) => s + v * r[i], 0);
    const numeric = tableValues.map((v, i) => {
      const step = 1e-5;
      tableValues[i] = v + step;
      const up = loss();
      tableValues[i] = v - step;
      const down = loss();
      tableValues[i] = v;
      return (up - down) / (2 * step);
    });
    expect(Math.min(...Array.from(analytic, Math.abs))).to.be.greaterThan(0);
    expectClose(analytic, numeric, 1e-4);
    tf.dispose([input, weightsOfR, ...Object.values(grads)]);
  });

  it('V2, padded grid: gradients of the logit scale, position bias MLP and qkv match finite differences', () => {
    // 5 × 5 tokens in windows of 2: padded to 6 × 6, so zero (padding) keys take part.
    const spec = {dim: 4, heads: 2, resolution: [5, 5] as [number, number], window: 2, shift: 0, mlpRatio: 2,
                  version: 2 as const};
    const random = normals(13);
    const x = random(2 * 25 * spec.dim);
    const r = random(x.length);
    const layer = new SwinTransformerV2Block({
      dim: spec.dim, inputResolution: spec.resolution, numHeads: spec.heads, windowSize: spec.window,
      mlpRatio: spec.mlpRatio,
    });
    const [input, weightsOfR] = [tensorOf(x, [2, 5, 5, spec.dim]), tensorOf(r, [2, 5, 5, spec.dim])];
    layer.apply(input);
    randomizeWeights(layer, 14);
    const names = ['attn/logit_scale', 'attn/cpb_mlp/0/bias', 'attn/q_bias', 'attn/qkv/kernel'];
    const variables = names.map(name => layer.weights.find(w => w.originalName.endsWith(name))!.read() as tf.Variable);
    const {grads} = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, weightsOfR)) as tf.Scalar, variables);
    const weights = weightsOf(layer);
    const loss = () => ref.swinBlock(x, spec, weights).reduce((s, v, i) => s + v * r[i], 0);
    names.forEach((name, k) => {
      const analytic = grads[variables[k].name].dataSync();
      const values = weights.get(name)!;
      // Central differences on the first 8 entries of each.
      const count = Math.min(8, values.length);
      const numeric = Array.from({length: count}, (_, i) => {
        const [v, step] = [values[i], 1e-5];
        values[i] = v + step;
        const up = loss();
        values[i] = v - step;
        const down = loss();
        values[i] = v;
        return (up - down) / (2 * step);
      });
      expect(Math.max(...numeric.map(Math.abs)), name).to.be.greaterThan(0);
      expectClose(analytic.slice(0, count), numeric, 1e-3);
    });
    tf.dispose([input, weightsOfR, ...Object.values(grads)]);
  });

  it('model.fit lowers the loss of a small Swin on a synthetic task', expectSwinFitLearns);

  it('leaks no tensors over predict and training steps', async () => {
    const model = swinTransformer({
      imgSize: 8, patchSize: 2, inChans: 1, numClasses: 2, embedDim: 4, depths: [2], numHeads: [2], windowSize: 2,
      attnDropRate: 0.1, dropPathRate: 0.1,
    });
    model.compile({optimizer: tf.train.adam(1e-3), loss: tf.losses.softmaxCrossEntropy});
    const [xs, ys] = [tf.randomNormal([4, 8, 8, 1]), tf.oneHot([0, 1, 0, 1], 2).toFloat()];
    const step = async () => {
      tf.dispose(model.predict(xs) as tf.Tensor);
      await model.trainOnBatch(xs, ys);
    };
    await step();  // creates the optimizer's slots and the layers' cached constants
    const before = tf.memory().numTensors;
    await step();
    await step();
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('MultiHeadAttention drops attention probabilities in training only', () => {
    const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4, dropout: 0.5});
    const x = tf.randomNormal([2, 6, 8]);
    const [a, b, c] = [false, false, true].map(training => layer.apply([x, x], {training}) as tf.Tensor);
    expect(Array.from(a.dataSync())).to.deep.equal(Array.from(b.dataSync()));
    expect(Array.from(c.dataSync())).to.not.deep.equal(Array.from(a.dataSync()));
    tf.dispose([x, a, b, c]);
  });

  it('leaks no tensors over predict and training steps of a padded Swin V2', async () => {
    // Grid 5: windows of 2 padded to 6 (no shift in V2 there), then an odd merge to 3 (nominal 2).
    const model = swinTransformerV2({
      imgSize: 10, patchSize: 2, inChans: 1, numClasses: 2, embedDim: 4, depths: [1, 2], numHeads: [2, 2],
      windowSize: 2, attnDropRate: 0.1, dropPathRate: 0.1,
    });
    model.compile({optimizer: tf.train.adam(1e-3), loss: tf.losses.softmaxCrossEntropy});
    const [xs, ys] = [tf.randomNormal([4, 10, 10, 1]), tf.oneHot([0, 1, 0, 1], 2).toFloat()];
    const step = async () => {
      tf.dispose(model.predict(xs) as tf.Tensor);
      return await model.trainOnBatch(xs, ys) as number;
    };
    await step();
    const before = tf.memory().numTensors;
    const losses = [await step(), await step()];
    expect(tf.memory().numTensors).to.equal(before);
    expect(losses.every(Number.isFinite)).to.equal(true);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('the presets have timm’s parameter counts (timm 1.0.29, test/fixtures/timm_param_counts.json)', function() {
    this.timeout(600_000);  // seven builds of 28 to 88 million weights: about 25 s on an idle 2-core machine
    const counts = JSON.parse(readFileSync(new URL('../fixtures/timm_param_counts.json', import.meta.url)).toString());
    const presets = [
      ...Object.entries(swinPresets)
          .map(([name, c]) => [`swin_${name}_patch4_window7_224`, c, swinTransformer] as const),
      ...Object.entries(swinV2Presets).map(([name, c]) => [`swinv2_${name}`, c, swinTransformerV2] as const),
    ];
    expect(presets.map(([name]) => name).sort()).to.deep.equal(Object.keys(counts).sort());
    // The window16 presets differ from the window8 ones only in windowSize, on which no weight's
    // shape depends; tiny_window16_256 checks that once, saving two large builds.
    const skipped = ['swinv2_small_window16_256', 'swinv2_base_window16_256'];
    expect(skipped.map(name => counts[name]))
        .to.deep.equal(['small', 'base'].map(size => counts[`swinv2_${size}_window8_256`]));
    for (const [name, config, build] of presets.filter(([name]) => !skipped.includes(name))) {
      const model = build(config);
      expect(model.countParams(), name).to.equal(counts[name]);
      model.dispose();
    }
  });
});
