import {FusedBackendKernels, unsupportedBiasKinds} from '../../src/dispatch';
import {scaledDotProductAttentionConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradConfig} from './scaled_dot_product_attention_grad';

const SUPPORTED_BIAS_KINDS = new Set(['tensor', 'window', 'causal', 'blockDiagonal']);

export const cpuKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionConfig, scaledDotProductAttentionGradConfig],
  declaration: {
    name: 'cpu-fused',
    backendName: 'cpu',
    notSupportedReasons: call => unsupportedBiasKinds(call, SUPPORTED_BIAS_KINDS),
  },
};
