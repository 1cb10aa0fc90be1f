import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {
  effectiveWindow, inversePermutation, permuteTokens, relativePositionIndex, shiftWindowMask, windowTokenOrder,
} from '../../src/layers/index';
import {timmRelativePositionIndex, timmShiftMask} from './reference';
import {useCpu} from './setup';

describe('window geometry', () => {
  before(useCpu);

  /** timm's roll then window_partition, element by element: [B, H, W, C] → [B · nW, N, C] as nested arrays. */
  function rollAndPartition(x: number[][][][], [wh, ww]: [number, number], [sh, sw]: [number, number]): number[][][] {
    const [h, w] = [x[0].length, x[0][0].length];
    const rolled = x.map(image => image.map((_, y) => image[(y + sh) % h].map((__, xx) => image[(y + sh) % h][(xx + sw) % w])));
    const windows: number[][][] = [];
    for (const image of rolled) {
      for (let wy = 0; wy < h / wh; wy++) {
        for (let wx = 0; wx < w / ww; wx++) {
          const tokens: number[][] = [];
          for (let ty = 0; ty < wh; ty++) for (let tx = 0; tx < ww; tx++) tokens.push(image[wy * wh + ty][wx * ww + tx]);
          windows.push(tokens);
        }
      }
    }
    return windows;
  }

  for (const [shift, name] of [[[0, 0], 'window partition'], [[2, 1], 'cyclic shift and window partition']] as const) {
    it(`the token permutation is timm's ${name}, and its inverse undoes it`, () => {
      const [b, h, w, c, window] = [2, 4, 6, 3, [2, 3] as [number, number]];
      const x = tf.randomNormal([b, h, w, c]);
      const order = windowTokenOrder([h, w], window, [...shift]);
      const [orderTensor, inverseTensor] = [tf.tensor1d(order, 'int32'), tf.tensor1d(inversePermutation(order), 'int32')];
      const windows = permuteTokens(x.reshape([b, h * w, c]), orderTensor, inverseTensor);
      const expected = rollAndPartition(x.arraySync() as number[][][][], window, [...shift]);
      expect(windows.reshape([b * 4, 6, c]).arraySync()).to.deep.equal(expected);
      const back = permuteTokens(windows, inverseTensor, orderTensor);
      expect(Array.from(back.dataSync())).to.deep.equal(Array.from(x.dataSync()));
      tf.dispose([x, orderTensor, inverseTensor, windows, back]);
    });
  }

  it('the permutation’s gradient is the inverse permutation', () => {
    const order = windowTokenOrder([4, 4], [2, 2], [1, 1]);
    const [orderTensor, inverseTensor] = [tf.tensor1d(order, 'int32'), tf.tensor1d(inversePermutation(order), 'int32')];
    const x = tf.randomNormal([2, 16, 3]);
    const dy = tf.randomNormal([2, 16, 3]);
    const dx = tf.grad((t: tf.Tensor) => permuteTokens(t, orderTensor, inverseTensor))(x, dy);
    // d/dx[:, s] of Σ dy[:, i] · x[:, order[i]] is dy[:, i] where order[i] = s.
    const expected = tf.gather(dy, inverseTensor, 1);
    expect(Array.from(dx.dataSync())).to.deep.equal(Array.from(expected.dataSync()));
    tf.dispose([orderTensor, inverseTensor, x, dy, dx, expected]);
  });

  it('the relative position index equals timm’s construction', () => {
    for (const [wh, ww] of [[7, 7], [2, 3], [1, 4]] as [number, number][]) {
      expect(Array.from(relativePositionIndex([wh, ww]))).to.deep.equal(timmRelativePositionIndex(wh, ww).flat());
    }
  });

  it('the shift mask equals timm’s slice construction', () => {
    for (const [h, w, window, shift] of [[8, 8, 4, 2], [14, 14, 7, 3], [4, 8, 2, 1], [6, 9, 3, 1]]) {
      const n = window * window;
      const mask = shiftWindowMask([h, w], [window, window], [shift, shift]);
      expect(Array.from(mask)).to.deep.equal(timmShiftMask(h, w, window, window, shift, shift).flat(2));
      expect(mask.length).to.equal((h / window) * (w / window) * n * n);
    }
  });

  it('follows timm’s rule: a window no smaller than the stage becomes the stage, without shift', () => {
    expect(effectiveWindow([56, 56], 7, 3)).to.deep.equal({window: [7, 7], shift: [3, 3]});
    expect(effectiveWindow([7, 7], 7, 3)).to.deep.equal({window: [7, 7], shift: [0, 0]});
    expect(effectiveWindow([4, 14], 7, 3)).to.deep.equal({window: [4, 7], shift: [0, 3]});
  });
});
