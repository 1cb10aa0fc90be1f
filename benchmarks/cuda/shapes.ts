/** The benchmark's shapes (issue 4), shared by the Node timers and the report. */
import type {NativeSpec} from '../../kernels/cuda/addon';

export interface BenchShape {
  name: string;
  batch: number;
  heads: number;
  seq: number;
  headDim: number;
  causal: boolean;
  /** Swin: a [1, H, S, S] relative bias plus a [nW, 1, S, S] window mask. */
  windows?: number;
}

export const SHAPES: BenchShape[] = [
  {name: 'LM 8×12×1024×64', batch: 8, heads: 12, seq: 1024, headDim: 64, causal: false},
  {name: 'LM 4×16×2048×64 causal', batch: 4, heads: 16, seq: 2048, headDim: 64, causal: true},
  {name: 'LM 2×16×4096×128', batch: 2, heads: 16, seq: 4096, headDim: 128, causal: false},
  {name: 'Swin stage 1 2048×3×49×32', batch: 2048, heads: 3, seq: 49, headDim: 32, causal: false, windows: 64},
  {name: 'Swin stage 3 128×12×49×32', batch: 128, heads: 12, seq: 49, headDim: 32, causal: false, windows: 4},
];

/** Forward FLOPs (two matrix products); causal counts the unmasked half. */
export function forwardFlops(s: BenchShape): number {
  const flops = 4 * s.batch * s.heads * s.seq * s.seq * s.headDim;
  return s.causal ? flops / 2 : flops;
}

/** Backward: five matrix products to the forward's two. */
export function backwardFlops(s: BenchShape): number {
  return forwardFlops(s) * 2.5;
}

/** The addon's spec of a shape at a precision code (0 'highest', 1 'tf32', 2 'bf16'). */
export function benchSpec(s: BenchShape, precision: number): NativeSpec {
  const S = s.seq;
  return {
    precision, shape: [s.batch, s.heads, s.heads, S, S, s.headDim, s.headDim], scale: 1 / Math.sqrt(s.headDim),
    causal: s.causal ? 1 : 0, dropoutRate: 0, dropoutSeed: 0, qSeqStarts: [], kSeqStarts: [],
    biasStrides: s.windows ? [0, S * S, S, 1] : null, biasElements: s.windows ? s.heads * S * S : 0,
    windowStrides: s.windows ? [S * S, 0, S, 1] : null, numWindows: s.windows ?? 1,
    windowElements: s.windows ? s.windows * S * S : 0,
  };
}
