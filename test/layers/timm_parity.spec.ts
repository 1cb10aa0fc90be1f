/**
 * Parity with timm: the fixture (made by test/fixtures/make_timm_fixture.py with timm 1.0.29)
 * holds a small random-weight SwinTransformer's state_dict, an input and its float64 logits.
 */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {forceComposedAttention} from '../../examples/force_composed';
import {attentionImplementation, WindowBias} from '../../src/index';
import {entryToFloat32, loadTimmSwinWeights, parseSafetensors, SwinConfig, swinTransformer} from '../../src/layers/index';
import {useCpu} from './setup';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('timm parity', () => {
  before(useCpu);

  it('runs the fused cpu kernel for window attention with a window bias', () => {
    const q = tf.zeros([4, 2, 16, 8]);
    const bias = tf.zeros([1, 2, 16, 16]);
    const mask = new WindowBias(tf.zeros([4, 1, 16, 16]));
    expect(attentionImplementation(q, q, q, {bias: [bias, mask]}).implementation).to.equal('cpu-fused');
    tf.dispose([q, bias, mask.tensor]);
  });

  async function relativeError(): Promise<number> {
    const config = JSON.parse(fixture('swin_fixture_config.json').toString()) as SwinConfig;
    const io = parseSafetensors(fixture('swin_fixture_io.safetensors'));
    const model = swinTransformer(config);
    loadTimmSwinWeights(model, fixture('swin_fixture_weights.safetensors'));
    const inputEntry = io.get('input')!;
    const expected = entryToFloat32(io.get('logits')!);
    const logits = tf.tidy(() => model.predict(tf.tensor(entryToFloat32(inputEntry), inputEntry.shape)) as tf.Tensor);
    expect(logits.shape).to.deep.equal(io.get('logits')!.shape);
    const actual = await logits.data();
    logits.dispose();
    model.dispose();
    const scale = Math.max(...expected.map(Math.abs));
    return Math.max(...actual.map((v, i) => Math.abs(v - expected[i]))) / scale;
  }

  it('matches timm logits to rel error < 1e-4 (fused cpu kernel)', async () => {
    const error = await relativeError();
    console.log(`      max |Δ| / max |logit| = ${error.toExponential(2)}`);
    expect(error).to.be.lessThan(1e-4);
  });

  it('matches timm logits to rel error < 1e-4 (composed path)', async () => {
    const restore = forceComposedAttention('cpu');
    try {
      const error = await relativeError();
      console.log(`      max |Δ| / max |logit| = ${error.toExponential(2)}`);
      expect(error).to.be.lessThan(1e-4);
    } finally {
      restore();
    }
  });
});
