/**
 * The bridge to timm: `loadTimmSwinWeights` sets a `swinTransformer` / `swinTransformerV2`
 * model's weights from a safetensors file of a timm 1.0 `SwinTransformer` /
 * `SwinTransformerV2` state_dict, and `exportTimmSwinWeights` writes such a file from the
 * model, with exactly the keys, shapes and float32 values that timm's
 * `load_state_dict(strict=True)` expects.
 *
 * Every model weight maps to one timm key: the layer name gives the module path
 * (`layers_2_blocks_3` → `layers.2.blocks.3`, `head_fc` → `head.fc`), the weight name the
 * parameter (`attn/qkv/kernel` → `attn.qkv.weight`, `gamma` / `beta` → `weight` / `bias`,
 * `attn/cpb_mlp/0/kernel` → `attn.cpb_mlp.0.weight`). Linear weights [out, in] are Dense
 * kernels [in, out] transposed; Conv2d weights [out, in, kh, kw] become [kh, kw, in, out].
 *
 * timm's buffers `relative_position_index`, `relative_coords_table` (V2) and `attn_mask` are
 * derived from the config, and timm 1.0 leaves them out of the state_dict (non-persistent);
 * older checkpoints carry them. When present they are checked against this port's own
 * construction (a mismatch means the checkpoint was made for another window or resolution)
 * and otherwise not loaded. The export leaves them out, as timm 1.0 does.
 *
 * Everything is validated before any weight is written: a file with missing or unexpected
 * keys, or a shape mismatch, raises one error naming every bad key and leaves the model as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import {entryToFloat32, parseSafetensors, SafetensorsEntry, serializeSafetensors} from './safetensors';
import {SwinBlockBase} from './swin_block';
import {SwinTransformerV2Block} from './swin_v2_block';
import {logSpacedRelativeCoordinates, relativePositionIndex} from './window_ops';

const PARAMETER_NAMES: Record<string, string> = {kernel: 'weight', bias: 'bias', gamma: 'weight', beta: 'bias'};

/** Layer names that carry weights in the models of `swinTransformer` and `swinTransformerV2`. */
const SWIN_LAYER_NAME = /^(patch_embed|layers_\d+_blocks_\d+|layers_\d+_downsample|norm|head_fc)$/;

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

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>, tolerance = 0): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tolerance);
}

/** Each weight of the model with its timm key: the bridge's one mapping, shared by load and export. */
function timmWeights(model: tfl.LayersModel):
    Array<{key: string, variable: LayerVariable, permutation: number[] | null}> {
  return model.layers.flatMap(layer => layer.weights.map(variable => {
    const name = variable.originalName;
    const path = name.slice(name.lastIndexOf(`${layer.name}/`) + layer.name.length + 1);
    return {key: timmKey(layer.name, path), variable, permutation: permutationFor(variable, path)};
  }));
}

interface PlannedWrite {
  variable: LayerVariable;
  entry: SafetensorsEntry;
  permutation: number[] | null;
}

const DERIVED_BUFFER = /^layers\.(\d+)\.blocks\.(\d+)\.(attn\.relative_position_index|attn\.relative_coords_table|attn_mask)$/;

/** Checks a derived buffer against this port's construction; returns a problem or null. */
function checkBuffer(key: string, entry: SafetensorsEntry, model: tfl.LayersModel): string | null {
  const match = DERIVED_BUFFER.exec(key);
  if (match == null) return `unexpected key '${key}'`;
  const layerName = `layers_${match[1]}_blocks_${match[2]}`;
  const block = model.layers.find(l => l.name === layerName);
  if (!(block instanceof SwinBlockBase)) return `unexpected key '${key}': the model has no block ${layerName}`;
  const values = entryToFloat32(entry);
  switch (match[3]) {
    case 'attn_mask': {
      const mask = block.shiftMaskValues();
      if (mask == null) return `'${key}': a mask for block ${layerName}, which has no shifted windows`;
      return sameValues(values, mask) ? null :
          `'${key}' differs from the shifted-window mask of block ${layerName} (window [${block.window}])`;
    }
    case 'attn.relative_coords_table':
      if (!(block instanceof SwinTransformerV2Block)) {
        return `unexpected key '${key}': block ${layerName} is not Swin V2`;
      }
      // timm computes the table in float32; this port in float64, rounded once.
      return sameValues(values, logSpacedRelativeCoordinates(block.window), 1e-6) ? null :
          `'${key}' differs from the relative coordinates of a [${block.window}] window`;
    default:
      return sameValues(values, relativePositionIndex(block.window)) ? null :
          `'${key}' differs from the relative position index of a [${block.window}] window`;
  }
}

/**
 * Sets `model`'s weights (built by `swinTransformer` or `swinTransformerV2`) from the bytes
 * of a safetensors file of a timm SwinTransformer or SwinTransformerV2 state_dict. Throws,
 * having changed nothing, when the file does not fit the model.
 */
export function loadTimmSwinWeights(model: tfl.LayersModel, bytes: Uint8Array | ArrayBuffer): void {
  const entries = parseSafetensors(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const problems: string[] = [];
  const writes: PlannedWrite[] = [];
  const used = new Set<string>();
  for (const {key, variable, permutation} of timmWeights(model)) {
    const shape = variable.shape as number[];
    const name = variable.originalName;
    const entry = entries.get(key);
    if (entry == null) {
      problems.push(`missing key '${key}' (for weight ${name} [${shape}])`);
      continue;
    }
    used.add(key);
    const expected = permutation == null ? entry.shape : permutation.map(axis => entry.shape[axis]);
    if (!sameValues(expected, shape) || entry.shape.length !== shape.length) {
      const pytorchShape = permutation == null ? null : shape.map((_, a) => shape[permutation.indexOf(a)]);
      problems.push(`shape mismatch for '${key}': file has [${entry.shape}], weight ${name} is [${shape}]` +
                    (pytorchShape == null ? '' : ` (in PyTorch's layout [${pytorchShape}])`));
      continue;
    }
    writes.push({variable, entry, permutation});
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

/**
 * The model's weights (a `swinTransformer` or `swinTransformerV2` model) as the bytes of a
 * safetensors file of timm's state_dict: timm's keys, PyTorch's layouts, float32, keys sorted.
 * timm's `load_state_dict(strict=True)` accepts it, as does `loadTimmSwinWeights`.
 */
export function exportTimmSwinWeights(model: tfl.LayersModel): Uint8Array {
  for (const layer of model.layers) {
    if (layer.weights.length > 0 && !SWIN_LAYER_NAME.test(layer.name)) {
      throw new Error(
          `exportTimmSwinWeights: layer '${layer.name}' (${layer.getClassName()}) has weights but no timm module: ` +
          'the model must come from swinTransformer or swinTransformerV2');
    }
  }
  const weights = timmWeights(model).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const entries = new Map<string, SafetensorsEntry>();
  for (const {key, variable, permutation} of weights) {
    if (entries.has(key)) throw new Error(`exportTimmSwinWeights: two weights map to timm key '${key}'`);
    const values = tf.tidy(() => {
      const value = variable.read();
      // The inverse of the load's permutation: this weight's layout back to PyTorch's.
      if (permutation == null) return tf.clone(value);
      return tf.transpose(value, permutation.map((_, a) => permutation.indexOf(a)));
    });
    const data = Float32Array.from(values.dataSync());
    entries.set(key, {dtype: 'F32', shape: values.shape, bytes: new Uint8Array(data.buffer)});
    values.dispose();
  }
  return serializeSafetensors(entries);
}
