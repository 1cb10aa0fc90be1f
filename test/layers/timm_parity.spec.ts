/**
 * Parity with timm: the fixtures (made by test/fixtures/make_timm_fixture.py with timm 1.0.29)
 * hold small random-weight models' state_dicts, an input and its float64 logits:
 * - swin_fixture: SwinTransformer with shifted windows, merges and a one-window stage;
 * - swin_padded: SwinTransformer whose stages the window does not divide (padded, shifted)
 *   and whose merges see odd sizes;
 * - swinv2: SwinTransformerV2 (cosine attention, continuous position bias, res-post-norm),
 *   with an odd merge.
 */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {forceComposedAttention} from '../../examples/force_composed';
import {attentionImplementation, WindowBias} from '../../src/index';
import {
  loadTimmSwinWeights, parseSafetensors, SwinConfig, swinTransformer, swinTransformerV2,
} from '../../src/layers/index';
import {logitsError} from './helpers';
import {useCpu} from './setup';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

const FIXTURES = [
  {name: 'swin_fixture', config: 'swin_fixture_config.json', build: swinTransformer},
  {name: 'swin_padded', config: 'swin_padded_config.json', build: swinTransformer},
  {name: 'swinv2', config: 'swinv2_config.json', build: swinTransformerV2},
] as const;

describe('timm parity', () => {
  before(useCpu);

  it('runs the fused cpu kernel for window attention with a window bias', () => {
    const q = tf.zeros([4, 2, 16, 8]);
    const bias = tf.zeros([1, 2, 16, 16]);
    const mask = new WindowBias(tf.zeros([4, 1, 16, 16]));
    expect(attentionImplementation(q, q, q, {bias: [bias, mask]}).implementation).to.equal('cpu-fused');
    tf.dispose([q, bias, mask.tensor]);
  });

  for (const {name, config, build} of FIXTURES) {
    for (const composed of [false, true]) {
      const path = composed ? 'composed path' : 'fused cpu kernel';
      it(`${name}: matches timm logits to rel error < 1e-4 (${path})`, async () => {
        const restore = composed ? forceComposedAttention('cpu') : () => {};
        try {
          const model = build(JSON.parse(fixture(config).toString()) as SwinConfig);
          loadTimmSwinWeights(model, fixture(`${name}_weights.safetensors`));
          const error = await logitsError(model, parseSafetensors(fixture(`${name}_io.safetensors`)));
          model.dispose();
          console.log(`      max |Δ| / max |logit| = ${error.toExponential(2)}`);
          expect(error).to.be.lessThan(1e-4);
        } finally {
          restore();
        }
      });
    }
  }
});
