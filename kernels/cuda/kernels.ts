/**
 * The CUDA kernels as TF.js kernel configs for a backend whose tensors live on the host
 * (`cpu`, `tensorflow`): each call reads its inputs from the backend, runs the addon
 * (copies to the device, kernel, copies back) and writes the outputs to the backend.
 */
import type {DataId, KernelBackend, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import {FusedBackendKernels, unsupportedBiasKinds} from '../../src/dispatch';
import {attentionLayout} from '../../src/kernel_layout';
import {AttentionAttrs, AttentionGradInputs, AttentionInputs, ScaledDotProductAttention, ScaledDotProductAttentionGrad} from '../../src/kernel_names';
import type {CudaAddon, NativeSpec} from './addon';

export type CudaPrecision = 'highest' | 'tf32' | 'bf16';

const PRECISION_CODES: Record<CudaPrecision, number> = {highest: 0, tf32: 1, bf16: 2};
const SUPPORTED_BIAS_KINDS = new Set(['tensor', 'window', 'causal', 'blockDiagonal']);
/** The kernels' largest head dim (csrc/launch.h kMaxHeadDim). */
export const CUDA_MAX_HEAD_DIM = 128;

const size = (t: TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

function nativeSpec(inputs: AttentionInputs, attrs: AttentionAttrs, precision: CudaPrecision): NativeSpec {
  const layout = attentionLayout(inputs, attrs);
  const s = layout.shape;
  return {
    precision: PRECISION_CODES[precision],
    shape: [s.batch, s.headsQ, s.headsKV, s.seqQ, s.seqK, s.headDim, s.valueDim],
    scale: attrs.scale,
    causal: attrs.causal,
    dropoutRate: attrs.dropoutRate,
    dropoutSeed: attrs.dropoutSeed >>> 0,
    qSeqStarts: attrs.qSeqStarts,
    kSeqStarts: attrs.kSeqStarts,
    biasStrides: layout.biasStrides,
    biasElements: inputs.bias != null ? size(inputs.bias) : 0,
    windowStrides: layout.windowStrides,
    numWindows: layout.numWindows,
    windowElements: inputs.windowBias != null ? size(inputs.windowBias) : 0,
  };
}

function reader(backend: KernelBackend) {
  return (t: TensorInfo | undefined): Float32Array | null => {
    if (t == null) return null;
    const values = backend.readSync(t.dataId);
    if (!(values instanceof Float32Array)) throw new Error(`tfjs-attention cuda: expected float32 data, got ${t.dtype}`);
    return values;
  };
}

function writer(backend: KernelBackend) {
  return (values: Float32Array, shape: number[]): TensorInfo => {
    const dataId: DataId = backend.write(values, shape, 'float32');
    return {dataId, shape, dtype: 'float32'};
  };
}

/** The forward and gradient kernel configs and the declaration for `backendName`. */
export function cudaKernels(addon: CudaAddon, backendName: string, precision: CudaPrecision): FusedBackendKernels {
  const forward: KernelConfig = {
    kernelName: ScaledDotProductAttention,
    backendName,
    kernelFunc: ({inputs, backend, attrs}) => {
      const x = inputs as AttentionInputs;
      const spec = nativeSpec(x, attrs as unknown as AttentionAttrs, precision);
      const read = reader(backend as KernelBackend), write = writer(backend as KernelBackend);
      const [out, lse] = addon.forward(spec, read(x.query)!, read(x.key)!, read(x.value)!, read(x.bias), read(x.windowBias));
      const [B, Hq, Sq] = x.query.shape;
      return [write(out, [B, Hq, Sq, x.value.shape[3]]), write(lse, [B, Hq, Sq])];
    },
  };
  const grad: KernelConfig = {
    kernelName: ScaledDotProductAttentionGrad,
    backendName,
    kernelFunc: ({inputs, backend, attrs}) => {
      const x = inputs as AttentionGradInputs;
      const spec = nativeSpec(x, attrs as unknown as AttentionAttrs, precision);
      const read = reader(backend as KernelBackend), write = writer(backend as KernelBackend);
      const [dq, dk, dv, dBias, dWindow] = addon.backward(
          spec, read(x.dy)!, read(x.query)!, read(x.key)!, read(x.value)!, read(x.output)!, read(x.logsumexp)!,
          read(x.bias), read(x.windowBias));
      const outputs = [write(dq, x.query.shape), write(dk, x.key.shape), write(dv, x.value.shape)];
      if (x.bias != null) outputs.push(write(dBias!, x.bias.shape));
      if (x.windowBias != null) outputs.push(write(dWindow!, x.windowBias.shape));
      return outputs;
    },
  };
  return {
    kernelConfigs: [forward, grad],
    declaration: {
      name: 'cuda',
      backendName,
      notSupportedReasons: call => {
        const reasons = unsupportedBiasKinds(call, SUPPORTED_BIAS_KINDS);
        const dim = Math.max(call.shape.headDim, call.shape.valueDim);
        if (dim > CUDA_MAX_HEAD_DIM) reasons.push(`head dim ${dim} is above the CUDA kernels' ${CUDA_MAX_HEAD_DIM}`);
        return reasons;
      },
    },
  };
}
