/**
 * Runs the library's TensorFlow ops (op_names.h) through tfjs-node's op execution, so their
 * inputs and outputs stay TensorFlow tensors.
 */
import type {KernelBackend, NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';
import type {AttentionAttrs} from '../../src/kernel_names';

export const FORWARD_OP = 'TfjsScaledDotProductAttention';
export const GRAD_OP = 'TfjsScaledDotProductAttentionGrad';

/** What this package uses of tfjs-node's NodeJSKernelBackend. */
interface NodeJSKernelBackend extends KernelBackend {
  binding: {TF_ATTR_INT: number, TF_ATTR_FLOAT: number, TF_ATTR_BOOL: number};
  executeMultipleOutputs(name: string, opAttrs: OpAttr[], inputs: TensorInfo[], numOutputs: number): Tensor[];
}

interface OpAttr {
  name: string;
  type: number;
  value: number | number[] | boolean;
}

function opAttrs(backend: NodeJSKernelBackend, attrs: AttentionAttrs): OpAttr[] {
  const {TF_ATTR_INT: INT, TF_ATTR_FLOAT: FLOAT, TF_ATTR_BOOL: BOOL} = backend.binding;
  return [
    {name: 'scale', type: FLOAT, value: attrs.scale},
    {name: 'causal', type: INT, value: attrs.causal},
    {name: 'dropout_rate', type: FLOAT, value: attrs.dropoutRate},
    {name: 'dropout_seed', type: INT, value: attrs.dropoutSeed >>> 0},
    {name: 'q_seq_starts', type: INT, value: attrs.qSeqStarts},
    {name: 'k_seq_starts', type: INT, value: attrs.kSeqStarts},
    {name: 'has_bias', type: BOOL, value: attrs.hasBias},
    {name: 'has_window_bias', type: BOOL, value: attrs.hasWindowBias},
  ];
}

/**
 * The op's stand-in for an absent bias: a float32 tensor of shape [0], one per backend,
 * kept for the process (creating one per call cost more than a small call's attention).
 * It lives in the backend only, so tf.memory() does not count it.
 */
const emptyTensors = new WeakMap<KernelBackend, TensorInfo>();

function emptyTensor(backend: KernelBackend): TensorInfo {
  let empty = emptyTensors.get(backend);
  if (empty == null) {
    empty = {dataId: backend.write(new Float32Array(0), [0], 'float32'), shape: [0], dtype: 'float32'};
    emptyTensors.set(backend, empty);
  }
  return empty;
}

/** Runs `opName` on `inputs`, an absent bias (undefined) passed as the op's [0] tensor; returns all its outputs. */
export function runTensorflowOp(opName: string, kernelBackend: KernelBackend, attrs: NamedAttrMap,
                                inputs: Array<TensorInfo | undefined>, numOutputs: number): Tensor[] {
  const backend = kernelBackend as NodeJSKernelBackend;
  const opInputs = inputs.map(input => input ?? emptyTensor(backend));
  const tfAttrs = opAttrs(backend, attrs as unknown as AttentionAttrs);
  return backend.executeMultipleOutputs(opName, tfAttrs, opInputs, numOutputs);
}
