/**
 * exportTimmSwinWeights: the bytes timm accepted. make_export_fixture.ts exported seeded
 * random-weight V1 (padded) and V2 models; make_timm_fixture.py loaded those files into timm
 * 1.0.29 with load_state_dict(strict=True) and recorded timm's float64 logits.
 */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {
  exportTimmSwinWeights, loadTimmSwinWeights, parseSafetensors, swinTransformer, swinTransformerV2,
} from '../../src/layers/index';
import {EXPORT_FIXTURES} from '../fixtures/make_export_fixture';
import {logitsError, seededSwin} from './helpers';
import {useCpu} from './setup';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('exportTimmSwinWeights', () => {
  before(useCpu);
  const timmIo = () => parseSafetensors(fixture('timm_export_io.safetensors'));

  for (const {config, build, seed, file} of EXPORT_FIXTURES) {
    const prefix = file.replace('_export.safetensors', '');
    const configOf = () => JSON.parse(fixture(config).toString());

    it(`${prefix}: exports the bytes timm loaded with strict=True, and timm's logits match (rel < 1e-4)`, async () => {
      const model = seededSwin(build, configOf(), seed);
      const exported = exportTimmSwinWeights(model);
      expect(Buffer.compare(Buffer.from(exported), fixture(file)), 'the export equals the file timm loaded')
          .to.equal(0);
      const error = await logitsError(model, timmIo(), `${prefix}_input`, `${prefix}_logits`);
      console.log(`      max |Δ| / max |logit| = ${error.toExponential(2)}`);
      expect(error).to.be.lessThan(1e-4);
      model.dispose();
    });

    it(`${prefix}: export → loadTimmSwinWeights → export is the identity`, () => {
      const model = build(configOf());
      loadTimmSwinWeights(model, fixture(file));
      expect(Buffer.compare(Buffer.from(exportTimmSwinWeights(model)), fixture(file))).to.equal(0);
      model.dispose();
    });
  }

  it('writes timm’s keys in PyTorch’s layouts, float32, no derived buffers', () => {
    const entries = parseSafetensors(fixture('swinv2_export.safetensors'));
    const keys = [...entries.keys()];
    expect(keys).to.deep.equal([...keys].sort());
    expect(keys.some(k => /relative_position_index|relative_coords_table|attn_mask|k_bias/.test(k))).to.equal(false);
    expect([...entries.values()].every(e => e.dtype === 'F32')).to.equal(true);
    expect(entries.get('patch_embed.proj.weight')!.shape).to.deep.equal([8, 3, 2, 2]);
    expect(entries.get('layers.0.blocks.0.attn.qkv.weight')!.shape).to.deep.equal([24, 8]);
    expect(entries.get('layers.0.blocks.0.attn.logit_scale')!.shape).to.deep.equal([2, 1, 1]);
    expect(entries.get('layers.0.blocks.0.attn.cpb_mlp.0.weight')!.shape).to.deep.equal([512, 2]);
    expect(entries.get('layers.1.downsample.norm.weight')!.shape).to.deep.equal([16]);
    expect(entries.get('head.fc.weight')!.shape).to.deep.equal([5, 64]);
  });

  it('a V1 file does not load into a V2 model: every missing and unexpected key named', () => {
    const model = swinTransformerV2(JSON.parse(fixture('swin_fixture_config.json').toString()));
    expect(() => loadTimmSwinWeights(model, fixture('swin_fixture_weights.safetensors')))
        .to.throw(/missing key 'layers\.0\.blocks\.0\.attn\.logit_scale'[^]*unexpected key 'layers\.0\.blocks\.0\.attn\.relative_position_bias_table'/);
    model.dispose();
  });

  it('rejects a model with weights outside timm’s modules, naming the layer', () => {
    const input = tf.input({shape: [4]});
    const output = tf.layers.dense({units: 2, name: 'classifier'}).apply(input) as tf.SymbolicTensor;
    const model = tf.model({inputs: input, outputs: output});
    expect(() => exportTimmSwinWeights(model)).to.throw(/exportTimmSwinWeights: layer 'classifier' \(Dense\) has weights but no timm module/);
    model.dispose();
    const v1 = swinTransformer(
        {imgSize: 8, patchSize: 2, embedDim: 4, depths: [1], numHeads: [1], windowSize: 2, numClasses: 2});
    const keys = parseSafetensors(exportTimmSwinWeights(v1));
    expect(keys.has('layers.0.blocks.0.attn.relative_position_bias_table')).to.equal(true);
    v1.dispose();
  });
});
