import './register_all_kernels';

export {AttentionBias, BIAS_KINDS, BlockDiagonalMask, DenseBias, LowerTriangularMask, WindowBias} from './bias/index';
export type {BiasKind, ComposedTerm, LoweredBias} from './bias/index';
export {
  forceComposed, fusedKernelsFor, notSupportedReasons, preferFusedKernel, registerFusedBackend, withdrawFusedKernel,
} from './dispatch';
export type {AttentionCall, AttentionDispatch, FusedBackendKernels, KernelDeclaration} from './dispatch';
export {dropoutKeeps} from './dropout';
export {attentionLayout} from './kernel_layout';
export type {AttentionLayout, LayoutInputs} from './kernel_layout';
export {CausalMode, ScaledDotProductAttention, ScaledDotProductAttentionGrad} from './kernel_names';
export type {AttentionAttrs, AttentionGradInputs, AttentionInputs} from './kernel_names';
export {attentionImplementation, scaledDotProductAttention} from './scaled_dot_product_attention';
export type {AttentionOptions, BiasLike} from './scaled_dot_product_attention';
export type {AttentionShape} from './shapes';
