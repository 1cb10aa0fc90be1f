/**
 * What the CUDA kernels support (docs/contract.md §4): every bias kind, dropout, head dims up
 * to the addon's maximum.
 */
import {BIAS_KINDS} from '../../src/bias/attention_bias';
import type {KernelDeclaration} from '../../src/dispatch';
import type {CudaAddon} from './addon';

/** The maximum of addons built before they exported `maxHeadDim` (their kMaxHeadDim). */
const MAX_HEAD_DIM_OF_OLDER_ADDONS = 128;

export function cudaDeclaration(addon: CudaAddon, backend: string): KernelDeclaration {
  return {
    name: 'cuda',
    backend,
    biasKinds: BIAS_KINDS,
    maxHeadDim: typeof addon.maxHeadDim === 'number' ? addon.maxHeadDim : MAX_HEAD_DIM_OF_OLDER_ADDONS,
    dropout: true,
  };
}
