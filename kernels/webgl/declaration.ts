/** What the webgl kernels support (docs/contract.md §4): the op composes for everything else. */
import * as tf from '@tensorflow/tfjs-core';
import {BIAS_KINDS} from '../../src/bias/attention_bias';
import type {AttentionCall, KernelDeclaration} from '../../src/dispatch';
import {fmtShape} from '../../src/shapes';
import {webglVersion} from './webgl_version';

/** Packed texels of a [heads, rows, cols] texture (each holds a 2×2 block). */
function packedTexels([heads, rows, cols]: number[]): number {
  return heads * Math.ceil(rows / 2) * Math.ceil(cols / 2);
}

/** The textures the kernels read or write, as [heads, rows, cols]; a score tile holds at least one row pair. */
function kernelTextures(call: AttentionCall): number[][] {
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = call.shape;
  const queryHeads = batch * headsQ, kvHeads = batch * headsKV;
  return [
    [queryHeads, seqQ, headDim], [queryHeads, seqQ, valueDim], [kvHeads, seqK, headDim], [kvHeads, seqK, valueDim],
    [1, 2, seqK], [1, queryHeads, seqQ],
  ];
}

/** WebGL 2, float32 render targets, no empty dimension, and textures within WEBGL_MAX_TEXTURE_SIZE. */
function limits(call: AttentionCall): string[] {
  const reasons: string[] = [];
  if (webglVersion() < 2) reasons.push(`needs WebGL 2, got WebGL ${webglVersion()}`);
  if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) {
    reasons.push('needs float32 render targets (WEBGL_RENDER_FLOAT32_ENABLED is false)');
  }
  const {batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim} = call.shape;
  if ([batch, headsQ, headsKV, seqQ, seqK, headDim, valueDim].includes(0)) reasons.push('a dimension is 0');
  const maxTexture = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  for (const shape of kernelTextures(call)) {
    if (packedTexels(shape) > maxTexture * maxTexture) {
      reasons.push(`a ${fmtShape(shape)} texture does not fit WEBGL_MAX_TEXTURE_SIZE = ${maxTexture}`);
    }
  }
  return reasons;
}

export const webglDeclaration: KernelDeclaration = {
  name: 'webgl-fused',
  backend: 'webgl',
  biasKinds: BIAS_KINDS,
  maxHeadDim: Infinity,
  dropout: true,
  limits,
};
