import * as tf from '@tensorflow/tfjs';
import {attentionImplementation, scaledDotProductAttention} from 'tfjs-attention';
import {MultiHeadAttention} from 'tfjs-attention/layers';

await tf.setBackend('webgl');
const query = tf.randomNormal([1, 4, 64, 32]);  // [batch, heads, seq, headDim]
const output = scaledDotProductAttention(query, query, query, {causal: true});
console.log(output.shape, attentionImplementation(query, query, query, {causal: true}).implementation);

const tokens = tf.randomNormal([2, 10, 32]);  // [batch, seq, features]
const attended = new MultiHeadAttention({numHeads: 4, keyDim: 8}).apply([tokens, tokens]) as tf.Tensor;
console.log(attended.shape);  // [2, 10, 32]

/** Never called: fails to compile where the package's types resolve to `any`. */
export function typeErrors(): void {
  // @ts-expect-error: scale is a number
  scaledDotProductAttention(query, query, query, {scale: 'large'});
}
