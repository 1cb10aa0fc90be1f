export {AttentionBias, BIAS_KINDS} from './attention_bias';
export type {BiasKind, ComposedTerm, LoweredBias} from './attention_bias';
export {BlockDiagonalMask} from './block_diagonal_mask';
export {DenseBias} from './dense_bias';
export {LowerTriangularMask} from './lower_triangular_mask';
export {WindowBias} from './window_bias';
