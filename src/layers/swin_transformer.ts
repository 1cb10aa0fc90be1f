/**
 * `swinTransformer(config)` and `swinTransformerV2(config)`: timm 1.0's `SwinTransformer` and
 * `SwinTransformerV2` as tf.LayersModels on NHWC float32 input. Layers are named after timm's
 * module paths (`patch_embed`, `layers_1_downsample`, `layers_2_blocks_3`, `norm`, `head_fc`)
 * so that timm weights map onto them by name (see timm_weights.ts).
 *
 * Stage sizes follow timm: stage s's blocks take their window and shift from the patch grid
 * floor-divided by 2^s, while patch merging pads odd sizes (the tensor is the ceiling), and
 * a stage the window does not divide is padded to whole windows.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type {Layer} from '@tensorflow/tfjs-layers/dist/exports_layers';
import {checkBoolean, checkPositiveInteger, checkPositiveNumber, checkRate} from './args';
import {PatchEmbedding} from './patch_embedding';
import {PatchMerging} from './patch_merging';
import {SwinTransformerBlock, SwinTransformerBlockArgs} from './swin_block';
import {SwinTransformerV2Block} from './swin_v2_block';
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

/** timm's `swinv2_{tiny,small,base}_window{8,16}_256`, with the stochastic depth of `swinPresets`. */
export const swinV2Presets: Readonly<Record<
    'tiny_window8_256' | 'tiny_window16_256' | 'small_window8_256' | 'small_window16_256' | 'base_window8_256' |
    'base_window16_256', SwinConfig>> = {
  tiny_window8_256: {...swinPresets.tiny, imgSize: 256, windowSize: 8},
  tiny_window16_256: {...swinPresets.tiny, imgSize: 256, windowSize: 16},
  small_window8_256: {...swinPresets.small, imgSize: 256, windowSize: 8},
  small_window16_256: {...swinPresets.small, imgSize: 256, windowSize: 16},
  base_window8_256: {...swinPresets.base, imgSize: 256, windowSize: 8},
  base_window16_256: {...swinPresets.base, imgSize: 256, windowSize: 16},
};

/** The stochastic depth rate of every block, as torch.linspace(0, rate, total). */
function dropPathRates(rate: number, total: number): number[] {
  return Array.from({length: total}, (_, k) => (total === 1 ? 0 : (rate * k) / (total - 1)));
}

/** The config with defaults filled in, every key checked; nothing is allocated. */
function resolveConfig(builder: string, config: Partial<SwinConfig>): SwinConfig {
  const fail = (what: string): never => {
    throw new Error(`${builder}: ${what}`);
  };
  if (config == null || typeof config !== 'object') fail(`config must be an object, got ${String(config)}`);
  for (const key of Object.keys(config)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULTS, key)) {
      fail(`unknown config key '${key}' (known: ${Object.keys(DEFAULTS).join(', ')})`);
    }
  }
  const c: SwinConfig = {...DEFAULTS, ...config};
  for (const key of ['imgSize', 'patchSize', 'inChans', 'numClasses', 'embedDim', 'windowSize'] as const) {
    checkPositiveInteger(builder, key, c[key]);
  }
  checkPositiveNumber(builder, 'mlpRatio', c.mlpRatio);
  checkBoolean(builder, 'qkvBias', c.qkvBias);
  for (const key of ['dropRate', 'attnDropRate', 'dropPathRate'] as const) checkRate(builder, key, c[key]);
  for (const key of ['depths', 'numHeads'] as const) {
    const values = c[key];
    if (!Array.isArray(values) || values.length === 0) {
      fail(`${key} must be a non-empty array, got ${JSON.stringify(values)}`);
    }
    values.forEach((v, i) => checkPositiveInteger(builder, `${key}[${i}]`, v));
  }
  if (c.depths.length !== c.numHeads.length) {
    fail(`depths and numHeads must be of one length, got [${c.depths}] and [${c.numHeads}]`);
  }
  if (c.imgSize % c.patchSize !== 0) fail(`imgSize ${c.imgSize} must be a multiple of patchSize ${c.patchSize}`);
  const grid = c.imgSize / c.patchSize;
  if (Math.floor(grid / 2 ** (c.depths.length - 1)) < 1) {
    fail(`${c.depths.length} stages need a patch grid of at least ${2 ** (c.depths.length - 1)}, got ${grid} ` +
         '(timm floor-halves it per stage)');
  }
  return c;
}

type BlockClass = new (args: SwinTransformerBlockArgs) => SwinTransformerBlock | SwinTransformerV2Block;

/**
 * Builds the model; the layers made so far are disposed if one of them rejects its arguments
 * (a stage's channels not a multiple of its heads, say), so that a failed build leaks nothing.
 */
function buildSwin(builder: string, config: Partial<SwinConfig>, Block: BlockClass, v2: boolean): tfl.LayersModel {
  const c = resolveConfig(builder, config);
  const layers: Layer[] = [];
  const add = <T extends Layer>(layer: T): T => {
    layers.push(layer);
    return layer;
  };
  try {
    const input = tfl.input({shape: [c.imgSize, c.imgSize, c.inChans], name: 'image'});
    const embedding =
        new PatchEmbedding({patchSize: c.patchSize, inChans: c.inChans, embedDim: c.embedDim, name: 'patch_embed'});
    let x = add(embedding).apply(input) as tfl.SymbolicTensor;
    const rates = dropPathRates(c.dropPathRate, c.depths.reduce((a, b) => a + b, 0));
    const grid = c.imgSize / c.patchSize;
    let resolution = grid;
    let block = 0;
    c.depths.forEach((depth, stage) => {
      const dim = c.embedDim * 2 ** stage;
      if (stage > 0) {
        x = add(new PatchMerging({dim: dim / 2, outDim: dim, postNorm: v2, name: `layers_${stage}_downsample`}))
                .apply(x) as tfl.SymbolicTensor;
        resolution = Math.ceil(resolution / 2);
      }
      const nominal = Math.floor(grid / 2 ** stage);
      for (let i = 0; i < depth; i++) {
        x = add(new Block({
              dim, inputResolution: [resolution, resolution], windowResolution: [nominal, nominal],
              numHeads: c.numHeads[stage], windowSize: c.windowSize,
              shiftSize: i % 2 === 1 ? Math.floor(c.windowSize / 2) : 0, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias,
              attnDropRate: c.attnDropRate, dropPath: rates[block++], name: `layers_${stage}_blocks_${i}`,
            })).apply(x) as tfl.SymbolicTensor;
      }
    });
    x = add(tfl.layers.layerNormalization({epsilon: LAYER_NORM_EPSILON, name: 'norm'})).apply(x) as tfl.SymbolicTensor;
    x = add(tfl.layers.globalAveragePooling2d({name: 'head_pool'})).apply(x) as tfl.SymbolicTensor;
    if (c.dropRate > 0) {
      x = add(tfl.layers.dropout({rate: c.dropRate, name: 'head_drop'})).apply(x) as tfl.SymbolicTensor;
    }
    const head = tfl.layers.dense({
      units: c.numClasses, name: 'head_fc', kernelInitializer: tfl.initializers.truncatedNormal({stddev: 0.02}),
    });
    const logits = add(head).apply(x) as tfl.SymbolicTensor;
    return tfl.model({inputs: input, outputs: logits, name: v2 ? 'swin_transformer_v2' : 'swin_transformer'});
  } catch (e) {
    layers.filter(layer => layer.built).forEach(layer => layer.dispose());
    throw e;
  }
}

/** A Swin Transformer classifier: input [batch, imgSize, imgSize, inChans], output logits [batch, numClasses]. */
export function swinTransformer(config: Partial<SwinConfig> = {}): tfl.LayersModel {
  return buildSwin('swinTransformer', config, SwinTransformerBlock, false);
}

/**
 * A Swin Transformer V2 classifier (timm's `SwinTransformerV2`: cosine attention, continuous
 * position bias, res-post-norm), with the keys of `swinTransformer`.
 */
export function swinTransformerV2(config: Partial<SwinConfig> = {}): tfl.LayersModel {
  return buildSwin('swinTransformerV2', config, SwinTransformerV2Block, true);
}
