/** The fused attention kernels of the webgpu backend (tfjs-backend-webgpu is only a type import). */
import type {FusedBackendKernels} from '../../src/dispatch';
import {webgpuDeclaration} from './declaration';
import {scaledDotProductAttentionConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradConfig} from './scaled_dot_product_attention_grad';

export const webgpuKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionConfig, scaledDotProductAttentionGradConfig],
  declaration: webgpuDeclaration,
};
