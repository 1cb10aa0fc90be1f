/**
 * Swin's window geometry, following timm 1.0: the cyclic shift and window partition as a
 * token permutation (windows ordered image-major, window row-major: the layout `WindowBias`
 * expects), the relative position index and the shifted-window mask.
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

/**
 * The cyclic shift and window partition of an H × W token grid as one permutation: entry
 * (window, token) of the partitioned order holds the grid token it reads, for windows in
 * row-major order and tokens row-major inside each window. The shift is timm's
 * torch.roll(x, −shift): the shifted grid's (y, x) is the original's (y + sh, x + sw) mod size.
 */
export function windowTokenOrder([h, w]: WindowSize, [wh, ww]: WindowSize, [sh, sw]: WindowSize): Int32Array {
  const n = wh * ww;
  const windowsPerRow = w / ww;
  const order = new Int32Array(h * w);
  for (let win = 0; win < (h / wh) * windowsPerRow; win++) {
    for (let t = 0; t < n; t++) {
      const y = Math.floor(win / windowsPerRow) * wh + Math.floor(t / ww);
      const x = (win % windowsPerRow) * ww + (t % ww);
      order[win * n + t] = ((y + sh) % h) * w + ((x + sw) % w);
    }
  }
  return order;
}

export function inversePermutation(order: Int32Array): Int32Array {
  const inverse = new Int32Array(order.length);
  order.forEach((source, i) => inverse[source] = i);
  return inverse;
}

/**
 * x [B, L, C] with its tokens reordered: out[:, i] = x[:, order[i]]. A gather, whose
 * gradient is the gather by the inverse permutation (tfjs's generic gather gradient, a
 * segment sum, is much slower on the cpu backend). Cheaper on cpu than the rolls and
 * 6-D transposes it replaces.
 */
export function permuteTokens(x: tf.Tensor, order: tf.Tensor, inverse: tf.Tensor): tf.Tensor {
  const permute = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.gather(inputs[0] as tf.Tensor, order, 1),
    gradFunc: (dy: tf.Tensor) => tf.gather(dy, inverse, 1),
  }));
  return permute(x);
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
  const numWindows = (h * w) / n;
  // Grid positions of the shifted image, in window order.
  const positions = windowTokenOrder([h, w], [wh, ww], [0, 0]);
  const regions = Array.from(positions, p => band(Math.floor(p / w), h, wh, sh) * 3 + band(p % w, w, ww, sw));
  const mask = new Float32Array(numWindows * n * n);
  for (let win = 0; win < numWindows; win++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (regions[win * n + i] !== regions[win * n + j]) mask[(win * n + i) * n + j] = SHIFT_MASK_VALUE;
      }
    }
  }
  return mask;
}
