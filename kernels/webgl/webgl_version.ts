/**
 * The kernels need WebGL 2: GLSL ES 3.0 loops with bounds from uniforms, and uint
 * arithmetic for the dropout hash.
 */
import * as tf from '@tensorflow/tfjs-core';
import {AttentionAttrs} from '../../src/kernel_names';
import {OP} from '../../src/shapes';

export function webglVersion(): number {
  return tf.env().getNumber('WEBGL_VERSION');
}

/** Throws the contract's error for dropout on WebGL 1 (the hash needs uint arithmetic). */
export function checkDropoutSupported(dropoutRate: number): void {
  if (dropoutRate > 0 && webglVersion() < 2) {
    throw new Error(
        `${OP}: dropout on the webgl backend needs WebGL 2 (its hash uses uint arithmetic), ` +
        `got WebGL ${webglVersion()}`);
  }
}

/** For a kernel called directly: the declaration keeps WebGL 1 calls on the composed path. */
export function requireWebGL2(attrs: AttentionAttrs): void {
  checkDropoutSupported(attrs.dropoutRate);
  if (webglVersion() < 2) {
    throw new Error(`${OP}: the fused webgl kernels need WebGL 2, got WebGL ${webglVersion()}`);
  }
}

let warnedWebGL1 = false;

/** Says once that WebGL 1 calls run composed. */
export function warnWebGL1Once(): void {
  if (warnedWebGL1) return;
  warnedWebGL1 = true;
  console.warn(
      `${OP}: WebGL 1 has no fused attention kernel (it needs WebGL 2); ` +
      'calls on the webgl backend run the composed path');
}
