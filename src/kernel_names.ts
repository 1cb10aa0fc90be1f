/**
 * Names, inputs and attributes of the registered kernels (docs/contract.md §3).
 * Every backend registers these names; the op and the gradient call them.
 */
import type {NamedTensorInfoMap, TensorInfo} from '@tensorflow/tfjs-core';

export const ScaledDotProductAttention = 'ScaledDotProductAttention';
export const ScaledDotProductAttentionGrad = 'ScaledDotProductAttentionGrad';

/** Causal alignment, applied inside each block-diagonal block (the whole sequence when none). */
export const enum CausalMode {
  None = 0,
  /** key j masked for query i when j > i (PyTorch `is_causal`). */
  TopLeft = 1,
  /** key j masked for query i when j > i + sk - sq. */
  BottomRight = 2,
}

export interface AttentionInputs extends NamedTensorInfoMap {
  query: TensorInfo;
  key: TensorInfo;
  value: TensorInfo;
  /** A tensor of rank ≤ 4 broadcasting (NumPy rules) to [B, Hq, Sq, Sk]. */
  bias?: TensorInfo;
  /** [nW, 1 | Hq, Sq, Sk]; batch b uses windowBias[b % nW]. */
  windowBias?: TensorInfo;
}

export interface AttentionGradInputs extends AttentionInputs {
  dy: TensorInfo;
  output: TensorInfo;
  logsumexp: TensorInfo;
}

export interface AttentionAttrs {
  [key: string]: number | number[] | boolean | string | undefined;
  /**
   * The fused kernel that runs the call, by its declared name (e.g. 'cpu-fused', 'cuda'):
   * the backend's registered kernel function runs that one. Absent: the backend's first.
   */
  implementation?: string;
  scale: number;
  causal: CausalMode;
  dropoutRate: number;
  /** uint32 seed of the dropout hash (docs/contract.md §5). */
  dropoutSeed: number;
  /**
   * Block-diagonal layout: cumulative starts of each packed sequence, including the
   * final end (xformers' seqstart), e.g. lengths [3, 5] → [0, 3, 8]. Empty: one block.
   */
  qSeqStarts: number[];
  kSeqStarts: number[];
  /**
   * Which optional inputs are present. The registered gradient sees only the saved
   * tensors and the attrs, so these say which saved tensors are the biases.
   */
  hasBias: boolean;
  hasWindowBias: boolean;
}
