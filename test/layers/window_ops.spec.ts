import * as tf from '@tensorflow/tfjs';
import {expect} from 'chai';
import {
  cyclicShift, effectiveWindow, relativePositionIndex, shiftWindowMask, windowPartition, windowReverse,
} from '../../src/layers/index';
import {timmRelativePositionIndex, timmShiftMask} from './reference';
import {useCpu} from './setup';

describe('window geometry', () => {
  before(useCpu);

  it('partition puts image b, window (wy, wx), token (ty, tx) at [b · nW + wy · nWx + wx, ty · ww + tx]', () => {
    const [b, h, w, c, wh, ww] = [2, 4, 6, 3, 2, 3];
    const x = tf.range(0, b * h * w * c).reshape([b, h, w, c]);
    const windows = windowPartition(x, [wh, ww]);
    expect(windows.shape).to.deep.equal([b * 4, wh * ww, c]);
    const xs = x.arraySync() as number[][][][];
    const ws = windows.arraySync();
    for (let image = 0; image < b; image++) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const win = image * 4 + Math.floor(y / wh) * (w / ww) + Math.floor(xx / ww);
          expect(ws[win][(y % wh) * ww + (xx % ww)]).to.deep.equal(xs[image][y][xx]);
        }
      }
    }
    tf.dispose([x, windows]);
  });

  it('reverse inverts partition exactly', () => {
    const x = tf.randomNormal([3, 6, 4, 5]);
    const back = windowReverse(windowPartition(x, [3, 2]), [3, 2], [6, 4]);
    expect(back.shape).to.deep.equal(x.shape);
    expect(Array.from(back.dataSync())).to.deep.equal(Array.from(x.dataSync()));
    tf.dispose([x, back]);
  });

  it('cyclicShift is torch.roll over H and W, and a shift back undoes it', () => {
    const x = tf.range(0, 2 * 5 * 4).reshape([2, 5, 4, 1]);
    const rolled = cyclicShift(x, [-2, 1]);
    const xs = x.arraySync() as number[][][][];
    const rs = rolled.arraySync() as number[][][][];
    for (let y = 0; y < 5; y++) {
      for (let xx = 0; xx < 4; xx++) expect(rs[1][y][xx][0]).to.equal(xs[1][(y + 2) % 5][(xx + 3) % 4][0]);
    }
    const back = cyclicShift(rolled, [2, -1]);
    expect(Array.from(back.dataSync())).to.deep.equal(Array.from(x.dataSync()));
    tf.dispose([x, rolled, back]);
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
