// Fails to compile where the package's types resolve to `any` under this moduleResolution.
import * as tf from '@tensorflow/tfjs';
import {scaledDotProductAttention} from 'tfjs-attention';
import {MultiHeadAttention} from 'tfjs-attention/layers';

const x = tf.zeros([1, 1, 2, 2]);
// @ts-expect-error: scale is a number
scaledDotProductAttention(x, x, x, {scale: 'large'});
// @ts-expect-error: numHeads is a number
new MultiHeadAttention({numHeads: 'four', keyDim: 2});
