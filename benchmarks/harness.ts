/** Timing and memory measurement shared by the benchmarks. */
import * as tf from '@tensorflow/tfjs-core';
import {scaledDotProductAttention} from '../src/index';
import {median} from './stats';

/** The attention a TF.js user composes today: matMul → mul(scale) → add(bias) → softmax → matMul. */
export function composedBaseline(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const scale = 1 / Math.sqrt(q.shape[3]!);
  let scores = tf.mul(tf.matMul(q, k, false, true), scale);
  if (bias != null) scores = tf.add(scores, bias);
  return tf.matMul(tf.softmax(scores), v);
}

export function fusedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, {bias});
}

export type Attention = typeof composedBaseline;

export interface Inputs {
  q: tf.Tensor; k: tf.Tensor; v: tf.Tensor; bias?: tf.Tensor; dy: tf.Tensor;
}

export function randomInputs(shape: number[], biasShape?: number[]): Inputs {
  return {
    q: tf.randomNormal(shape), k: tf.randomNormal(shape), v: tf.randomNormal(shape),
    bias: biasShape != null ? tf.randomNormal(biasShape) : undefined, dy: tf.randomNormal(shape),
  };
}

/** One forward pass, results read back. */
export async function forward(attention: Attention, x: Inputs): Promise<void> {
  const out = attention(x.q, x.k, x.v, x.bias);
  await out.data();
  out.dispose();
}

/** Forward and backward (gradients for q, k, v and the bias), results read back. */
export async function forwardBackward(attention: Attention, x: Inputs): Promise<void> {
  const inputs = x.bias != null ? [x.q, x.k, x.v, x.bias] : [x.q, x.k, x.v];
  const grads = tf.grads((...xs: tf.Tensor[]) => attention(xs[0], xs[1], xs[2], xs[3]))(inputs, x.dy);
  await Promise.all(grads.map(g => g.data()));
  tf.dispose(grads);
}

/**
 * Median milliseconds of each run over `reps` rounds after `warmup` rounds, the runs
 * taken in turns so that a change in machine load touches all of them alike.
 */
export async function medianMsInTurns(runs: (() => Promise<void>)[], warmup: number, reps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const run of runs) await run();
  const times = runs.map((): number[] => []);
  for (let i = 0; i < reps; i++) {
    for (const [n, run] of runs.entries()) {
      const start = performance.now();
      await run();
      times[n].push(performance.now() - start);
    }
  }
  return times.map(median);
}

/** Peak bytes above those held before the call, as tf.profile sees them. */
export async function extraPeakBytes(run: () => Promise<void>): Promise<number> {
  const before = tf.memory().numBytes;
  const profile = await tf.profile(run);
  return Math.max(0, profile.peakBytes - before);
}

/** Bytes of q, k, v and the output: the bound the fused kernels keep extra memory under. */
export function ioBytes(x: Inputs): number {
  return 4 * (x.q.size + x.k.size + x.v.size + x.q.size);
}

/** Matmul FLOPs of attention: 4·B·H·Sq·Sk·D forward, three times that forward + backward. */
export function attentionFlops(shape: number[], withBackward: boolean): number {
  const [b, h, s, d] = shape;
  return 4 * b * h * s * s * d * (withBackward ? 3 : 1);
}

export const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
