/**
 * Swin's window geometry on NHWC tensors, following timm 1.0: window partition and reverse
 * (windows ordered image-major, window row-major, the layout `WindowBias` expects), the
 * cyclic shift, the relative position index and the shifted-window mask.
 */
import * as tf from '@tensorflow/tfjs-core';

export type WindowSize = [number, number];

/**
 * timm's rule (`_calc_window_shift`): along an axis whose resolution is ≤ the window,
 * the window shrinks to the resolution and there is no shift.
 */
export function effectiveWindow(resolution: WindowSize, window: number, shift: number):
    {window: WindowSize, shift: WindowSize} {
  const sizes = resolution.map(r => Math.min(r, window)) as WindowSize;
  const shifts = resolution.map(r => (r <= window ? 0 : shift)) as WindowSize;
  return {window: sizes, shift: shifts};
}

/** [B, H, W, C] → [B · nW, wh · ww, C]. */
export function windowPartition(x: tf.Tensor, [wh, ww]: WindowSize): tf.Tensor3D {
  const [b, h, w, c] = x.shape;
  const grid = tf.reshape(x, [b, h / wh, wh, w / ww, ww, c]);
  return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, wh * ww, c]);
}

/** The inverse of `windowPartition`: [B · nW, wh · ww, C] → [B, H, W, C]. */
export function windowReverse(windows: tf.Tensor, [wh, ww]: WindowSize, [h, w]: WindowSize): tf.Tensor4D {
  const c = windows.shape[windows.rank - 1];
  const grid = tf.reshape(windows, [-1, h / wh, w / ww, wh, ww, c]);
  return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, h, w, c]);
}

/** torch.roll(x, shifts, dims=(1, 2)) for NHWC x: element i moves to i + shift (mod size). */
export function cyclicShift(x: tf.Tensor, [shiftH, shiftW]: WindowSize): tf.Tensor {
  return rollAxis(rollAxis(x, shiftH, 1), shiftW, 2);
}

function rollAxis(x: tf.Tensor, shift: number, axis: number): tf.Tensor {
  const size = x.shape[axis];
  const split = ((-shift % size) + size) % size;
  if (split === 0) return x;
  const [head, tail] = tf.split(x, [split, size - split], axis);
  return tf.concat([tail, head], axis);
}

/**
 * For tokens i, j of a wh × ww window, the row of the [(2wh−1)(2ww−1), heads] relative
 * position bias table their pair reads (timm's `get_relative_position_index`), flattened
 * to [N · N] with N = wh · ww.
 */
export function relativePositionIndex([wh, ww]: WindowSize): Int32Array {
  const n = wh * ww;
  const index = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    const [yi, xi] = [Math.floor(i / ww), i % ww];
    for (let j = 0; j < n; j++) {
      const [yj, xj] = [Math.floor(j / ww), j % ww];
      index[i * n + j] = (yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1);
    }
  }
  return index;
}

/**
 * The value timm's shifted-window mask puts on pairs of tokens from different regions.
 * timm uses −100 rather than −Infinity; matching it keeps parity with timm's outputs
 * (exp(−100) is 4e−44, so the difference from a hard mask is below float32 resolution
 * relative to any unmasked term).
 */
export const SHIFT_MASK_VALUE = -100;

/**
 * timm's SW-MSA mask as [nW, 1, N, N]: after the cyclic shift, a window may hold tokens
 * from up to 4 regions of the image that were not adjacent; a token attends only to tokens
 * of its own region. Regions are labeled on the shifted image along each axis as
 * [0, size − window), [size − window, size − shift), [size − shift, size).
 */
export function shiftWindowMask([h, w]: WindowSize, [wh, ww]: WindowSize, [sh, sw]: WindowSize): Float32Array {
  // An axis without shift has window = size (timm's rule), so it is one band.
  const band = (p: number, size: number, window: number, shift: number) =>
      p < size - window ? 0 : p < size - shift ? 1 : 2;
  const n = wh * ww;
  const windowsW = w / ww;
  const numWindows = (h / wh) * windowsW;
  const mask = new Float32Array(numWindows * n * n);
  const regionOf = (win: number, token: number) => {
    const y = Math.floor(win / windowsW) * wh + Math.floor(token / ww);
    const x = (win % windowsW) * ww + (token % ww);
    return band(y, h, wh, sh) * 3 + band(x, w, ww, sw);
  };
  for (let win = 0; win < numWindows; win++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (regionOf(win, i) !== regionOf(win, j)) mask[(win * n + i) * n + j] = SHIFT_MASK_VALUE;
      }
    }
  }
  return mask;
}
