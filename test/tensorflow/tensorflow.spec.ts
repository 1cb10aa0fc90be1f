// The op on tfjs-node's `tensorflow` backend with the native kernels (kernels/tensorflow/):
// the shared suite, the native ops' own checks, dropout against the cpu kernel, and leaks.
import {expect} from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {FORWARD_OP, GRAD_OP} from '../../kernels/tensorflow/tensorflow_op';
import {attentionImplementation, scaledDotProductAttention, WindowBias} from '../../src/node';
import {describeAttentionSuite} from '../suite/index';
import {useTensorflow} from './setup';

describe('on the tensorflow backend (tfjs-node) with the native kernels', function () {
  before(useTensorflow);

  describeAttentionSuite({
    backend: 'tensorflow', implementation: 'tensorflow-native', forwardTolerance: 1e-5, gradientTolerance: 1e-4,
    sweepCases: 240,
  });

  describe('the TensorFlow ops themselves', () => {
    /** The ops' attrs as tfjs-node takes them (TF_ATTR_INT 1, TF_ATTR_FLOAT 2, TF_ATTR_BOOL 3). */
    const attrs = (o: {scale?: number, causal?: number, rate?: number, seed?: number, q?: number[], k?: number[],
                       bias?: boolean, window?: boolean} = {}) => [
      {name: 'scale', type: 2, value: o.scale ?? 0.5}, {name: 'causal', type: 1, value: o.causal ?? 0},
      {name: 'dropout_rate', type: 2, value: o.rate ?? 0}, {name: 'dropout_seed', type: 1, value: o.seed ?? 0},
      {name: 'q_seq_starts', type: 1, value: o.q ?? []}, {name: 'k_seq_starts', type: 1, value: o.k ?? []},
      {name: 'has_bias', type: 3, value: o.bias ?? false}, {name: 'has_window_bias', type: 3, value: o.window ?? false},
    ];
    const execute = (name: string, opAttrs: unknown[], inputs: tf.Tensor[], outputs: number) =>
        (tf.backend() as unknown as {executeMultipleOutputs: (...a: unknown[]) => tf.Tensor[]})
            .executeMultipleOutputs(name, opAttrs, inputs, outputs);
    const cases: [string, () => [unknown[], tf.Tensor[]], RegExp][] = [
      ['key rank', () => [attrs(), [tf.zeros([1, 2, 4, 8]), tf.zeros([2, 4, 8]), tf.zeros([1, 2, 4, 8])]],
       /TfjsScaledDotProductAttention: key must be rank 4 \[batch, heads, seqK, headDim\], got shape \[2,4,8\]/],
      ['head dim', () => [attrs(), [tf.zeros([1, 2, 4, 8]), tf.zeros([1, 2, 4, 6]), tf.zeros([1, 2, 4, 8])]],
       /key must have batch 1 and headDim 8, got shape \[1,2,4,6\]/],
      ['heads', () => [attrs(), [tf.zeros([1, 3, 4, 8]), tf.zeros([1, 2, 4, 8]), tf.zeros([1, 2, 4, 8])]],
       /query heads must be a multiple of key heads \(2\)/],
      ['bias broadcast', () => [attrs({bias: true}), [tf.zeros([1, 2, 4, 8]), tf.zeros([1, 2, 5, 8]),
                                                      tf.zeros([1, 2, 5, 8]), tf.zeros([3, 5])]],
       /bias must broadcast to \[batch, heads, seqQ, seqK\] = \[1,2,4,5\], got shape \[3,5\]/],
      ['window count', () => [attrs({window: true}), [tf.zeros([3, 2, 4, 8]), tf.zeros([3, 2, 4, 8]),
                                                      tf.zeros([3, 2, 4, 8]), tf.zeros([0]), tf.zeros([2, 1, 4, 4])]],
       /batch must be a multiple of window_bias's 2 windows, got batch 3/],
      ['block starts', () => [attrs({q: [0, 2, 4], k: [0, 2, 5]}), [tf.zeros([1, 1, 4, 2]), tf.zeros([1, 1, 4, 2]),
                                                                    tf.zeros([1, 1, 4, 2])]],
       /k_seq_starts must be non-decreasing cumulative starts from 0 to seqK = 4, got \[0,2,5\]/],
      ['dropout rate', () => [attrs({rate: 1}), [tf.zeros([1, 1, 2, 2]), tf.zeros([1, 1, 2, 2]),
                                                 tf.zeros([1, 1, 2, 2])]],
       /dropout_rate must be a number in \[0, 1\), got 1/],
      ['causal', () => [attrs({causal: 3}), [tf.zeros([1, 1, 2, 2]), tf.zeros([1, 1, 2, 2]), tf.zeros([1, 1, 2, 2])]],
       /causal must be 0 \(none\), 1 \(top-left\) or 2 \(bottom-right\), got 3/],
    ];
    for (const [name, prepare, message] of cases) {
      it(`the forward op rejects ${name} with a clear error and leaks nothing`, () => {
        const [opAttrs, inputs] = prepare();
        while (inputs.length < 5) inputs.push(tf.zeros([0]));
        const before = tf.memory().numTensors;
        expect(() => execute(FORWARD_OP, opAttrs, inputs, 2)).to.throw(Error, message);
        expect(tf.memory().numTensors).to.equal(before);
        tf.dispose(inputs);
      });
    }

    it('the gradient op rejects a dy of the wrong shape', () => {
      const q = tf.zeros([1, 2, 4, 8]), out = tf.zeros([1, 2, 4, 8]), lse = tf.zeros([1, 2, 4]), empty = tf.zeros([0]);
      expect(() => execute(GRAD_OP, attrs(), [tf.zeros([1, 2, 4, 7]), q, q, q, out, lse, empty, empty], 5))
          .to.throw(Error, /TfjsScaledDotProductAttentionGrad: dy must have the output's shape \[1,2,4,8\], got shape \[1,2,4,7\]/);
    });

    it('gives +Infinity logsumexp on fully masked rows and [0] gradients for absent biases', () => {
      tf.tidy(() => {
        const q = tf.randomNormal([1, 1, 3, 4]), k = tf.randomNormal([1, 1, 2, 4]), v = tf.randomNormal([1, 1, 2, 4]);
        // Bottom-right causal with Sq > Sk: query row 0 sees no key.
        const [out, lse] = execute(FORWARD_OP, attrs({causal: 2}), [q, k, v, tf.zeros([0]), tf.zeros([0])], 2);
        expect(lse.dataSync()[0]).to.equal(Infinity);
        expect(Array.from(out.dataSync().slice(0, 4))).to.deep.equal([0, 0, 0, 0]);
        const gradInputs = [tf.onesLike(out), q, k, v, out, lse, tf.zeros([0]), tf.zeros([0])];
        const grads = execute(GRAD_OP, attrs({causal: 2}), gradInputs, 5);
        expect(grads.map(g => g.shape)).to.deep.equal([[1, 1, 3, 4], [1, 1, 2, 4], [1, 1, 2, 4], [0], [0]]);
      });
    });
  });

  it('keeps the same dropout elements as the cpu kernel for a seed', async () => {
    // V = identity makes the output the dropped probability matrix.
    const B = 2, H = 3, S = 40;
    const run = (rate: number, seed: number) => tf.tidy(() => {
      const q = tf.randomNormal([B, H, S, 8], 0, 1, 'float32', 1);
      const k = tf.randomNormal([B, H, S, 8], 0, 1, 'float32', 2);
      const v = tf.tile(tf.reshape(tf.eye(S), [1, 1, S, S]), [B, H, 1, 1]);
      return scaledDotProductAttention(q, k, v as tf.Tensor4D, {dropout: {rate, seed}}).dataSync();
    });
    for (const [rate, seed] of [[0.1, 0], [0.5, 12345], [0.75, 4294967295]]) {
      await tf.setBackend('cpu');
      const onCpu = run(rate, seed);
      await tf.setBackend('tensorflow');
      const onTensorflow = run(rate, seed);
      const kept = (values: ArrayLike<number>) => Array.from(values, x => x !== 0);
      expect(kept(onTensorflow), `rate ${rate} seed ${seed}`).to.deep.equal(kept(onCpu));
    }
  });

  it('tf.memory() and the process\'s RSS stay flat over 1,000 forward + backward calls', function () {
    this.timeout(300000);
    const q = tf.randomNormal([2, 4, 64, 32]) as tf.Tensor4D, k = tf.randomNormal([2, 2, 80, 32]) as tf.Tensor4D;
    const v = tf.randomNormal([2, 2, 80, 16]) as tf.Tensor4D, bias = tf.randomNormal([1, 4, 64, 80]);
    const window = tf.randomNormal([2, 1, 64, 80]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => scaledDotProductAttention(
        a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D,
        {bias: [d, new WindowBias(e)], causal: true, dropout: {rate: 0.1, seed: 3}});
    expect(attentionImplementation(q, k, v, {bias: [bias, new WindowBias(window)], causal: true}).implementation)
        .to.equal('tensorflow-native');
    const step = () => tf.tidy(() => {
      const grads = tf.grads(f)([q, k, v, bias, window]);
      return tf.addN(grads.map(g => tf.sum(g))).dataSync()[0];
    });
    for (let i = 0; i < 100; i++) step();  // TensorFlow's allocator and kernel cache settle
    const tensors = tf.memory().numTensors, rss = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) step();
    const grownMB = (process.memoryUsage().rss - rss) / 2 ** 20;
    console.log(`      RSS over 1,000 calls: ${grownMB.toFixed(1)} MB`);
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(grownMB).to.be.below(32);
    tf.dispose([q, k, v, bias, window]);
  });
});
