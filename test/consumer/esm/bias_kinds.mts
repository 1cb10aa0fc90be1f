import * as tf from '@tensorflow/tfjs';
import {BlockDiagonalMask, LowerTriangularMask, scaledDotProductAttention, WindowBias} from 'tfjs-attention';

const [q, k, v] = [0, 1, 2].map(() => tf.randomNormal([2, 4, 16, 8]));  // [batch, heads, seq, dim]

// A tensor, NumPy-broadcast to [batch, heads, seqQ, seqK]: here a padding mask per batch and key.
const keyLengths = tf.tensor2d([[12], [16]]);  // real keys per batch
const isPad = tf.greaterEqual(tf.range(0, 16), keyLengths).reshape([2, 1, 1, 16]);
const padding = tf.where(isPad, tf.fill([2, 1, 1, 16], -Infinity), tf.zeros([2, 1, 1, 16]));
scaledDotProductAttention(q, k, v, {bias: padding});

// Causal, top-left aligned (PyTorch's is_causal): key j is masked for query i when j > i.
scaledDotProductAttention(q, k, v, {bias: new LowerTriangularMask()});  // or {causal: true}
// Bottom-right aligned (decoding with a cache): masked when j > i + seqK − seqQ.
const nextQuery = tf.randomNormal([2, 4, 1, 8]);
scaledDotProductAttention(nextQuery, k, v, {bias: new LowerTriangularMask({fromBottomRight: true})});

// Swin: the windows of every image in one batch (image-major, window-minor); a relative
// position bias per head and a shift mask per window, neither repeated over the images.
const [images, windows, heads, tokens] = [2, 4, 3, 49];
const [wq, wk, wv] = [0, 1, 2].map(() => tf.randomNormal([images * windows, heads, tokens, 32]));
const relativeBias = tf.randomNormal([1, heads, tokens, tokens]);
const shiftMask = tf.zeros([windows, 1, tokens, tokens]);  // 0 or -100 per window and token pair
const windowed = scaledDotProductAttention(wq, wk, wv, {bias: [relativeBias, new WindowBias(shiftMask)]});

// Several sequences packed along one row (batch 1): each attends only to itself.
const packed = BlockDiagonalMask.fromSeqLens([5, 3, 8]);  // or (queryLengths, keyLengths)
const [pq, pk, pv] = [0, 1, 2].map(() => tf.randomNormal([1, 4, 16, 8]));
const separate = scaledDotProductAttention(pq, pk, pv, {bias: packed.makeCausal()});  // causal inside each

console.log(windowed.shape, separate.shape);  // [8, 3, 49, 32] [1, 4, 16, 8]
