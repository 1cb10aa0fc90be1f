const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const {scaledDotProductAttention} = require('tfjs-attention');

const query = tf.randomNormal([1, 4, 16, 8]);
const out = scaledDotProductAttention(query, query, query, {causal: true});
console.log(out.shape);  // [1, 4, 16, 8]

// With tfjs-core alone, give tf.grad the output's gradient dy rather than reducing with
// sum(), whose gradient comes with @tensorflow/tfjs or @tensorflow/tfjs-layers.
const dy = tf.onesLike(out);
const dQuery = tf.grad(q => scaledDotProductAttention(q, query, query, {causal: true}))(query, dy);
console.log(dQuery.shape);  // [1, 4, 16, 8]
