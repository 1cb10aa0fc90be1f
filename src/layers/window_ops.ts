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

/** The grid padded at the bottom and right to whole windows, as timm pads a stage the window does not divide. */
export function paddedResolution([h, w]: WindowSize, [wh, ww]: WindowSize): WindowSize {
  return [Math.ceil(h / wh) * wh, Math.ceil(w / ww) * ww];
}

/**
 * The cyclic shift, padding and window partition of an H × W token grid as one gather:
 * entry (window, token) of the partitioned order holds the grid token it reads, for windows
 * in row-major order over the padded grid and tokens row-major inside each window. The shift
 * is timm's torch.roll(x, −shift), which comes before the padding: the shifted grid's (y, x)
 * is the original's (y + sh, x + sw) mod size. Padding positions (y ≥ H or x ≥ W) read
 * H · W, one past the last token, which `permuteTokens` makes a zero token.
 */
export function windowTokenOrder([h, w]: WindowSize, [wh, ww]: WindowSize, [sh, sw]: WindowSize): Int32Array {
  const [hp, wp] = paddedResolution([h, w], [wh, ww]);
  const n = wh * ww;
  const windowsPerRow = wp / ww;
  const order = new Int32Array(hp * wp);
  for (let win = 0; win < (hp / wh) * windowsPerRow; win++) {
    for (let t = 0; t < n; t++) {
      const y = Math.floor(win / windowsPerRow) * wh + Math.floor(t / ww);
      const x = (win % windowsPerRow) * ww + (t % ww);
      order[win * n + t] = y < h && x < w ? ((y + sh) % h) * w + ((x + sw) % w) : h * w;
    }
  }
  return order;
}

/**
 * The inverse of a window token order over `tokens` grid tokens: inverse[order[i]] = i.
 * Entries of `order` that read the padding token (≥ tokens) have no inverse.
 */
export function inversePermutation(order: Int32Array, tokens = order.length): Int32Array {
  const inverse = new Int32Array(tokens);
  order.forEach((source, i) => {
    if (source < tokens) inverse[source] = i;
  });
  return inverse;
}

/** x [B, L, ...] gathered along axis 1; an index of L reads a zero token (padding). */
function gatherTokens(x: tf.Tensor, index: tf.Tensor): tf.Tensor {
  if (index.size <= x.shape[1]!) return tf.gather(x, index, 1);
  const zeroToken = tf.zeros([x.shape[0], 1, ...x.shape.slice(2)], x.dtype);
  return tf.gather(tf.concat([x, zeroToken], 1), index, 1);
}

/**
 * x [B, L, C] with its tokens reordered: out[:, i] = x[:, order[i]], where order[i] = L reads
 * a zero token (timm's padding to whole windows). A gather, whose gradient is the gather by
 * `inverse` (tfjs's generic gather gradient, a segment sum, is much slower on the cpu
 * backend). The reverse direction, windows back to the grid, is `permuteTokens(windows,
 * inverse, order)`: its gradient reads the zero token where the windows held padding.
 * Cheaper on cpu than the rolls, pads and 6-D transposes it replaces.
 */
export function permuteTokens(x: tf.Tensor, order: tf.Tensor, inverse: tf.Tensor): tf.Tensor {
  const permute = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: gatherTokens(inputs[0] as tf.Tensor, order),
    gradFunc: (dy: tf.Tensor) => gatherTokens(dy, inverse),
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
 * [0, size − window), [size − window, size − shift), [size − shift, size). [h, w] is the
 * grid timm labels (for a padded stage, the padded grid): whole windows.
 */
export function shiftWindowMask([h, w]: WindowSize, [wh, ww]: WindowSize, [sh, sw]: WindowSize): Float32Array {
  if (h % wh !== 0 || w % ww !== 0) {
    throw new Error(`shiftWindowMask: grid [${h}, ${w}] is not whole windows [${wh}, ${ww}]`);
  }
  // Along an axis without shift, timm's last slice (−0, None) covers the whole axis: one band.
  const band = (p: number, size: number, window: number, shift: number) =>
      shift === 0 ? 0 : p < size - window ? 0 : p < size - shift ? 1 : 2;
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

/**
 * Swin V2's log-spaced relative coordinates (timm's `relative_coords_table`), the input of
 * the continuous position bias MLP: for each relative offset (dy, dx) of a wh × ww window,
 * in the row order of the relative position index, the pair
 * sign(t) · log2(1 + |t|) / log2(8) with t = 8 · d / (window − 1) per axis, as
 * [(2wh − 1) · (2ww − 1), 2]. A window of 1 along an axis has no such coordinate (timm divides by 0).
 */
export function logSpacedRelativeCoordinates([wh, ww]: WindowSize): Float32Array {
  if (wh < 2 || ww < 2) {
    throw new Error(`logSpacedRelativeCoordinates: window [${wh}, ${ww}] must be at least 2 along each axis`);
  }
  const scaled = (d: number, size: number) => {
    const t = (8 * d) / (size - 1);
    return (Math.sign(t) * Math.log2(Math.abs(t) + 1)) / 3;
  };
  const out = new Float32Array((2 * wh - 1) * (2 * ww - 1) * 2);
  let i = 0;
  for (let dy = -(wh - 1); dy < wh; dy++) {
    for (let dx = -(ww - 1); dx < ww; dx++) {
      out[i++] = scaled(dy, wh);
      out[i++] = scaled(dx, ww);
    }
  }
  return out;
}
