/** loadTimmSwinWeights' checks: every bad key named, nothing half-loaded, derived buffers verified. */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {
  entryToFloat32, loadTimmSwinWeights, logSpacedRelativeCoordinates, parseSafetensors, relativePositionIndex,
  serializeSafetensors, SwinConfig, swinTransformer, swinTransformerV2, timmKey,
} from '../../src/layers/index';
import {timmShiftMask} from './reference';
import {useCpu} from './setup';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const config = JSON.parse(fixture('swin_fixture_config.json').toString()) as SwinConfig;

interface Entry {
  dtype: 'F32' | 'I64';
  shape: number[];
  values: ArrayLike<number>;
}

/** A safetensors file from entries (F32 or I64). */
function safetensors(entries: Map<string, Entry>): Uint8Array {
  return serializeSafetensors(new Map([...entries].map(([name, {dtype, shape, values}]) => [name, {
    dtype, shape, bytes: new Uint8Array(dtype === 'F32' ? Float32Array.from(values).buffer :
        BigInt64Array.from(Array.from(values, v => BigInt(v))).buffer),
  }])));
}

function fixtureEntries(): Map<string, Entry> {
  const parsed = parseSafetensors(fixture('swin_fixture_weights.safetensors'));
  return new Map([...parsed].map(([name, e]) => [name, {dtype: 'F32', shape: e.shape, values: entryToFloat32(e)}]));
}

const snapshot = (model: tf.LayersModel) => model.getWeights().map(w => Array.from(w.dataSync()));

describe('loadTimmSwinWeights', () => {
  before(useCpu);
  let model: tf.LayersModel;
  beforeEach(() => model = swinTransformer(config));
  afterEach(() => model.dispose());

  it('maps layer weights to timm keys', () => {
    expect(timmKey('layers_0_blocks_1', 'attn/relative_position_bias_table'))
        .to.equal('layers.0.blocks.1.attn.relative_position_bias_table');
    expect(timmKey('layers_1_downsample', 'reduction/kernel')).to.equal('layers.1.downsample.reduction.weight');
    expect(timmKey('layers_2_blocks_0', 'mlp/fc1/bias')).to.equal('layers.2.blocks.0.mlp.fc1.bias');
    expect(timmKey('patch_embed', 'norm/gamma')).to.equal('patch_embed.norm.weight');
    expect(timmKey('norm', 'beta')).to.equal('norm.bias');
    expect(timmKey('head_fc', 'kernel')).to.equal('head.fc.weight');
  });

  it('names missing, unexpected and mis-shaped keys in one error, and changes nothing', () => {
    const entries = fixtureEntries();
    entries.delete('layers.1.blocks.0.attn.qkv.weight');
    entries.set('layers.0.blocks.0.attn.extra', {dtype: 'F32', shape: [2], values: [1, 2]});
    entries.set('head.fc.weight', {dtype: 'F32', shape: [5, 47], values: new Float32Array(5 * 47)});
    const before = snapshot(model);
    let message = '';
    try {
      loadTimmSwinWeights(model, safetensors(entries));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/missing key 'layers\.1\.blocks\.0\.attn\.qkv\.weight'/);
    expect(message).to.match(/unexpected key 'layers\.0\.blocks\.0\.attn\.extra'/);
    expect(message).to.match(/shape mismatch for 'head\.fc\.weight': file has \[5,47\], weight head_fc\/kernel is \[48,5\]/);
    expect(snapshot(model)).to.deep.equal(before);
  });

  it('checks timm’s derived buffers when a checkpoint carries them', () => {
    const entries = fixtureEntries();
    const index = relativePositionIndex([4, 4]);
    entries.set('layers.0.blocks.1.attn.relative_position_index', {dtype: 'I64', shape: [16, 16], values: index});
    const mask = timmShiftMask(16, 16, 4, 4, 2, 2).flat(2);
    entries.set('layers.0.blocks.1.attn_mask', {dtype: 'F32', shape: [16, 16, 16], values: mask});
    loadTimmSwinWeights(model, safetensors(entries));

    entries.set('layers.0.blocks.1.attn.relative_position_index',
                {dtype: 'I64', shape: [16, 16], values: index.map(v => v + 1)});
    entries.set('layers.2.blocks.0.attn_mask', {dtype: 'F32', shape: [1, 16, 16], values: new Float32Array(256)});
    expect(() => loadTimmSwinWeights(model, safetensors(entries)))
        .to.throw(/'layers\.0\.blocks\.1\.attn\.relative_position_index' differs[^]*'layers\.2\.blocks\.0\.attn_mask': a mask for block layers_2_blocks_0, which has no shifted windows/);
  });

  it('checks Swin V2’s derived buffers (relative_coords_table in float32, as timm computes it)', () => {
    const v2Config = JSON.parse(fixture('swinv2_config.json').toString()) as SwinConfig;
    const v2 = swinTransformerV2(v2Config);
    const parsed = parseSafetensors(fixture('swinv2_weights.safetensors'));
    const entries = new Map<string, Entry>(
        [...parsed].map(([name, e]) => [name, {dtype: 'F32', shape: e.shape, values: entryToFloat32(e)}]));
    const table = logSpacedRelativeCoordinates([5, 5]).map(v => Math.fround(v * (1 + 1e-7)));
    entries.set('layers.0.blocks.0.attn.relative_coords_table', {dtype: 'F32', shape: [1, 9, 9, 2], values: table});
    entries.set('layers.0.blocks.1.attn.relative_position_index',
                {dtype: 'I64', shape: [25, 25], values: relativePositionIndex([5, 5])});
    loadTimmSwinWeights(v2, safetensors(entries));
    entries.set('layers.3.blocks.0.attn.relative_coords_table', {dtype: 'F32', shape: [1, 9, 9, 2], values: table});
    expect(() => loadTimmSwinWeights(v2, safetensors(entries)))
        .to.throw(/'layers\.3\.blocks\.0\.attn\.relative_coords_table' differs from the relative coordinates of a \[2,2\] window/);
    v2.dispose();
    entries.clear();
    entries.set('layers.0.blocks.0.attn.relative_coords_table',
                {dtype: 'F32', shape: [1, 7, 7, 2], values: new Float32Array(98)});
    expect(() => loadTimmSwinWeights(model, safetensors(entries)))
        .to.throw(/unexpected key 'layers\.0\.blocks\.0\.attn\.relative_coords_table': block layers_0_blocks_0 is not Swin V2/);
  });

  it('rejects a file that is not safetensors', () => {
    const bytes = fixture('swin_fixture_weights.safetensors');
    expect(() => loadTimmSwinWeights(model, bytes.subarray(0, 4))).to.throw(/safetensors: file too short/);
    expect(() => loadTimmSwinWeights(model, bytes.subarray(0, 1000))).to.throw(/safetensors: header length \d+ exceeds the file/);
    expect(() => loadTimmSwinWeights(model, bytes.subarray(0, bytes.byteLength - 4)))
        .to.throw(/safetensors: '[\w.]+' \(F32 \[[\d,]+\]\) has data_offsets \[\d+, \d+\] that do not fit/);
  });
});
