/**
 * What the webgpu kernels support (docs/contract.md §4): the op composes for everything
 * else. The limits are the device's, read from the webgpu backend that runs the call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {BIAS_KINDS} from '../../src/bias/attention_bias';
import type {AttentionCall, KernelDeclaration} from '../../src/dispatch';
import {largestWorkgroupBytes, MAX_ROWS_PER_WORKGROUP} from './geometry';

/** Each invocation keeps its row of q or k, of v or dO, and their accumulators in registers. */
export const MAX_HEAD_DIM = 256;
/** The ranges buffer holds row and key indices as float32, exact below 2^24. */
const MAX_SEQ = 2 ** 24;
/** A program binds its output and at most seven inputs. */
const STORAGE_BUFFERS = 8;

/**
 * The largest buffer of q, k, v, the outputs and the results written side by side
 * ([rows, Dv + 1] forward, [keys, D + Dv] for dK and dV), in elements.
 */
function largestBuffer(call: AttentionCall): number {
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = call.shape;
  const queryRows = batch * headsQ * seqQ, keyRows = batch * headsKV * seqK;
  return Math.max(queryRows * (Math.max(headDim, valueDim) + 1), keyRows * (headDim + valueDim));
}

function limits(call: AttentionCall): string[] {
  const backend = tf.findBackend('webgpu') as WebGPUBackend | null;
  const device = backend?.device;
  if (device == null) return ['the webgpu backend has no device'];
  const reasons: string[] = [];
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = call.shape;
  if ([batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim].includes(0)) reasons.push('a dimension is 0');
  if (Math.max(seqQ, seqK) >= MAX_SEQ) reasons.push(`sequences must be shorter than 2^24, got ${Math.max(seqQ, seqK)}`);
  const l = device.limits;
  const bytes = largestWorkgroupBytes(headDim, valueDim);
  if (bytes > l.maxComputeWorkgroupStorageSize) {
    reasons.push(
        `needs ${bytes} bytes of workgroup storage, above maxComputeWorkgroupStorageSize = ` +
        `${l.maxComputeWorkgroupStorageSize}`);
  }
  const invocations = Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
  if (invocations < MAX_ROWS_PER_WORKGROUP) {
    reasons.push(`needs workgroups of ${MAX_ROWS_PER_WORKGROUP} invocations, the device allows ${invocations}`);
  }
  if (l.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS) {
    reasons.push(
        `needs ${STORAGE_BUFFERS} storage buffers per shader stage, maxStorageBuffersPerShaderStage = ` +
        `${l.maxStorageBuffersPerShaderStage}`);
  }
  const bufferBytes = 4 * largestBuffer(call);
  if (bufferBytes > l.maxStorageBufferBindingSize) {
    reasons.push(
        `a buffer of ${bufferBytes} bytes is above maxStorageBufferBindingSize = ${l.maxStorageBufferBindingSize}`);
  }
  return reasons;
}

export const webgpuDeclaration: KernelDeclaration = {
  name: 'webgpu-fused',
  backend: 'webgpu',
  biasKinds: BIAS_KINDS,
  maxHeadDim: MAX_HEAD_DIM,
  dropout: true,
  limits,
};
