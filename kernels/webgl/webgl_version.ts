/**
 * The kernels need WebGL 2: GLSL ES 3.0 loops with bounds from uniforms, and uint
 * arithmetic for the dropout hash. On WebGL 1 the declaration declines every call (the op
 * composes, with the contract's dropout mask drawn in JavaScript).
 */
import * as tf from '@tensorflow/tfjs-core';
import {AttentionAttrs} from '../../src/kernel_names';
import {OP} from '../../src/shapes';

export function webglVersion(): number {
  return tf.env().getNumber('WEBGL_VERSION');
}

/** Throws for a kernel called directly on WebGL 1, naming what needs WebGL 2. */
export function requireWebGL2(attrs: AttentionAttrs): void {
  if (webglVersion() >= 2) return;
  const what = attrs.dropoutRate > 0 ? 'dropout on the webgl backend needs WebGL 2 (its hash uses uint arithmetic)' :
                                       'the fused webgl kernels need WebGL 2';
  throw new Error(`${OP}: ${what}, got WebGL ${webglVersion()}`);
}
