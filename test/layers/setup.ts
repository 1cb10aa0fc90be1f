/**
 * Shared by the layer specs: the tfjs union (tf.layers and the gradients of tfjs-core's
 * own ops, which training through Dense, LayerNorm etc. needs), this package with its fused
 * CPU kernels registered, and the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import '../../src/index';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
}
