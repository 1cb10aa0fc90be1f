export type {InputLayout, InputRole} from './attention_inputs';
export {convertKerasMultiHeadAttention, withKerasMultiHeadAttention} from './keras_models';
export {MultiHeadAttention} from './multi_head_attention';
export type {MultiHeadAttentionArgs, MultiHeadAttentionCallArgs} from './multi_head_attention';
export {PatchEmbedding} from './patch_embedding';
export type {PatchEmbeddingArgs} from './patch_embedding';
export {mergeNeighbourhoods, PatchMerging} from './patch_merging';
export type {PatchMergingArgs} from './patch_merging';
export {entryToFloat32, parseSafetensors, serializeSafetensors} from './safetensors';
export type {SafetensorsEntry} from './safetensors';
export {SwinBlockBase, SwinTransformerBlock} from './swin_block';
export type {SwinTransformerBlockArgs} from './swin_block';
export {SwinTransformerV2Block} from './swin_v2_block';
export {swinPresets, swinTransformer, swinTransformerV2, swinV2Presets} from './swin_transformer';
export type {SwinConfig} from './swin_transformer';
export {exportTimmSwinWeights, loadTimmSwinWeights, timmKey} from './timm_weights';
export {WindowAttention} from './window_attention';
export type {WindowAttentionArgs} from './window_attention';
export {
  effectiveWindow, inversePermutation, logSpacedRelativeCoordinates, paddedResolution, permuteTokens,
  relativePositionIndex, SHIFT_MASK_VALUE, shiftWindowMask, windowTokenOrder,
} from './window_ops';
export type {WindowSize} from './window_ops';
