/**
 * The CUDA kernels as TF.js kernel configs for a backend whose tensors live on the host
 * (`cpu`, `tensorflow`): each call reads its inputs from the backend, runs the addon
 * (copies to the device, kernel, copies back) and writes the outputs to the backend.
 */
import type {DataId, KernelBackend, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';
import type {FusedBackendKernels} from '../../src/dispatch';
import {attentionLayout} from '../../src/kernel_layout';
import {
  AttentionAttrs, AttentionGradInputs, AttentionInputs, ScaledDotProductAttention, ScaledDotProductAttentionGrad,
} from '../../src/kernel_names';
import type {CudaAddon, NativeSpec} from './addon';
import {cudaDeclaration} from './declaration';

export type CudaPrecision = 'highest' | 'tf32' | 'bf16';

const PRECISION_CODES: Record<CudaPrecision, number> = {highest: 0, tf32: 1, bf16: 2};

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
    if (!(values instanceof Float32Array)) {
      throw new Error(`tfjs-attention cuda: expected float32 data, got ${t.dtype}`);
    }
    return values;
  };
}

function writer(backend: KernelBackend) {
  return (values: Float32Array, shape: number[]): TensorInfo => {
    const dataId: DataId = backend.write(values, shape, 'float32');
    return {dataId, shape, dtype: 'float32'};
  };
}

/** The forward kernel for `backendName`: reads the inputs from the backend, runs the addon, writes the outputs. */
export function scaledDotProductAttentionConfig(addon: CudaAddon, backendName: string, precision: CudaPrecision):
    KernelConfig {
  return {
    kernelName: ScaledDotProductAttention,
    backendName,
    kernelFunc: ({inputs, backend, attrs}) => {
      const x = inputs as AttentionInputs;
      const spec = nativeSpec(x, attrs as unknown as AttentionAttrs, precision);
      const read = reader(backend as KernelBackend), write = writer(backend as KernelBackend);
      const [out, lse] =
          addon.forward(spec, read(x.query)!, read(x.key)!, read(x.value)!, read(x.bias), read(x.windowBias));
      const [B, Hq, Sq] = x.query.shape;
      return [write(out, [B, Hq, Sq, x.value.shape[3]]), write(lse, [B, Hq, Sq])];
    },
  };
}

/** The gradient kernel for `backendName`. */
export function scaledDotProductAttentionGradConfig(addon: CudaAddon, backendName: string, precision: CudaPrecision):
    KernelConfig {
  return {
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
}

/** The CUDA kernels for `backendName`: their configs and declaration. */
export function cudaKernels(addon: CudaAddon, backendName: string, precision: CudaPrecision): FusedBackendKernels {
  return {
    kernelConfigs: [
      scaledDotProductAttentionConfig(addon, backendName, precision),
      scaledDotProductAttentionGradConfig(addon, backendName, precision),
    ],
    declaration: cudaDeclaration(addon, backendName),
  };
}
