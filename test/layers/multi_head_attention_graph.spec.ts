/**
 * MultiHeadAttention in functional models: causal mode and mask inputs hold in predict(),
 * model.apply() and fit(), and after toJSON → modelFromJSON and save → loadLayersModel;
 * kwargs a graph would drop are errors. On cpu (fused kernel) and wasm (composed); webgl runs
 * a functional model in multi_head_attention_keras.spec.ts.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {expect} from 'chai';
import {MultiHeadAttention} from '../../src/layers/index';
import {randomSeed, testSeed} from '../suite/cases';
import {expectClose, normals, randomizeWeights, roundTripInMemory} from './helpers';
import './setup';

const [BATCH, SEQ, DIM] = [2, 6, 8];
const RUN_SEED = randomSeed();

/** Rows of [BATCH, SEQ, n] tensors as nested arrays [batch][token][feature]. */
const rows = (t: tf.Tensor) => t.arraySync() as number[][][];

/** x followed by the same batch with tokens from `from` on replaced: [2·BATCH, SEQ, DIM]. */
function withLaterTokensChanged(random: (n: number) => Float64Array, from: number): tf.Tensor {
  const x = random(BATCH * SEQ * DIM);
  const changed = Float64Array.from(x, (v, i) => (Math.floor(i / DIM) % SEQ >= from ? v + 1 + random(1)[0] : v));
  return tf.tensor3d(Float32Array.from([...x, ...changed]), [2 * BATCH, SEQ, DIM]);
}

/** Token t's outputs of the first BATCH samples equal those of the last BATCH for t < `until`. */
function expectEarlyTokensEqual(out: tf.Tensor, until: number): void {
  const values = rows(out);
  for (let b = 0; b < BATCH; b++) {
    for (let t = 0; t < until; t++) expectClose(values[b][t], values[BATCH + b][t], 1e-6);
  }
  if (until < SEQ) expect(values[0][SEQ - 1]).to.not.deep.equal(values[BATCH][SEQ - 1]);
}

/** Runs fit() for one step on `inputs` and returns the attention layer's outputs in that step. */
async function outputsInFit(
    model: tf.LayersModel, layer: MultiHeadAttention, inputs: tf.Tensor | tf.Tensor[]): Promise<tf.Tensor> {
  model.compile({optimizer: tf.train.sgd(1e-3), loss: 'meanSquaredError'});
  const target = tf.zerosLike(model.predict(inputs) as tf.Tensor);
  const call = layer.call.bind(layer);
  let seen: tf.Tensor | null = null;
  layer.call = (x, kwargs) => {
    const out = call(x, kwargs) as tf.Tensor;
    expect(kwargs.training).to.equal(true);
    seen?.dispose();
    seen = tf.keep(out.clone());
    return out;
  };
  try {
    const first = Array.isArray(inputs) ? inputs[0] : inputs;
    await model.fit(inputs, target, {epochs: 1, batchSize: first.shape[0], shuffle: false, verbose: 0});
  } finally {
    layer.call = call;
    target.dispose();
  }
  return seen!;
}

for (const backend of ['cpu', 'wasm']) {
  describe(`MultiHeadAttention in functional models on ${backend} (seed ${RUN_SEED})`, () => {
    before(async () => {
      await tf.setBackend(backend);
    });
    after(async () => {
      await tf.setBackend('cpu');
    });
    let random: (n: number) => Float64Array;
    beforeEach(function() {
      random = normals(testSeed(RUN_SEED, this.currentTest!.fullTitle()));
    });

    /** x → MHA(causal) → + x (a residual, which reads x again after the attention). */
    function causalModel(): {model: tf.LayersModel, layer: MultiHeadAttention} {
      const x = tf.input({shape: [SEQ, DIM]});
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4, useCausalMask: true});
      const attended = layer.apply(x) as tf.SymbolicTensor;
      const projected = tf.layers.dense({units: DIM}).apply(attended) as tf.SymbolicTensor;
      const out = tf.layers.add().apply([projected, x]) as tf.SymbolicTensor;
      const model = tf.model({inputs: x, outputs: out});
      model.layers.forEach((l, i) => randomizeWeights(l, testSeed(RUN_SEED, `causal ${i}`)));
      return {model, layer};
    }

    it('useCausalMask holds in predict(), model.apply() and fit()', async () => {
      const {model, layer} = causalModel();
      const x = withLaterTokensChanged(random, 3);
      const outputs = [model.predict(x) as tf.Tensor, model.apply(x) as tf.Tensor, await outputsInFit(model, layer, x)];
      for (const out of outputs) {
        expectEarlyTokensEqual(out, 3);
        out.dispose();
      }
      x.dispose();
      model.dispose();
    });

    it('useCausalMask holds after toJSON → modelFromJSON and save → loadLayersModel', async () => {
      const {model} = causalModel();
      const x = withLaterTokensChanged(random, 2);
      const topology = model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'];
      const fromJson = await tf.models.modelFromJSON({modelTopology: topology});
      fromJson.setWeights(model.getWeights());
      const loaded = await roundTripInMemory(model);
      const expected = model.predict(x) as tf.Tensor;
      for (const copy of [fromJson, loaded]) {
        const mha = copy.layers.find((l): l is MultiHeadAttention => l instanceof MultiHeadAttention)!;
        expect(mha.useCausalMask).to.equal(true);
        const out = copy.predict(x) as tf.Tensor;
        expectEarlyTokensEqual(out, 2);
        expect(Array.from(out.dataSync())).to.deep.equal(Array.from(expected.dataSync()));
        out.dispose();
        copy.dispose();
      }
      tf.dispose([x, expected]);
      model.dispose();
    });

    /** query, context and a boolean [B, T, S] mask as model inputs; cross-attention with the mask as a layer input. */
    function maskedModel(): {model: tf.LayersModel, layer: MultiHeadAttention} {
      const query = tf.input({shape: [SEQ, DIM]});
      const context = tf.input({shape: [SEQ + 1, 5]});
      const mask = tf.input({shape: [SEQ, SEQ + 1], dtype: 'bool'});
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 3, valueDim: 4});
      const out = layer.apply([query, context], {attentionMask: mask}) as tf.SymbolicTensor;
      const model = tf.model({inputs: [query, context, mask], outputs: out});
      randomizeWeights(layer, testSeed(RUN_SEED, 'masked'));
      return {model, layer};
    }

    /** Query, context (its masked keys changed in the second half of the batch) and mask [2·BATCH, …]. */
    function maskedInputs(): tf.Tensor[] {
      const allowed = Array.from({length: BATCH}, (_, b) => Array.from({length: SEQ}, (_, i) =>
          Array.from({length: SEQ + 1}, (_, j) => (j + b) % 3 !== 0 || j === i)));
      const q = random(BATCH * SEQ * DIM);
      const c = random(BATCH * (SEQ + 1) * 5);
      // A key masked for every query of its sample may change without changing the output.
      const maskedEverywhere = (b: number, j: number) => allowed[b].every(row => !row[j]);
      const changed = Float64Array.from(c, (v, i) => {
        const [b, j] = [Math.floor(i / ((SEQ + 1) * 5)), Math.floor(i / 5) % (SEQ + 1)];
        return maskedEverywhere(b, j) ? v + 3 : v;
      });
      return [
        tf.tensor3d(Float32Array.from([...q, ...q]), [2 * BATCH, SEQ, DIM]),
        tf.tensor3d(Float32Array.from([...c, ...changed]), [2 * BATCH, SEQ + 1, 5]),
        tf.tensor3d([...allowed, ...allowed], undefined, 'bool'),
      ];
    }

    it('a mask model input holds in predict(), model.apply(), fit() and after save → load', async () => {
      const {model, layer} = maskedModel();
      const inputs = maskedInputs();
      expect(model.layers.find(l => l === layer)!.inboundNodes[0].inputTensors).to.have.length(3);
      const eager = layer.apply(inputs.slice(0, 2), {attentionMask: inputs[2]}) as tf.Tensor;
      const unmasked = layer.apply(inputs.slice(0, 2)) as tf.Tensor;
      expect(Array.from(unmasked.dataSync())).to.not.deep.equal(Array.from(eager.dataSync()));
      const loaded = await roundTripInMemory(model);
      const outputs = [
        model.predict(inputs) as tf.Tensor, model.apply(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor,
        await outputsInFit(model, layer, inputs),
      ];
      outputs.forEach((out, n) => {
        if (n < 3) expectClose(out.dataSync(), eager.dataSync(), 1e-6);
        expectEarlyTokensEqual(out, SEQ);  // the second half differs only in masked keys
      });
      tf.dispose([...inputs, ...outputs, eager, unmasked]);
      model.dispose();
      loaded.dispose();
    });

    it('an attentionBias model input is an input of the layer', () => {
      const x = tf.input({shape: [SEQ, DIM]});
      const bias = tf.input({shape: [2, SEQ, SEQ]});
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4});
      const model = tf.model({inputs: [x, bias], outputs: layer.apply(x, {attentionBias: bias}) as tf.SymbolicTensor});
      const inputs = [tf.tensor3d(Float32Array.from(random(BATCH * SEQ * DIM)), [BATCH, SEQ, DIM]),
                      tf.tensor4d(Float32Array.from(random(BATCH * 2 * SEQ * SEQ)), [BATCH, 2, SEQ, SEQ])];
      const eager = layer.apply(inputs[0], {attentionBias: inputs[1]}) as tf.Tensor;
      const out = model.predict(inputs) as tf.Tensor;
      expectClose(out.dataSync(), eager.dataSync(), 1e-6);
      expect(layer.getConfig().inputLayout).to.deep.equal([['query', 'value', 'key'], ['attentionBias']]);
      tf.dispose([...inputs, eager, out]);
      model.dispose();
    });

    it('apply([x, x]) reads x once, so a residual on x survives predict()', () => {
      const x = tf.input({shape: [SEQ, DIM]});
      const hidden = tf.layers.dense({units: DIM}).apply(x) as tf.SymbolicTensor;
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4});
      const attended = layer.apply([hidden, hidden]) as tf.SymbolicTensor;
      const out = tf.layers.add().apply([attended, hidden]) as tf.SymbolicTensor;
      const model = tf.model({inputs: x, outputs: out});
      expect(layer.inboundNodes[0].inputTensors).to.have.length(1);
      const input = tf.tensor3d(Float32Array.from(random(BATCH * SEQ * DIM)), [BATCH, SEQ, DIM]);
      const y = model.predict(input) as tf.Tensor;
      expect(y.shape).to.deep.equal([BATCH, SEQ, DIM]);
      tf.dispose([input, y]);
      model.dispose();
    });

    it('masks of Embedding({maskZero: true}) mask padded keys and queries, as Keras', () => {
      const tokens = tf.input({shape: [SEQ]});
      const embedding = tf.layers.embedding({inputDim: 10, outputDim: DIM, maskZero: true});
      const embedded = embedding.apply(tokens) as tf.SymbolicTensor;
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4});
      const model = tf.model({inputs: tokens, outputs: layer.apply(embedded) as tf.SymbolicTensor});
      model.layers.forEach((l, i) => randomizeWeights(l, testSeed(RUN_SEED, `embedding ${i}`)));
      const ids = [[3, 1, 4, 1, 0, 0], [2, 7, 0, 0, 0, 0]];
      const input = tf.tensor2d(ids);
      const kept = ids.map(row => row.map(id => id !== 0));
      // Keras: query mask [B, T, 1] & value mask [B, 1, S].
      const allowed = tf.tensor3d(kept.map(q => q.map(qi => q.map(kj => qi && kj))), undefined, 'bool');
      const embeddedValues = model.layers[1].apply(input) as tf.Tensor;
      const expected = layer.apply(embeddedValues, {attentionMask: allowed}) as tf.Tensor;
      for (const out of [model.predict(input) as tf.Tensor, model.apply(input) as tf.Tensor]) {
        expectClose(out.dataSync(), expected.dataSync(), 1e-6);
        out.dispose();
      }
      // A padded query row attends to nothing: its output is the output bias.
      const bias = layer.weights.find(w => w.originalName.endsWith('attention_output/bias'))!.read();
      expectClose(rows(expected)[1][4], Array.from(bias.dataSync()), 1e-6);
      tf.dispose([input, allowed, embeddedValues, expected]);
      model.dispose();
    });

    // tfjs-layers' executor hands a layer its first input's mask alone: the context's mask must come as attentionMask.
    it('cross-attention after two Embeddings: the query mask holds in predict() and model.apply()', () => {
      const [queryTokens, contextTokens] = [tf.input({shape: [SEQ]}), tf.input({shape: [SEQ - 1]})];
      const embed = (tokens: tf.SymbolicTensor) =>
        tf.layers.embedding({inputDim: 10, outputDim: DIM, maskZero: true}).apply(tokens) as tf.SymbolicTensor;
      const layer = new MultiHeadAttention({numHeads: 2, keyDim: 4});
      const out = layer.apply([embed(queryTokens), embed(contextTokens)]) as tf.SymbolicTensor;
      const model = tf.model({inputs: [queryTokens, contextTokens], outputs: out});
      model.layers.forEach((l, i) => randomizeWeights(l, testSeed(RUN_SEED, `cross embedding ${i}`)));
      const [queryIds, contextIds] = [[[3, 1, 4, 0, 0, 0], [2, 7, 1, 8, 2, 0]], [[5, 9, 0, 0, 0], [2, 6, 5, 3, 0]]];
      const inputs = [tf.tensor2d(queryIds), tf.tensor2d(contextIds)];
      const embedded = [model.layers[2].apply(inputs[0]) as tf.Tensor, model.layers[3].apply(inputs[1]) as tf.Tensor];
      const allowed = (useContextMask: boolean) => tf.tensor3d(queryIds.map((q, b) => q.map(qi =>
        contextIds[b].map(kj => qi !== 0 && (!useContextMask || kj !== 0)))), undefined, 'bool');
      const masks = [allowed(true), allowed(false)];
      const [both, queryOnly] = masks.map(mask => layer.apply(embedded, {attentionMask: mask}) as tf.Tensor);
      const [applied, predicted] = [model.apply(inputs) as tf.Tensor, model.predict(inputs) as tf.Tensor];
      expectClose(applied.dataSync(), queryOnly.dataSync(), 1e-6);
      expectClose(predicted.dataSync(), queryOnly.dataSync(), 1e-6);
      expect(Array.from(both.dataSync())).to.not.deep.equal(Array.from(queryOnly.dataSync()));
      tf.dispose([...inputs, ...embedded, ...masks, both, queryOnly, applied, predicted]);
      model.dispose();
    });

    describe('rejects what a graph would drop, naming the layer and the argument', () => {
      const x = () => tf.input({shape: [SEQ, DIM]});
      const mha = () => new MultiHeadAttention({numHeads: 2, keyDim: 4});

      it('useCausalMask, returnAttentionScores and training given to apply() on symbolic inputs', () => {
        expect(() => mha().apply([x(), x()], {useCausalMask: true}))
            .to.throw(/MultiHeadAttention: useCausalMask given to apply\(\) on symbolic inputs.*constructor/);
        expect(() => mha().apply(x(), {returnAttentionScores: true})).to.throw(/returnAttentionScores works in eager calls only/);
        expect(() => mha().apply(x(), {training: true})).to.throw(/training on symbolic inputs would be lost/);
      });

      it('a constant tensor as a mask or bias of symbolic inputs', () => {
        const mask = tf.ones([1, SEQ, SEQ], 'bool');
        expect(() => mha().apply(x(), {attentionMask: mask})).to.throw(/attentionMask on symbolic inputs must be a SymbolicTensor/);
        mask.dispose();
      });

      it('a fourth input, in a graph and eagerly', () => {
        const [q, v, k, m] = [x(), x(), x(), tf.input({shape: [SEQ, SEQ]})];
        expect(() => mha().apply([q, v, k, m])).to.throw(/MultiHeadAttention: inputs must be x, \[query, value\] or \[query, value, key\], got 4 inputs; masks and biases go in as the attentionMask and attentionBias kwargs/);
        const t = tf.zeros([1, SEQ, DIM]);
        expect(() => mha().apply([t, t, t, t])).to.throw(/got 4 inputs/);
        t.dispose();
      });

      it('an unknown kwarg', () => {
        expect(() => mha().apply(x(), {attention_mask: 1} as object)).to.throw(/MultiHeadAttention: unknown call argument 'attention_mask'/);
      });

      it('a layer wired twice with different inputs', () => {
        const layer = mha();
        const [a, b] = [x(), x()];
        layer.apply(a);
        expect(() => layer.apply([a, b])).to.throw(/is wired with inputs \[query=value=key\]; it cannot also take \[query, value=key\]/);
      });
    });
  });
}
