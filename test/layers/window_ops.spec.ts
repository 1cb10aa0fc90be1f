import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {
  effectiveWindow, inversePermutation, logSpacedRelativeCoordinates, paddedResolution, permuteTokens,
  relativePositionIndex, shiftWindowMask, windowTokenOrder,
} from '../../src/layers/index';
import {logSpacedCoordinate, timmRelativePositionIndex, timmShiftMask} from './reference';
import {useCpu} from './setup';

describe('window geometry', () => {
  before(useCpu);

  /** timm's roll then window_partition, element by element: [B, H, W, C] → [B · nW, N, C] as nested arrays. */
  function rollAndPartition(x: number[][][][], [wh, ww]: [number, number], [sh, sw]: [number, number]): number[][][] {
    const [h, w] = [x[0].length, x[0][0].length];
    const rolled =
        x.map(image => image.map((_, y) => image[(y + sh) % h].map((__, xx) => image[(y + sh) % h][(xx + sw) % w])));
    const windows: number[][][] = [];
    for (const image of rolled) {
      for (let wy = 0; wy < h / wh; wy++) {
        for (let wx = 0; wx < w / ww; wx++) {
          const tokens: number[][] = [];
          for (let ty = 0; ty < wh; ty++) {
            for (let tx = 0; tx < ww; tx++) tokens.push(image[wy * wh + ty][wx * ww + tx]);
          }
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
      const orderTensor = tf.tensor1d(order, 'int32');
      const inverseTensor = tf.tensor1d(inversePermutation(order), 'int32');
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

  /** timm's roll, then zero padding at the bottom and right, then window_partition: [B · nW][N][C]. */
  function rollPadAndPartition(
      x: number[][][][], [wh, ww]: [number, number], [sh, sw]: [number, number]): number[][][] {
    const [h, w, c] = [x[0].length, x[0][0].length, x[0][0][0].length];
    const [hp, wp] = [Math.ceil(h / wh) * wh, Math.ceil(w / ww) * ww];
    const windows: number[][][] = [];
    for (const image of x) {
      const padded = Array.from({length: hp}, (_, y) => Array.from({length: wp}, (__, xx) =>
        (y < h && xx < w ? image[(y + sh) % h][(xx + sw) % w] : new Array<number>(c).fill(0))));
      for (let wy = 0; wy < hp / wh; wy++) {
        for (let wx = 0; wx < wp / ww; wx++) {
          const tokens: number[][] = [];
          for (let ty = 0; ty < wh; ty++) {
            for (let tx = 0; tx < ww; tx++) tokens.push(padded[wy * wh + ty][wx * ww + tx]);
          }
          windows.push(tokens);
        }
      }
    }
    return windows;
  }

  for (const shift of [[0, 0], [1, 2]] as Array<[number, number]>) {
    it(`the token order is timm's roll (${shift}), zero padding and partition where the window does not divide; ` +
       'the reverse crops', () => {
      const [b, h, w, c, window] = [2, 5, 7, 3, [2, 3] as [number, number]];
      const [hp, wp] = paddedResolution([h, w], window);
      expect([hp, wp]).to.deep.equal([6, 9]);
      const x = tf.randomNormal([b, h, w, c]);
      const order = windowTokenOrder([h, w], window, shift);
      const orderTensor = tf.tensor1d(order, 'int32');
      const inverseTensor = tf.tensor1d(inversePermutation(order, h * w), 'int32');
      const windows = permuteTokens(x.reshape([b, h * w, c]), orderTensor, inverseTensor);
      const expected = rollPadAndPartition(x.arraySync() as number[][][][], window, shift);
      expect(windows.reshape([b * (hp / 2) * (wp / 3), 6, c]).arraySync()).to.deep.equal(expected);
      const back = permuteTokens(windows, inverseTensor, orderTensor);
      expect(Array.from(back.dataSync())).to.deep.equal(Array.from(x.dataSync()));
      // Gradients: to the grid, each token's window slot; to the windows, the grid's token or 0 for padding.
      const dy = tf.randomNormal(windows.shape);
      const dx = tf.grad((t: tf.Tensor) => permuteTokens(t, orderTensor, inverseTensor))(x.reshape([b, h * w, c]), dy);
      expect(Array.from(dx.dataSync())).to.deep.equal(Array.from(tf.gather(dy, inverseTensor, 1).dataSync()));
      const dBack = tf.randomNormal(back.shape);
      const dWindows = tf.grad((t: tf.Tensor) => permuteTokens(t, inverseTensor, orderTensor))(windows, dBack);
      const dBackValues = dBack.arraySync() as number[][][];
      const expectedDWindows = Array.from({length: b}, (_, image) =>
        Array.from(order, source => (source < h * w ? dBackValues[image][source] : new Array<number>(c).fill(0))));
      expect(dWindows.arraySync()).to.deep.equal(expectedDWindows);
      tf.dispose([x, orderTensor, inverseTensor, windows, back, dy, dx, dBack, dWindows]);
    });
  }

  it('Swin V2’s log-spaced relative coordinates follow timm’s formula, in the index’s row order', () => {
    for (const [wh, ww] of [[8, 8], [2, 5]] as Array<[number, number]>) {
      const table = logSpacedRelativeCoordinates([wh, ww]);
      expect(table.length).to.equal((2 * wh - 1) * (2 * ww - 1) * 2);
      const index = timmRelativePositionIndex(wh, ww);
      for (let i = 0; i < wh * ww; i++) {
        for (let j = 0; j < wh * ww; j++) {
          const row = index[i][j];
          const [dy, dx] = [Math.floor(i / ww) - Math.floor(j / ww), (i % ww) - (j % ww)];
          expect(table[2 * row]).to.be.closeTo(logSpacedCoordinate(dy, wh), 1e-7);
          expect(table[2 * row + 1]).to.be.closeTo(logSpacedCoordinate(dx, ww), 1e-7);
        }
      }
    }
    // The farthest offset of an 8-window: 8 · 7 / 7 = 8, log2(9) / 3.
    expect(logSpacedRelativeCoordinates([8, 8])[0]).to.be.closeTo(-Math.log2(9) / 3, 1e-7);
    expect(() => logSpacedRelativeCoordinates([1, 4])).to.throw(/window \[1, 4\] must be at least 2 along each axis/);
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

  it('the shift mask of an axis without shift is one band along it, as timm’s slices give', () => {
    expect(Array.from(shiftWindowMask([4, 8], [4, 4], [0, 2]))).to.deep.equal(timmShiftMask(4, 8, 4, 4, 0, 2).flat(2));
    expect(Array.from(shiftWindowMask([6, 8], [3, 4], [1, 0]))).to.deep.equal(timmShiftMask(6, 8, 3, 4, 1, 0).flat(2));
    expect(() => shiftWindowMask([5, 4], [2, 2], [1, 1])).to.throw(/grid \[5, 4\] is not whole windows \[2, 2\]/);
  });

  it('follows timm’s rule: a window no smaller than the stage becomes the stage, without shift', () => {
    expect(effectiveWindow([56, 56], 7, 3)).to.deep.equal({window: [7, 7], shift: [3, 3]});
    expect(effectiveWindow([7, 7], 7, 3)).to.deep.equal({window: [7, 7], shift: [0, 0]});
    expect(effectiveWindow([4, 14], 7, 3)).to.deep.equal({window: [4, 7], shift: [0, 3]});
  });
});
