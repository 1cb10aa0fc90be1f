import * as tf from '@tensorflow/tfjs';
import {attentionImplementation, LowerTriangularMask, scaledDotProductAttention} from 'tfjs-attention';

const query = tf.randomNormal([2, 8, 128, 64]);  // [batch, heads, seqQ, headDim]
const key = tf.randomNormal([2, 2, 256, 64]);    // [batch, kvHeads, seqK, headDim]: 4 query heads per key head
const value = tf.randomNormal([2, 2, 256, 32]);  // [batch, kvHeads, seqK, valueDim]
// The last 56 keys are padding: an additive bias of -Infinity, broadcast from [batch, 1, 1, seqK].
const padding = tf.concat([tf.zeros([2, 1, 1, 200]), tf.fill([2, 1, 1, 56], -Infinity)], 3);
const options = {
  bias: [padding, new LowerTriangularMask({fromBottomRight: true})],  // summed
  dropout: {rate: 0.1, seed: 42},
};

const output = scaledDotProductAttention(query, key, value, options);
console.log(output.shape);  // [2, 8, 128, 32]
console.log(attentionImplementation(query, key, value, options).implementation);  // 'cpu-fused'

const dQuery = tf.grad(q => scaledDotProductAttention(q, key, value, options).sum())(query);
console.log(dQuery.shape);  // [2, 8, 128, 64]
