/**
 * Makes the op compose matMul / softmax on `backend` instead of running its fused kernels,
 * for comparisons. Returns a function that restores them.
 */
import {forceComposed} from '../src/index';

export function forceComposedAttention(backend: string): () => void {
  return forceComposed(backend);
}
