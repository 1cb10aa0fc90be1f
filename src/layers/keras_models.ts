/**
 * Keras models that hold MultiHeadAttention, in the TF.js layers format (model.json as
 * tensorflowjs_converter writes it for tf.keras models: Keras 2 node lists), loaded with this
 * package's layer. Keras wires the value, key and attention_mask as call kwargs, which
 * tfjs-layers' loader hands to the layer unresolved; the rewrite below makes them inputs of the
 * layer (attention_inputs.ts) and names the layer class this package registers. The weights
 * keep Keras's names and layout, so the weight manifest loads as it is.
 */
import * as tf from '@tensorflow/tfjs-core';
import {InputRole, packRoles} from './attention_inputs';
import {MultiHeadAttention} from './multi_head_attention';

const KERAS_CLASS = 'MultiHeadAttention';
const WHAT = 'Keras MultiHeadAttention';

type Json = Record<string, unknown>;
/** [layer name, node index, tensor index] (kwargs, where present, are read separately). */
type TensorRef = [string, number, number];
type NodeEntry = [string, number, number, Json?];

const isTensorRef = (x: unknown): x is TensorRef =>
  Array.isArray(x) && x.length >= 3 && typeof x[0] === 'string' && Number.isInteger(x[1]) && Number.isInteger(x[2]);

/** Keras's call kwargs that are tensors, by the role they fill here. */
const TENSOR_KWARGS: Record<string, InputRole> = {value: 'value', key: 'key', attention_mask: 'attentionMask'};
/** Keras 2 keeps the build shapes in the config; Keras 3's flash_attention is a backend choice. */
const DROPPED_CONFIG = ['query_shape', 'key_shape', 'value_shape', 'flash_attention'];

/** One inbound node of a Keras MultiHeadAttention, as this package's layer takes it. */
function convertNode(node: NodeEntry[], config: Json, layerName: string): NodeEntry[] {
  if (!Array.isArray(node) || node.length === 0 || !node.every(isTensorRef)) {
    throw new Error(`${WHAT} '${layerName}': inbound node ${JSON.stringify(node)} is not in the Keras 2 node format`);
  }
  const refs: Partial<Record<InputRole, string>> = {};
  const positional: InputRole[] = ['query', 'value', 'key'];
  node.forEach((entry, i) => {
    if (i >= positional.length) throw new Error(`${WHAT} '${layerName}': more than 3 positional inputs`);
    refs[positional[i]] = JSON.stringify(entry.slice(0, 3));
  });
  for (const [name, value] of Object.entries((node[0] as NodeEntry)[3] ?? {})) {
    if (name in TENSOR_KWARGS && isTensorRef(value)) {
      refs[TENSOR_KWARGS[name]] = JSON.stringify(value.slice(0, 3));
    } else if (name === 'use_causal_mask') {
      if (value === true) config.use_causal_mask = true;
    } else if (!(name === 'training' && value == null) && !(name === 'return_attention_scores' && value === false) &&
               value != null) {
      throw new Error(`${WHAT} '${layerName}': call argument ${name}=${JSON.stringify(value)} is not supported`);
    }
  }
  if (refs.value == null) throw new Error(`${WHAT} '${layerName}': no value input in ${JSON.stringify(node)}`);
  refs.key ??= refs.value;
  const {values, layout} = packRoles(refs as {query: string, value: string, key: string});
  if (config.input_layout != null && JSON.stringify(config.input_layout) !== JSON.stringify(layout)) {
    throw new Error(`${WHAT} '${layerName}': called with different inputs at different nodes`);
  }
  config.input_layout = layout;
  return values.map(ref => [...JSON.parse(ref) as TensorRef, {}]);
}

/** The model config inside a modelTopology ({class_name, config} or Keras's {model_config: …}). */
function modelConfig(topology: Json): Json {
  const model = (topology.model_config ?? topology) as Json;
  return model.config as Json;
}

/**
 * A copy of `modelTopology` (model.json's, Keras 2 node lists) in which each Keras
 * MultiHeadAttention is this package's MultiHeadAttention, with its tensor kwargs as inputs.
 */
export function convertKerasMultiHeadAttention<T extends object>(modelTopology: T): T {
  const topology = JSON.parse(JSON.stringify(modelTopology)) as Json;
  const layers = modelConfig(topology)?.layers;
  if (!Array.isArray(layers)) throw new Error(`${WHAT}: modelTopology has no layer list`);
  for (const layer of layers as Json[]) {
    if (layer.class_name !== KERAS_CLASS) continue;
    const config = layer.config as Json;
    DROPPED_CONFIG.forEach(key => delete config[key]);
    if (typeof config.dtype === 'object') delete config.dtype;
    const nodes = (layer.inbound_nodes ?? []) as NodeEntry[][];
    layer.inbound_nodes = nodes.map(node => convertNode(node, config, String(layer.name)));
    layer.class_name = MultiHeadAttention.className;
  }
  return topology as T;
}

/** `handler` with the Keras MultiHeadAttention layers of the model it loads made this package's. */
export function withKerasMultiHeadAttention(handler: tf.io.IOHandler): tf.io.IOHandler {
  if (handler.load == null) throw new Error(`${WHAT}: the handler cannot load`);
  return {
    load: async () => {
      const artifacts = await handler.load!();
      if (artifacts.modelTopology == null || artifacts.modelTopology instanceof ArrayBuffer) return artifacts;
      return {...artifacts, modelTopology: convertKerasMultiHeadAttention(artifacts.modelTopology)};
    },
  };
}
