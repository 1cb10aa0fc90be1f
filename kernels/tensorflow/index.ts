/** The native kernels of tfjs-node's `tensorflow` backend: the op library's ops, run inside TensorFlow. */
import type {FusedBackendKernels} from '../../src/dispatch';
import {tensorflowDeclaration} from './declaration';
import {loadTensorflowOps} from './native_library';
import {scaledDotProductAttentionConfig} from './scaled_dot_product_attention';
import {scaledDotProductAttentionGradConfig} from './scaled_dot_product_attention_grad';

export {BUILD_COMMAND} from './native_library';

export const tensorflowKernels: FusedBackendKernels = {
  kernelConfigs: [scaledDotProductAttentionConfig, scaledDotProductAttentionGradConfig],
  declaration: tensorflowDeclaration,
};

/**
 * Whether the native kernels run on `tensorflow`, and whether its GPU kernels are loaded;
 * or why not. Loads the op library when tfjs-node is in the process.
 */
export function tensorflowAvailability(): {available: true, gpu: {loaded: boolean, reason?: string}} |
    {available: false, reason: string} {
  const load = loadTensorflowOps();
  return load.loaded ? {available: true, gpu: load.gpu} : {available: false, reason: load.reason};
}
