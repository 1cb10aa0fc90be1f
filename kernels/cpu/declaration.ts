/** What the cpu kernels support (docs/contract.md §4): every bias kind, any size, dropout. */
import {BIAS_KINDS} from '../../src/bias/attention_bias';
import type {KernelDeclaration} from '../../src/dispatch';

export const cpuDeclaration: KernelDeclaration = {
  name: 'cpu-fused',
  backend: 'cpu',
  biasKinds: BIAS_KINDS,
  maxHeadDim: Infinity,
  dropout: true,
};
