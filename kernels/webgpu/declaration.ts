/** What the webgpu kernels support (docs/contract.md §4): the op composes for everything else. */
import type {FusedAttentionKernel} from '../../src/dispatch';

export const webgpuDeclaration: FusedAttentionKernel = {
  name: 'webgpu-fused',
  backendName: 'webgpu',
  notSupportedReasons: () => [],
};
