/**
 * Float64 references for the layers, written from timm's module definitions token by token
 * (explicit loops over coordinates, no reshapes or transposes), so they share no code with
 * the implementation. Tensors are flat Float64Arrays, row-major.
 */

export type Weights = Map<string, Float64Array>;

function erf(x: number): number {
  const t = Math.abs(x);
  if (t > 6) return Math.sign(x);
  if (t < 2.5) {
    // Maclaurin series: 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)).
    let term = t;
    let sum = t;
    for (let n = 1; n < 80; n++) {
      term *= -t * t / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by its continued fraction, evaluated bottom-up.
  let fraction = 0;
  for (let k = 60; k >= 1; k--) fraction = (k / 2) / (t + fraction);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + fraction));
}

export function gelu(v: number): number {
  return 0.5 * v * (1 + erf(v / Math.SQRT2));
}

/** rows × inDim times kernel [inDim, outDim] plus bias. */
export function linear(
    x: Float64Array, inDim: number, kernel: Float64Array, bias: Float64Array | undefined): Float64Array {
  const outDim = kernel.length / inDim;
  const rows = x.length / inDim;
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = bias == null ? 0 : bias[o];
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * kernel[i * outDim + o];
      out[r * outDim + o] = s;
    }
  }
  return out;
}

export function layerNorm(x: Float64Array, dim: number, gamma: Float64Array, beta: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i] / dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i] - mean) ** 2 / dim;
    for (let i = 0; i < dim; i++) {
      out[r * dim + i] = ((x[r * dim + i] - mean) / Math.sqrt(variance + 1e-5)) * gamma[i] + beta[i];
    }
  }
  return out;
}

/**
 * softmax(scale · q kᵀ + bias(h, i, j)) v for one sequence with `heads` heads packed in the
 * feature axis (q, k: [S, heads · d], v: [Sk, heads · dv]); returns [Sq, heads · dv].
 */
export function attention(
    q: Float64Array, k: Float64Array, v: Float64Array, heads: number, d: number, dv: number, scale: number,
    bias: (h: number, i: number, j: number) => number): Float64Array {
  const sq = q.length / (heads * d);
  const sk = k.length / (heads * d);
  const out = new Float64Array(sq * heads * dv);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < sq; i++) {
      const scores = new Float64Array(sk);
      for (let j = 0; j < sk; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i * heads * d + h * d + c] * k[j * heads * d + h * d + c];
        scores[j] = scale * s + bias(h, i, j);
      }
      const max = Math.max(...scores);
      let total = 0;
      for (let j = 0; j < sk; j++) total += (scores[j] = Math.exp(scores[j] - max));
      for (let j = 0; j < sk; j++) {
        for (let c = 0; c < dv; c++) {
          out[i * heads * dv + h * dv + c] += (scores[j] / total) * v[j * heads * dv + h * dv + c];
        }
      }
    }
  }
  return out;
}

/** timm's relative position index, built as timm does: coordinate differences shifted and combined. */
export function timmRelativePositionIndex(wh: number, ww: number): number[][] {
  const coords: [number, number][] = [];
  for (let y = 0; y < wh; y++) for (let x = 0; x < ww; x++) coords.push([y, x]);
  return coords.map(([yi, xi]) => coords.map(([yj, xj]) => (yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1)));
}

/**
 * timm's `get_attn_mask`: label the H × W image by the slices (0, −window), (−window, −shift),
 * (−shift, None) on each axis, partition the labels into windows, and mask pairs whose labels differ.
 * Returns [nW][N][N] with 0 and −100.
 */
export function timmShiftMask(h: number, w: number, wh: number, ww: number, sh: number, sw: number): number[][][] {
  const sliceOf = (size: number, start: number, end: number | null) => {
    const norm = (v: number) => (v < 0 ? size + v : v);
    return [norm(start), end == null ? size : norm(end)];
  };
  const label = Array.from({length: h}, () => new Array<number>(w).fill(0));
  let count = 0;
  for (const [hs, he] of [[0, -wh], [-wh, -sh], [-sh, null]] as [number, number | null][]) {
    for (const [ws, we] of [[0, -ww], [-ww, -sw], [-sw, null]] as [number, number | null][]) {
      const [y0, y1] = sliceOf(h, hs, he);
      const [x0, x1] = sliceOf(w, ws, we);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) label[y][x] = count;
      count++;
    }
  }
  const masks: number[][][] = [];
  for (let wy = 0; wy < h / wh; wy++) {
    for (let wx = 0; wx < w / ww; wx++) {
      const labels: number[] = [];
      for (let y = 0; y < wh; y++) for (let x = 0; x < ww; x++) labels.push(label[wy * wh + y][wx * ww + x]);
      masks.push(labels.map(a => labels.map(b => (a === b ? 0 : -100))));
    }
  }
  return masks;
}

export interface WindowAttentionSpec {
  dim: number;
  heads: number;
  window: [number, number];
}

/**
 * timm's WindowAttention on windows x [B_, N, C], weights named as the layer's
 * (`qkv/kernel`, `relative_position_bias_table`, …, under `prefix`); mask [nW][N][N] or null.
 */
export function windowAttention(
    x: Float64Array, spec: WindowAttentionSpec, weights: Weights, prefix: string,
    mask: number[][][] | null): Float64Array {
  const {dim, heads, window: [wh, ww]} = spec;
  const n = wh * ww;
  const d = dim / heads;
  const index = timmRelativePositionIndex(wh, ww);
  const table = weights.get(`${prefix}relative_position_bias_table`)!;
  const qkv = linear(x, dim, weights.get(`${prefix}qkv/kernel`)!, weights.get(`${prefix}qkv/bias`));
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / (n * dim); b++) {
    const part = (which: number) => {
      const t = new Float64Array(n * dim);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < dim; c++) t[i * dim + c] = qkv[(b * n + i) * 3 * dim + which * dim + c];
      }
      return t;
    };
    const windowMask = mask == null ? null : mask[b % mask.length];
    const bias = (h: number, i: number, j: number) =>
      table[index[i][j] * heads + h] + (windowMask == null ? 0 : windowMask[i][j]);
    const attended = attention(part(0), part(1), part(2), heads, d, d, d ** -0.5, bias);
    const projected = linear(attended, dim, weights.get(`${prefix}proj/kernel`)!, weights.get(`${prefix}proj/bias`));
    out.set(projected, b * n * dim);
  }
  return out;
}

/** Swin V2's log-spaced coordinate of offset d along an axis of window `size` (timm's relative_coords_table). */
export function logSpacedCoordinate(d: number, size: number): number {
  const t = (d / (size - 1)) * 8;
  return (Math.sign(t) * Math.log2(Math.abs(t) + 1)) / Math.log2(8);
}

/**
 * timm's Swin V2 WindowAttention on windows x [B_, N, C]: cosine scores times
 * exp(min(logit_scale, log 100)), plus 16 · sigmoid of the continuous position bias MLP,
 * plus the mask; q and v biases, none for k.
 */
export function cosineWindowAttention(
    x: Float64Array, spec: WindowAttentionSpec, weights: Weights, prefix: string,
    mask: number[][][] | null): Float64Array {
  const {dim, heads, window: [wh, ww]} = spec;
  const n = wh * ww;
  const d = dim / heads;
  const w = (name: string) => weights.get(`${prefix}${name}`)!;
  const qBias = weights.get(`${prefix}q_bias`);
  const qkvBias = qBias == null ? undefined : Float64Array.from([...qBias, ...new Array(dim).fill(0), ...w('v_bias')]);
  const qkv = linear(x, dim, w('qkv/kernel'), qkvBias);
  // The bias MLP over each relative offset (dy, dx), then 16 · sigmoid; per head.
  const [hiddenKernel, hiddenBias, outputKernel] = [w('cpb_mlp/0/kernel'), w('cpb_mlp/0/bias'), w('cpb_mlp/2/kernel')];
  const hiddenUnits = hiddenBias.length;
  const offsetBias = new Map<string, number[]>();
  const positionBias = (h: number, i: number, j: number) => {
    const [dy, dx] = [Math.floor(i / ww) - Math.floor(j / ww), (i % ww) - (j % ww)];
    const key = `${dy},${dx}`;
    if (!offsetBias.has(key)) {
      const coordinates = [logSpacedCoordinate(dy, wh), logSpacedCoordinate(dx, ww)];
      const out = new Array<number>(heads).fill(0);
      for (let u = 0; u < hiddenUnits; u++) {
        const pre = hiddenBias[u] + coordinates[0] * hiddenKernel[u] + coordinates[1] * hiddenKernel[hiddenUnits + u];
        const hidden = Math.max(pre, 0);
        for (let head = 0; head < heads; head++) out[head] += hidden * outputKernel[u * heads + head];
      }
      offsetBias.set(key, out.map(v => 16 / (1 + Math.exp(-v))));
    }
    return offsetBias.get(key)![h];
  };
  const logitScale = Array.from(w('logit_scale'), v => Math.exp(Math.min(v, Math.log(100))));
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / (n * dim); b++) {
    // Part `which` of the window's qkv, each head's slice divided by max(‖·‖, 1e-12) and multiplied by `scales[h]`.
    const part = (which: number, normalize: boolean, scales: number[]) => {
      const t = new Float64Array(n * dim);
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < heads; h++) {
          let norm = 0;
          for (let c = 0; c < d; c++) norm += qkv[(b * n + i) * 3 * dim + which * dim + h * d + c] ** 2;
          const factor = normalize ? scales[h] / Math.max(Math.sqrt(norm), 1e-12) : 1;
          for (let c = 0; c < d; c++) {
            t[i * dim + h * d + c] = factor * qkv[(b * n + i) * 3 * dim + which * dim + h * d + c];
          }
        }
      }
      return t;
    };
    const windowMask = mask == null ? null : mask[b % mask.length];
    const bias = (h: number, i: number, j: number) =>
      positionBias(h, i, j) + (windowMask == null ? 0 : windowMask[i][j]);
    const attended = attention(
        part(0, true, logitScale), part(1, true, new Array(heads).fill(1)), part(2, false, []), heads, d, d, 1, bias);
    out.set(linear(attended, dim, w('proj/kernel'), w('proj/bias')), b * n * dim);
  }
  return out;
}

export interface SwinBlockSpec {
  dim: number;
  heads: number;
  resolution: [number, number];
  window: number;
  shift: number;
  mlpRatio: number;
  /** timm's nominal input_resolution (window, shift, mask); default `resolution`. */
  windowResolution?: [number, number];
  /** 2: SwinTransformerV2Block (res-post-norm, cosine attention). Default 1. */
  version?: 1 | 2;
}

/**
 * timm's SwinTransformerBlock or SwinTransformerV2Block (eval mode) on x [B, H, W, C]: roll,
 * zero padding to whole windows, partition, attention, reverse, crop, roll back.
 */
export function swinBlock(x: Float64Array, spec: SwinBlockSpec, weights: Weights): Float64Array {
  const {dim, heads, resolution: [h, w], mlpRatio} = spec;
  const v2 = spec.version === 2;
  const [rh, rw] = spec.windowResolution ?? spec.resolution;
  // timm's rule for a stage no larger than the window, on the nominal resolution.
  const [wh, ww] = [Math.min(rh, spec.window), Math.min(rw, spec.window)];
  const [sh, sw] = [rh <= spec.window ? 0 : spec.shift, rw <= spec.window ? 0 : spec.shift];
  const [hp, wp] = [Math.ceil(h / wh) * wh, Math.ceil(w / ww) * ww];
  const batch = x.length / (h * w * dim);
  const norm = (name: string, values: Float64Array) =>
    layerNorm(values, dim, weights.get(`${name}/gamma`)!, weights.get(`${name}/beta`)!);
  const attentionInput = v2 ? x : norm('norm1', x);
  // torch.roll by −shift, then padding: the padded image at (y, x) holds the token at
  // (y + sh, x + sw) mod size where y < H and x < W, else zeros.
  const windowsPerRow = wp / ww;
  const n = wh * ww;
  const numWindows = (hp / wh) * windowsPerRow;
  const tokenOf = (b: number, win: number, t: number) => {
    const y = Math.floor(win / windowsPerRow) * wh + Math.floor(t / ww);
    const xx = (win % windowsPerRow) * ww + (t % ww);
    return y < h && xx < w ? (b * h + ((y + sh) % h)) * w + ((xx + sw) % w) : -1;
  };
  const windows = new Float64Array(batch * numWindows * n * dim);
  for (let b = 0; b < batch; b++) {
    for (let win = 0; win < numWindows; win++) {
      for (let t = 0; t < n; t++) {
        const source = tokenOf(b, win, t);
        if (source < 0) continue;
        for (let c = 0; c < dim; c++) {
          windows[((b * numWindows + win) * n + t) * dim + c] = attentionInput[source * dim + c];
        }
      }
    }
  }
  // timm labels the mask on the nominal resolution: V1 padded to whole windows, V2 as it is.
  const [mh, mw] = v2 ? [rh, rw] : [Math.ceil(rh / wh) * wh, Math.ceil(rw / ww) * ww];
  if ((sh > 0 || sw > 0) && (mh !== hp || mw !== wp)) throw new Error('timm\'s mask does not fit this input');
  const mask = sh > 0 || sw > 0 ? timmShiftMask(mh, mw, wh, ww, sh, sw) : null;
  const attend = v2 ? cosineWindowAttention : windowAttention;
  const attended = attend(windows, {dim, heads, window: [wh, ww]}, weights, 'attn/', mask);
  const branch = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let win = 0; win < numWindows; win++) {
      for (let t = 0; t < n; t++) {
        const target = tokenOf(b, win, t);
        if (target < 0) continue;
        for (let c = 0; c < dim; c++) branch[target * dim + c] = attended[((b * numWindows + win) * n + t) * dim + c];
      }
    }
  }
  const afterAttention = (v2 ? norm('norm1', branch) : branch).map((v, i) => x[i] + v);
  const mlp = (values: Float64Array) => {
    const hidden = linear(values, dim, weights.get('mlp/fc1/kernel')!, weights.get('mlp/fc1/bias'));
    const hiddenUnits = Math.floor(dim * mlpRatio);
    return linear(hidden.map(gelu), hiddenUnits, weights.get('mlp/fc2/kernel')!, weights.get('mlp/fc2/bias'));
  };
  const mlpBranch = v2 ? norm('norm2', mlp(afterAttention)) : mlp(norm('norm2', afterAttention));
  return afterAttention.map((v, i) => v + mlpBranch[i]);
}

/**
 * timm's PatchMerging on x [B, H, W, C]: odd sizes padded with zeros, then x0 = x[0::2, 0::2],
 * x1 = x[1::2, 0::2], x2 = x[0::2, 1::2], x3 = x[1::2, 1::2]; LayerNorm then reduction, or
 * (V2, `postNorm`) reduction then LayerNorm.
 */
export function patchMerging(
    x: Float64Array, [h, w]: [number, number], dim: number, weights: Weights, postNorm = false): Float64Array {
  const batch = x.length / (h * w * dim);
  const [ho, wo] = [Math.ceil(h / 2), Math.ceil(w / 2)];
  const merged = new Float64Array(batch * ho * wo * 4 * dim);
  const offsets = [[0, 0], [1, 0], [0, 1], [1, 1]];
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < ho; y++) {
      for (let xx = 0; xx < wo; xx++) {
        for (const [dy, dx] of offsets) {
          const [sy, sx] = [2 * y + dy, 2 * xx + dx];
          for (let c = 0; c < dim; c++) merged[o++] = sy < h && sx < w ? x[((b * h + sy) * w + sx) * dim + c] : 0;
        }
      }
    }
  }
  const norm = (values: Float64Array, size: number) =>
    layerNorm(values, size, weights.get('norm/gamma')!, weights.get('norm/beta')!);
  const kernel = weights.get('reduction/kernel')!;
  if (postNorm) return norm(linear(merged, 4 * dim, kernel, undefined), kernel.length / (4 * dim));
  return linear(norm(merged, 4 * dim), 4 * dim, kernel, undefined);
}

/** timm's PatchEmbed: conv with kernel = stride = p (kernel [p, p, in, out]), then LayerNorm. */
export function patchEmbedding(
    x: Float64Array, [h, w]: [number, number], inChans: number, p: number, weights: Weights): Float64Array {
  const kernel = weights.get('proj/kernel')!;
  const bias = weights.get('proj/bias')!;
  const embed = bias.length;
  const batch = x.length / (h * w * inChans);
  const out = new Float64Array(batch * (h / p) * (w / p) * embed);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < h / p; y++) {
      for (let xx = 0; xx < w / p; xx++) {
        for (let e = 0; e < embed; e++) {
          let s = bias[e];
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              for (let c = 0; c < inChans; c++) {
                s += x[((b * h + y * p + ky) * w + xx * p + kx) * inChans + c] *
                    kernel[((ky * p + kx) * inChans + c) * embed + e];
              }
            }
          }
          out[((b * (h / p) + y) * (w / p) + xx) * embed + e] = s;
        }
      }
    }
  }
  return layerNorm(out, embed, weights.get('norm/gamma')!, weights.get('norm/beta')!);
}
