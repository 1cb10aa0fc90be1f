/**
 * `swinTransformer(config)`: timm 1.0's `SwinTransformer` as a tf.LayersModel on NHWC
 * float32 input. Layers are named after timm's module paths (`patch_embed`,
 * `layers_1_downsample`, `layers_2_blocks_3`, `norm`, `head_fc`) so that timm weights map
 * onto them by name (see timm_weights.ts).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {PatchEmbedding} from './patch_embedding';
import {PatchMerging} from './patch_merging';
import {SwinTransformerBlock} from './swin_block';
import {LAYER_NORM_EPSILON} from './weights';

export interface SwinConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  /** Blocks per stage; stage i > 0 starts with a PatchMerging, doubling the channels. */
  depths: number[];
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** Dropout before the classifier (timm's `drop_rate`, which applies in the head only). */
  dropRate: number;
  attnDropRate: number;
  /** Stochastic depth, rising linearly from 0 over the blocks to this rate (timm's `dpr`). */
  dropPathRate: number;
}

const DEFAULTS: SwinConfig = {
  imgSize: 224, patchSize: 4, inChans: 3, numClasses: 1000, embedDim: 96, depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24], windowSize: 7, mlpRatio: 4, qkvBias: true, dropRate: 0, attnDropRate: 0,
  dropPathRate: 0.1,
};

/** timm's `swin_{tiny,small,base}_patch4_window7_224`. */
export const swinPresets: Readonly<Record<'tiny' | 'small' | 'base', SwinConfig>> = {
  tiny: {...DEFAULTS, embedDim: 96, depths: [2, 2, 6, 2], numHeads: [3, 6, 12, 24], dropPathRate: 0.2},
  small: {...DEFAULTS, embedDim: 96, depths: [2, 2, 18, 2], numHeads: [3, 6, 12, 24], dropPathRate: 0.3},
  base: {...DEFAULTS, embedDim: 128, depths: [2, 2, 18, 2], numHeads: [4, 8, 16, 32], dropPathRate: 0.5},
};

/** The stochastic depth rate of every block, as torch.linspace(0, rate, total). */
function dropPathRates(rate: number, total: number): number[] {
  return Array.from({length: total}, (_, k) => (total === 1 ? 0 : (rate * k) / (total - 1)));
}

function checkConfig(c: SwinConfig): void {
  const fail = (what: string) => {
    throw new Error(`swinTransformer: ${what}`);
  };
  if (c.depths.length === 0 || c.depths.length !== c.numHeads.length) {
    fail(`depths and numHeads must be non-empty and of one length, got [${c.depths}] and [${c.numHeads}]`);
  }
  if (c.imgSize % c.patchSize !== 0) fail(`imgSize ${c.imgSize} must be a multiple of patchSize ${c.patchSize}`);
  if (!(c.numClasses >= 1)) fail(`numClasses must be ≥ 1, got ${c.numClasses}`);
  let resolution = c.imgSize / c.patchSize;
  c.numHeads.forEach((heads, i) => {
    const dim = c.embedDim * 2 ** i;
    if (dim % heads !== 0) fail(`stage ${i}: ${dim} channels are not a multiple of numHeads ${heads}`);
    if (i > 0 && resolution % 2 !== 0) fail(`stage ${i}: patch merging needs an even resolution, got ${resolution}`);
    if (i > 0) resolution /= 2;
  });
}

/** A Swin Transformer classifier: input [batch, imgSize, imgSize, inChans], output logits [batch, numClasses]. */
export function swinTransformer(config: Partial<SwinConfig> = {}): tfl.LayersModel {
  const c: SwinConfig = {...DEFAULTS, ...config};
  checkConfig(c);
  const input = tfl.input({shape: [c.imgSize, c.imgSize, c.inChans], name: 'image'});
  let x = new PatchEmbedding({patchSize: c.patchSize, inChans: c.inChans, embedDim: c.embedDim, name: 'patch_embed'})
              .apply(input) as tfl.SymbolicTensor;
  const rates = dropPathRates(c.dropPathRate, c.depths.reduce((a, b) => a + b, 0));
  let resolution = c.imgSize / c.patchSize;
  let block = 0;
  c.depths.forEach((depth, stage) => {
    const dim = c.embedDim * 2 ** stage;
    if (stage > 0) {
      x = new PatchMerging({dim: dim / 2, outDim: dim, name: `layers_${stage}_downsample`}).apply(x) as tfl.SymbolicTensor;
      resolution = Math.floor(resolution / 2);
    }
    for (let i = 0; i < depth; i++) {
      x = new SwinTransformerBlock({
            dim, inputResolution: [resolution, resolution], numHeads: c.numHeads[stage], windowSize: c.windowSize,
            shiftSize: i % 2 === 1 ? Math.floor(c.windowSize / 2) : 0, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias,
            attnDropRate: c.attnDropRate, dropPath: rates[block++], name: `layers_${stage}_blocks_${i}`,
          }).apply(x) as tfl.SymbolicTensor;
    }
  });
  x = tfl.layers.layerNormalization({epsilon: LAYER_NORM_EPSILON, name: 'norm'}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({name: 'head_pool'}).apply(x) as tfl.SymbolicTensor;
  if (c.dropRate > 0) x = tfl.layers.dropout({rate: c.dropRate, name: 'head_drop'}).apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({
                   units: c.numClasses, name: 'head_fc', kernelInitializer: tfl.initializers.truncatedNormal({stddev: 0.02}),
                 }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({inputs: input, outputs: logits, name: 'swin_transformer'});
}
