/** The fused attention kernels of the cpu backend. */
import type {FusedBackendKernels} from '../../src/dispatch';
import {cpuDeclaration} from './declaration';
import {scaledDotProductAttentionConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradConfig} from './scaled_dot_product_attention_grad';

export const cpuKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionConfig, scaledDotProductAttentionGradConfig],
  declaration: cpuDeclaration,
};
