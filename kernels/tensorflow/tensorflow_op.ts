/**
 * Runs the library's TensorFlow ops (op_names.h) through tfjs-node's op execution, so their
 * inputs and outputs stay TensorFlow tensors.
 */
import type {DataId, KernelBackend, NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';
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
 * Runs `opName` on `inputs`, where an absent bias (undefined) is passed as the op's float32
 * tensor of shape [0]; returns all the op's outputs.
 */
export function runTensorflowOp(opName: string, kernelBackend: KernelBackend, attrs: NamedAttrMap,
                                inputs: Array<TensorInfo | undefined>, numOutputs: number): Tensor[] {
  const backend = kernelBackend as NodeJSKernelBackend;
  const empties: DataId[] = [];
  const opInputs = inputs.map(input => {
    if (input != null) return input;
    const dataId = backend.write(new Float32Array(0), [0], 'float32');
    empties.push(dataId);
    return {dataId, shape: [0], dtype: 'float32'} as TensorInfo;
  });
  try {
    const tfAttrs = opAttrs(backend, attrs as unknown as AttentionAttrs);
    return backend.executeMultipleOutputs(opName, tfAttrs, opInputs, numOutputs);
  } finally {
    for (const dataId of empties) backend.disposeData(dataId);
  }
}
