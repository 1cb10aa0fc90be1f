/**
 * `loadTimmSwinWeights`: sets a `swinTransformer` model's weights from a safetensors file
 * holding a timm 1.0 `SwinTransformer` state_dict.
 *
 * Every model weight maps to one timm key: the layer name gives the module path
 * (`layers_2_blocks_3` → `layers.2.blocks.3`, `head_fc` → `head.fc`), the weight name the
 * parameter (`attn/qkv/kernel` → `attn.qkv.weight`, `gamma` / `beta` → `weight` / `bias`).
 * Linear weights [out, in] are transposed to Dense kernels [in, out]; Conv2d weights
 * [out, in, kh, kw] become [kh, kw, in, out].
 *
 * timm's buffers `relative_position_index` and `attn_mask` are derived from the config, and
 * timm 1.0 leaves them out of the state_dict (non-persistent); older checkpoints carry them.
 * When present they are checked against this port's own construction (a mismatch means the
 * checkpoint was made for another window or resolution) and otherwise not loaded.
 *
 * Everything is validated before any weight is written: a file with missing or unexpected
 * keys, or a shape mismatch, raises one error naming every bad key and leaves the model as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import {entryToFloat32, parseSafetensors, SafetensorsEntry} from './safetensors';
import {SwinTransformerBlock} from './swin_block';
import {relativePositionIndex, shiftWindowMask} from './window_ops';

const PARAMETER_NAMES: Record<string, string> = {kernel: 'weight', bias: 'bias', gamma: 'weight', beta: 'bias'};

/** timm's module path for a layer name of `swinTransformer`. */
function timmModulePath(layerName: string): string {
  if (layerName === 'head_fc') return 'head.fc';
  return layerName.replace(/^layers_(\d+)_blocks_(\d+)$/, 'layers.$1.blocks.$2')
      .replace(/^layers_(\d+)_downsample$/, 'layers.$1.downsample');
}

/** timm's key for a weight `path` (e.g. 'attn/qkv/kernel') of the layer `layerName`. */
export function timmKey(layerName: string, path: string): string {
  const parts = path.split('/');
  const last = parts.pop()!;
  return [timmModulePath(layerName), ...parts, PARAMETER_NAMES[last] ?? last].join('.');
}

/** The permutation from the PyTorch layout to this weight's layout (null: the same). */
function permutationFor(variable: LayerVariable, path: string): number[] | null {
  if (!path.endsWith('kernel')) return null;
  return variable.shape.length === 4 ? [2, 3, 1, 0] : variable.shape.length === 2 ? [1, 0] : null;
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
}

interface PlannedWrite {
  variable: LayerVariable;
  entry: SafetensorsEntry;
  permutation: number[] | null;
}

/** Checks a derived buffer (relative_position_index, attn_mask) against this port's construction; returns a problem or null. */
function checkBuffer(key: string, entry: SafetensorsEntry, model: tfl.LayersModel): string | null {
  const match = /^layers\.(\d+)\.blocks\.(\d+)\.(attn\.relative_position_index|attn_mask)$/.exec(key);
  if (match == null) return `unexpected key '${key}'`;
  const layerName = `layers_${match[1]}_blocks_${match[2]}`;
  const block = model.layers.find(l => l.name === layerName);
  if (!(block instanceof SwinTransformerBlock)) return `unexpected key '${key}': the model has no block ${layerName}`;
  const values = entryToFloat32(entry);
  if (match[3] === 'attn_mask') {
    if (!block.hasShift) return `'${key}': a mask for block ${layerName}, which has no shifted windows`;
    return sameValues(values, shiftWindowMask(block.inputResolution, block.window, block.shift)) ? null :
        `'${key}' differs from the shifted-window mask of block ${layerName} (window [${block.window}])`;
  }
  return sameValues(values, relativePositionIndex(block.window)) ? null :
      `'${key}' differs from the relative position index of a [${block.window}] window`;
}

/**
 * Sets `model`'s weights (built by `swinTransformer`) from the bytes of a safetensors file
 * of a timm SwinTransformer state_dict. Throws, having changed nothing, when the file does
 * not fit the model.
 */
export function loadTimmSwinWeights(model: tfl.LayersModel, bytes: Uint8Array | ArrayBuffer): void {
  const entries = parseSafetensors(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const problems: string[] = [];
  const writes: PlannedWrite[] = [];
  const used = new Set<string>();
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      const shape = variable.shape as number[];
      const name = variable.originalName;
      const path = name.slice(name.lastIndexOf(`${layer.name}/`) + layer.name.length + 1);
      const key = timmKey(layer.name, path);
      const entry = entries.get(key);
      if (entry == null) {
        problems.push(`missing key '${key}' (for weight ${name} [${shape}])`);
        continue;
      }
      used.add(key);
      const permutation = permutationFor(variable, path);
      const expected = permutation == null ? shape : permutation.map(axis => entry.shape[axis]);
      if (!sameValues(expected, shape) || entry.shape.length !== shape.length) {
        problems.push(`shape mismatch for '${key}': file has [${entry.shape}], weight ${name} is [${shape}]` +
                      (permutation == null ? '' : ` (in PyTorch's layout [${shape.map((_, a) => shape[permutation.indexOf(a)])}])`));
        continue;
      }
      writes.push({variable, entry, permutation});
    }
  }
  for (const [key, entry] of entries) {
    if (used.has(key)) continue;
    const problem = checkBuffer(key, entry, model);
    if (problem != null) problems.push(problem);
  }
  if (problems.length > 0) {
    throw new Error(`loadTimmSwinWeights: the file does not fit the model:\n  ${problems.join('\n  ')}`);
  }
  const values = tf.tidy(() => writes.map(({entry, permutation}) => {
    const t = tf.tensor(entryToFloat32(entry), entry.shape, 'float32');
    return permutation == null ? t : tf.transpose(t, permutation);
  }));
  writes.forEach(({variable}, i) => variable.write(values[i]));
  tf.dispose(values);
}
