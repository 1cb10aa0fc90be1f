/**
 * What every backend's kernels derive from their inputs and attrs: sizes, the strides
 * that broadcast the biases without materializing them, and, per query row, the range
 * of keys that causal and block-diagonal masking leave (so whole tiles can be skipped).
 *
 * A call's description, stage by stage; each stage has one name in every backend:
 *
 *   stage           type                             made by                  where
 *   plan            AttentionPlan                    plan()                   src/scaled_dot_product_attention.ts
 *     the op's validated call: shape, bias objects, scale, dropout, the dispatch
 *   bias form       LoweredBias                      AttentionBias.lowerInto  src/bias/attention_bias.ts
 *     the biases as the kernels take them: summed tensors, causal mode, sequence starts
 *   call            AttentionCall                    plan()                   src/dispatch.ts
 *     what a kernel's declaration (KernelDeclaration) is judged against
 *   kernel inputs   AttentionInputs, AttentionAttrs  runFused()               src/kernel_names.ts
 *     the registered kernels' inputs and attrs (docs/contract.md §3)
 *   shape           AttentionShape                   attentionLayout()        src/shapes.ts
 *     the sizes B, Hq, Hkv, Sq, Sk, D, Dv
 *   layout          AttentionLayout                  attentionLayout()        this module
 *     the shape, bias strides and each row's key range, from the kernel inputs and attrs
 *   backend form    AttentionProblem (cpu), AttentionGeometry (webgl, webgpu), from the layout:
 *                   what one backend's kernels work from (arrays read, tile plans, uniforms)
 *   native spec     NativeSpec                       nativeSpec()             kernels/cuda/addon.ts
 *     the CUDA addon's arguments besides the arrays; its C++ side reads them into a CallSpec
 *
 * Each backend's kernel configs are named scaledDotProductAttentionConfig and
 * scaledDotProductAttentionGradConfig, and its declaration lives in kernels/<backend>/declaration.ts.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import {AttentionAttrs, CausalMode} from './kernel_names';
import {AttentionShape, broadcastStrides} from './shapes';

export interface AttentionLayout {
  shape: AttentionShape;
  /** Query heads per key/value head. */
  group: number;
  /** Element strides of `bias` over [B, Hq, Sq, Sk] (0 on broadcast dims), or null. */
  biasStrides: number[] | null;
  /** Element strides of `windowBias` over [b % nW, h, i, j], or null. */
  windowStrides: number[] | null;
  numWindows: number;
  /** For query row i, keys in [keyStart[i], keyEnd[i]) may be unmasked; empty: a fully masked row. */
  keyStart: Int32Array;
  keyEnd: Int32Array;
}

export interface LayoutInputs {
  query: TensorInfo;
  key: TensorInfo;
  value: TensorInfo;
  bias?: TensorInfo;
  windowBias?: TensorInfo;
}

export function attentionLayout(inputs: LayoutInputs, attrs: AttentionAttrs): AttentionLayout {
  const [batch, headsQ, seqQ, headDim] = inputs.query.shape;
  const [, headsKV, seqK] = inputs.key.shape;
  const valueDim = inputs.value.shape[3];
  const shape = {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim};
  const scores = [batch, headsQ, seqQ, seqK];
  const biasStrides = inputs.bias != null ? broadcastStrides(inputs.bias.shape, scores) : null;
  let windowStrides: number[] | null = null;
  let numWindows = 1;
  if (inputs.windowBias != null) {
    const [nW, h] = inputs.windowBias.shape;
    numWindows = nW;
    windowStrides = [h * seqQ * seqK, h === 1 ? 0 : seqQ * seqK, seqK, 1];
  }
  const {keyStart, keyEnd} = keyRanges(shape, attrs);
  return {shape, group: headsQ / headsKV, biasStrides, windowStrides, numWindows, keyStart, keyEnd};
}

function keyRanges(shape: AttentionShape, attrs: AttentionAttrs): {keyStart: Int32Array, keyEnd: Int32Array} {
  const {seqQ, seqK} = shape;
  const qStarts = attrs.qSeqStarts.length > 0 ? attrs.qSeqStarts : [0, seqQ];
  const kStarts = attrs.kSeqStarts.length > 0 ? attrs.kSeqStarts : [0, seqK];
  const keyStart = new Int32Array(seqQ);
  const keyEnd = new Int32Array(seqQ);
  for (let block = 0; block + 1 < qStarts.length; block++) {
    const q0 = qStarts[block], q1 = qStarts[block + 1];
    const k0 = kStarts[block], k1 = kStarts[block + 1];
    const diagonal = attrs.causal === CausalMode.BottomRight ? (k1 - k0) - (q1 - q0) : 0;
    for (let i = q0; i < q1; i++) {
      keyStart[i] = k0;
      const causalEnd = k0 + (i - q0) + diagonal + 1;
      keyEnd[i] = attrs.causal === CausalMode.None ? k1 : Math.max(k0, Math.min(k1, causalEnd));
    }
  }
  return {keyStart, keyEnd};
}
