/** The fused attention kernels of the webgl backend (tfjs-backend-webgl is only a type import). */
import type {FusedBackendKernels} from '../../src/dispatch';
import {webglDeclaration} from './declaration';
import {scaledDotProductAttentionWebGLConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradWebGLConfig} from './scaled_dot_product_attention_grad';

export const webglKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionWebGLConfig, scaledDotProductAttentionGradWebGLConfig],
  declaration: webglDeclaration,
};
