/** The fused attention kernels of the webgl backend (tfjs-backend-webgl is only a type import). */
import type {FusedBackendKernels} from '../../src/dispatch';
import {webglDeclaration} from './declaration';
import {scaledDotProductAttentionConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradConfig} from './scaled_dot_product_attention_grad';

export const webglKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionConfig, scaledDotProductAttentionGradConfig],
  declaration: webglDeclaration,
};
