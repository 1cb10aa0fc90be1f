/**
 * Makes the op compose matMul / softmax on `backend` instead of running its fused kernel,
 * for comparisons: declares, through the dispatch's public declaration API, a kernel that
 * rejects every call. Returns a function that restores the fused kernel's declaration.
 */
import {declareFusedAttention, fusedAttentionFor} from '../src/index';

export function forceComposedAttention(backend: string): () => void {
  const fused = fusedAttentionFor(backend);
  declareFusedAttention({
    name: 'forced-composed', backendName: backend, notSupportedReasons: () => ['composed path forced for a comparison'],
  });
  return () => {
    if (fused != null) declareFusedAttention(fused);
  };
}
