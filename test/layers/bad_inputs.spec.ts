/**
 * Bad inputs to the Swin layers, model builders and the safetensors reader: each gets an
 * Error naming the layer or builder and the argument, and a failed build leaks no tensor.
 */
import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {
  parseSafetensors, PatchEmbedding, PatchMerging, serializeSafetensors, SwinConfig, SwinTransformerBlock,
  SwinTransformerV2Block, swinTransformer, swinTransformerV2, WindowAttention,
} from '../../src/layers/index';
import {useCpu} from './setup';

/** A small model's config, valid for both versions. */
const SMALL: Partial<SwinConfig> = {
  imgSize: 16, patchSize: 2, inChans: 3, numClasses: 3, embedDim: 4, depths: [2, 2, 1], numHeads: [1, 2, 2],
  windowSize: 2,
};

describe('bad inputs', () => {
  before(useCpu);

  describe('swinTransformer and swinTransformerV2 reject bad configs at build, allocating nothing', () => {
    const cases: Array<[string, Partial<SwinConfig>, RegExp]> = [
      ['embedDim 0', {embedDim: 0}, /embedDim must be a positive integer, got 0/],
      ['embedDim 1.5', {embedDim: 1.5}, /embedDim must be a positive integer, got 1\.5/],
      ['imgSize as a string', {imgSize: '16' as unknown as number}, /imgSize must be a positive integer, got "16"/],
      ['windowSize 0', {windowSize: 0}, /windowSize must be a positive integer, got 0/],
      ['numClasses NaN', {numClasses: NaN}, /numClasses must be a positive integer, got NaN/],
      ['a negative mlpRatio', {mlpRatio: -1}, /mlpRatio must be a positive number, got -1/],
      ['dropPathRate 1', {dropPathRate: 1}, /dropPathRate must be a rate in \[0, 1\), got 1/],
      ['qkvBias as a string', {qkvBias: 'no' as unknown as boolean}, /qkvBias must be true or false, got "no"/],
      ['empty depths', {depths: [], numHeads: []}, /depths must be a non-empty array, got \[\]/],
      ['a depth of 0', {depths: [2, 0, 1]}, /depths\[1\] must be a positive integer, got 0/],
      ['numHeads of another length', {numHeads: [1, 2]}, /depths and numHeads must be of one length, got \[2,2,1\] and \[1,2\]/],
      ['an unknown key', {embed_dim: 8} as Partial<SwinConfig>, /unknown config key 'embed_dim'/],
      ['imgSize not a multiple of patchSize', {imgSize: 15}, /imgSize 15 must be a multiple of patchSize 2/],
      ['more stages than the patch grid halves', {imgSize: 4, depths: [1, 1, 1], numHeads: [1, 1, 1]},
       /3 stages need a patch grid of at least 4, got 2/],
    ];
    const builders = [['swinTransformer', swinTransformer], ['swinTransformerV2', swinTransformerV2]] as const;
    for (const [builder, build] of builders) {
      for (const [what, change, message] of cases) {
        it(`${builder}: ${what}`, () => {
          const before = tf.memory().numTensors;
          expect(() => build({...SMALL, ...change})).to.throw(new RegExp(`^${builder}: ${message.source}`));
          expect(tf.memory().numTensors).to.equal(before);
        });
      }
    }
  });

  describe('a build that fails in a later stage disposes the layers it made', () => {
    const cases: Array<[string, (c: Partial<SwinConfig>) => tf.LayersModel, Partial<SwinConfig>, RegExp]> = [
      ['stage 2’s channels not a multiple of its heads', swinTransformer, {numHeads: [1, 2, 3]},
       /SwinTransformerBlock 'layers_2_blocks_0': dim 16 must be a multiple of numHeads 3/],
      ['V2: the same', swinTransformerV2, {numHeads: [1, 2, 3]},
       /SwinTransformerV2Block 'layers_2_blocks_0': dim 16 must be a multiple of numHeads 3/],
      ['V1: timm’s mask does not fit an odd merge (nominal 12, tensor 13)', swinTransformer,
       {imgSize: 50, depths: [2, 2], numHeads: [1, 1], windowSize: 6},
       /SwinTransformerBlock 'layers_1_blocks_1': timm's shifted-window mask covers \[12,12\][^]*pads to \[18,18\]/],
      ['V2: a shifted stage the window does not divide (timm fails on it)', swinTransformerV2,
       {imgSize: 52, depths: [2, 1], numHeads: [1, 1], windowSize: 6},
       /SwinTransformerV2Block 'layers_0_blocks_1': timm's shifted-window mask covers \[26,26\] \(windowResolution \[26,26\], unpadded in Swin V2\)/],
      ['V2: a window of 1 (timm’s position bias divides by 0)', swinTransformerV2,
       {imgSize: 8, depths: [1, 1, 1], numHeads: [1, 1, 1], windowSize: 4},
       /SwinTransformerV2Block 'layers_2_blocks_0': window \[1,1\][^]*must be at least 2 along each axis/],
    ];
    for (const [what, build, change, message] of cases) {
      it(what, () => {
        const before = tf.memory().numTensors;
        expect(() => build({...SMALL, ...change})).to.throw(message);
        expect(tf.memory().numTensors).to.equal(before);
      });
    }

    it('(the same builds succeed, allocating weights, when the config is fixed)', () => {
      const before = tf.memory().numTensors;
      const model = swinTransformer({...SMALL, numHeads: [1, 2, 4]});
      expect(tf.memory().numTensors).to.be.greaterThan(before);
      model.dispose();
      expect(tf.memory().numTensors).to.equal(before);
    });
  });

  it('the layers name themselves and the argument', () => {
    expect(() => new PatchEmbedding({patchSize: 2, inChans: 3, embedDim: 0, name: 'stem'}))
        .to.throw(/^PatchEmbedding 'stem': embedDim must be a positive integer, got 0$/);
    expect(() => new PatchMerging({dim: -2, name: 'merge'})).to.throw(/^PatchMerging 'merge': dim must be a positive integer, got -2$/);
    expect(() => new WindowAttention({dim: 8, numHeads: 1.5, windowSize: 2, name: 'wa'}))
        .to.throw(/^WindowAttention 'wa': numHeads must be a positive integer, got 1\.5$/);
    expect(() => new WindowAttention({dim: 8, numHeads: 3, windowSize: 2, name: 'wa'}))
        .to.throw(/^WindowAttention 'wa': dim 8 must be a multiple of numHeads 3$/);
    const block = {dim: 8, inputResolution: [4, 4] as [number, number], numHeads: 2, windowSize: 2, name: 'b'};
    expect(() => new SwinTransformerBlock({...block, shiftSize: 2})).to.throw(/^SwinTransformerBlock 'b': shiftSize must be in \[0, windowSize\), got 2$/);
    expect(() => new SwinTransformerBlock({...block, inputResolution: [4, 0] as [number, number]}))
        .to.throw(/^SwinTransformerBlock 'b': inputResolution must be \[height, width\] of positive integers, got \[4,0\]$/);
    expect(() => new SwinTransformerBlock({...block, mlpRatio: 0.1}))
        .to.throw(/^SwinTransformerBlock 'b': mlpRatio 0.1 leaves the MLP of 8 channels no hidden unit$/);
    expect(() => new SwinTransformerV2Block({...block, dropPath: -0.1})).to.throw(/^SwinTransformerV2Block 'b': dropPath must be a rate in \[0, 1\), got -0.1$/);
    const x = tf.zeros([1, 4, 6, 8]);
    expect(() => new SwinTransformerBlock(block).apply(x))
        .to.throw(/^SwinTransformerBlock 'b': input shape \[1,4,6,8\] must be \[batch, 4, 4, 8\] \(inputResolution and dim\)$/);
    x.dispose();
    expect(() => new SwinTransformerV2Block({...block, attnDropRate: 2})).to.throw(/^SwinTransformerV2Block 'b': attnDropRate must be a rate in \[0, 1\), got 2$/);
  });

  describe('the safetensors reader', () => {
    /** A file with the given header and `dataBytes` bytes of data. */
    function file(header: object, dataBytes: number): Uint8Array {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.byteLength + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
      out.set(json, 8);
      return out;
    }
    const f32 = (begin: number, count: number) =>
      ({dtype: 'F32', shape: [count], data_offsets: [begin, begin + 4 * count]});

    it('reads a file whose tensors tile the data exactly (in any header order, with metadata)', () => {
      const entries = parseSafetensors(file({b: f32(8, 1), a: f32(0, 2), __metadata__: {format: 'pt'}}, 12));
      expect([...entries.keys()]).to.deep.equal(['b', 'a']);
      expect(entries.get('a')!.bytes.byteLength).to.equal(8);
    });

    it('rejects overlapping data_offsets', () => {
      expect(() => parseSafetensors(file({a: f32(0, 2), b: f32(4, 2)}, 12)))
          .to.throw(/^safetensors: 'b' data_offsets \[4, 12\] overlap those of 'a'$/);
      expect(() => parseSafetensors(file({a: f32(0, 2), b: f32(0, 2)}, 8))).to.throw(/overlap those of 'a'/);
    });

    it('rejects unused trailing bytes and holes', () => {
      expect(() => parseSafetensors(file({a: f32(0, 2)}, 12))).to.throw(/^safetensors: 4 trailing data bytes belong to no tensor$/);
      expect(() => parseSafetensors(file({a: f32(0, 1), b: f32(8, 1)}, 12)))
          .to.throw(/^safetensors: data bytes \[4, 8\) belong to no tensor$/);
    });

    it('knows no dtype through the prototype ("constructor", "toString", "__proto__")', () => {
      for (const dtype of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        expect(() => parseSafetensors(file({a: {dtype, shape: [1], data_offsets: [0, 4]}}, 4)))
            .to.throw(`safetensors: 'a' has unsupported dtype "${dtype}"`);
      }
    });

    it('writes what it reads, header padded to 8 bytes', () => {
      const bytes = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
      const written = serializeSafetensors(new Map([['x', {dtype: 'F32', shape: [3], bytes}]]));
      expect(Number(new DataView(written.buffer).getBigUint64(0, true)) % 8).to.equal(0);
      expect(Array.from(parseSafetensors(written).get('x')!.bytes)).to.deep.equal(Array.from(bytes));
      expect(() => serializeSafetensors(new Map([['x', {dtype: 'F32', shape: [2], bytes}]])))
          .to.throw(/safetensors: cannot write 'x': 12 bytes of dtype F32 for shape \[2\]/);
    });
  });
});
