/** model.save() → tf.loadLayersModel() gives the same layers, configs and outputs. */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileSystemHandler} from '../../examples/file_io';
import {
  MultiHeadAttention, PatchEmbedding, PatchMerging, SwinTransformerBlock, SwinTransformerV2Block, swinTransformer,
  swinTransformerV2, WindowAttention,
} from '../../src/layers/index';
import {randomizeWeights, roundTripInMemory} from './helpers';
import {useCpu} from './setup';

async function roundTripThroughFiles(model: tf.LayersModel): Promise<tf.LayersModel> {
  const folder = mkdtempSync(join(tmpdir(), 'tfjs-attention-'));
  try {
    await model.save(fileSystemHandler(folder));
    expect(readdirSync(folder).sort()).to.deep.equal(['model.json', 'weights.bin']);
    return await tf.loadLayersModel(fileSystemHandler(folder));
  } finally {
    rmSync(folder, {recursive: true});
  }
}

/** Layer configs without unset entries (built-in layers give `undefined` before a round trip, `null` after). */
const configsOf = (model: tf.LayersModel) =>
    JSON.parse(JSON.stringify(model.layers.map(l => l.getConfig()), (_key, value) => value ?? undefined));

function expectSameModel(loaded: tf.LayersModel, model: tf.LayersModel, input: tf.Tensor): void {
  expect(loaded.layers.map(l => l.getClassName())).to.deep.equal(model.layers.map(l => l.getClassName()));
  expect(configsOf(loaded)).to.deep.equal(configsOf(model));
  const [expected, actual] = [model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
  expect(Array.from(actual.dataSync())).to.deep.equal(Array.from(expected.dataSync()));
  tf.dispose([expected, actual]);
}

describe('serialization', () => {
  before(useCpu);

  const swin = () => swinTransformer({
    imgSize: 16, patchSize: 2, inChans: 3, numClasses: 4, embedDim: 8, depths: [2, 1], numHeads: [2, 4],
    windowSize: 4, mlpRatio: 2, dropRate: 0.1, attnDropRate: 0.1, dropPathRate: 0.1,
  });

  /** MultiHeadAttention (cross-attention with a separate key) and WindowAttention in one model. */
  function attentionModel(): tf.LayersModel {
    const query = tf.input({shape: [6, 8]});
    const context = tf.input({shape: [9, 5]});
    const attended = new MultiHeadAttention({numHeads: 2, keyDim: 3, valueDim: 4, outputShape: 8, dropout: 0.1})
                         .apply([query, context, context]) as tf.SymbolicTensor;
    const windowAttention = new WindowAttention({dim: 8, numHeads: 2, windowSize: [2, 3]});
    const windowed = windowAttention.apply(attended) as tf.SymbolicTensor;
    return tf.model({inputs: [query, context], outputs: windowed});
  }

  for (const [io, roundTrip] of [['in-memory', roundTripInMemory], ['file', roundTripThroughFiles]] as const) {
    it(`a Swin model with every Swin layer, through the ${io} handler`, async () => {
      const model = swin();
      model.layers.forEach((layer, i) => randomizeWeights(layer, i));
      const loaded = await roundTrip(model);
      expect(loaded.layers.some(l => l instanceof PatchEmbedding)).to.equal(true);
      expect(loaded.layers.some(l => l instanceof PatchMerging)).to.equal(true);
      expect(loaded.layers.filter(l => l instanceof SwinTransformerBlock)).to.have.length(3);
      const input = tf.randomNormal([2, 16, 16, 3]);
      expectSameModel(loaded, model, input);
      tf.dispose(input);
      model.dispose();
      loaded.dispose();
    });

    it(`a padded Swin V2 model, through the ${io} handler`, async () => {
      // Grid 9, windows of 4: stage 0 padded to 12; an odd merge to 5 (nominal 4: no shift), padded to 8.
      const model = swinTransformerV2({
        imgSize: 18, patchSize: 2, inChans: 3, numClasses: 4, embedDim: 8, depths: [1, 2], numHeads: [2, 4],
        windowSize: 4, mlpRatio: 2, dropRate: 0.1, attnDropRate: 0.1, dropPathRate: 0.1,
      });
      model.layers.forEach((layer, i) => randomizeWeights(layer, 20 + i));
      const loaded = await roundTrip(model);
      expect(loaded.layers.filter(l => l instanceof SwinTransformerV2Block)).to.have.length(3);
      const merges = loaded.layers.filter((l): l is PatchMerging => l instanceof PatchMerging);
      expect(merges.map(l => l.postNorm)).to.deep.equal([true]);
      const input = tf.randomNormal([2, 18, 18, 3]);
      expectSameModel(loaded, model, input);
      tf.dispose(input);
      model.dispose();
      loaded.dispose();
    });

    it(`MultiHeadAttention and WindowAttention, through the ${io} handler`, async () => {
      const model = attentionModel();
      model.layers.forEach((layer, i) => randomizeWeights(layer, 10 + i));
      const loaded = await roundTrip(model);
      expect(loaded.layers.some(l => l instanceof MultiHeadAttention)).to.equal(true);
      expect(loaded.layers.some(l => l instanceof WindowAttention)).to.equal(true);
      const inputs = [tf.randomNormal([2, 6, 8]), tf.randomNormal([2, 9, 5])];
      const [expected, actual] = [model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor];
      expect(Array.from(actual.dataSync())).to.deep.equal(Array.from(expected.dataSync()));
      expect(configsOf(loaded)).to.deep.equal(configsOf(model));
      tf.dispose([...inputs, expected, actual]);
      model.dispose();
      loaded.dispose();
    });
  }
});
