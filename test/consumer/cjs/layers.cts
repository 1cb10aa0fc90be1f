// CommonJS TypeScript.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {scaledDotProductAttention} from 'tfjs-attention';
import {MultiHeadAttention} from 'tfjs-attention/layers';

const x = tf.zeros([2, 5, 6]);
const layer = new MultiHeadAttention({numHeads: 2, keyDim: 3});
console.log((layer.apply([x, x]) as tf.Tensor).shape);  // [2, 5, 6]

/** Never called: fails to compile where the package's types resolve to `any`. */
export function typeErrors(): void {
  // @ts-expect-error: scale is a number
  scaledDotProductAttention(x, x, x, {scale: 'large'});
  // @ts-expect-error: numHeads is a number
  new MultiHeadAttention({numHeads: 'two', keyDim: 3});
}
