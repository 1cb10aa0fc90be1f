import './register_all_kernels';

export {AttentionBias, BlockDiagonalMask, DenseBias, LowerTriangularMask, LoweredBias, WindowBias} from './bias/index';
export {AttentionCall, AttentionDispatch, declareFusedAttention, FusedAttentionKernel, FusedBackendKernels, registerFusedBackend} from './dispatch';
export {dropoutKeeps} from './dropout';
export {AttentionAttrs, AttentionGradInputs, AttentionInputs, CausalMode, ScaledDotProductAttention, ScaledDotProductAttentionGrad} from './kernel_names';
export {attentionImplementation, AttentionOptions, BiasLike, scaledDotProductAttention} from './scaled_dot_product_attention';
export {AttentionShape} from './shapes';
