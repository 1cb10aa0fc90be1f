/**
 * A float64 reference of the contract, written directly from docs/contract.md: it builds the
 * dense [B, Hq, Sq, Sk] bias itself from a case's description (independently of the
 * package's bias classes), then computes softmax attention and its analytic gradients.
 */
import {dropoutKeeps} from '../../src/dropout';

export type BiasSpec =
  | {kind: 'tensor', shape: number[], data: Float64Array}
  | {kind: 'window', shape: number[], data: Float64Array}
  | {kind: 'causal', fromBottomRight: boolean}
  | {kind: 'blockDiagonal', qLens: number[], kLens: number[], causal: boolean};

export interface AttentionCase {
  B: number; Hq: number; Hkv: number; Sq: number; Sk: number; D: number; Dv: number;
  q: Float64Array; k: Float64Array; v: Float64Array;
  biases: BiasSpec[];
  /** Undefined: the default 1 / sqrt(D). */
  scale?: number;
  dropout?: {rate: number, seed: number};
}

export interface ReferenceResult {
  out: Float64Array;
  /** Probabilities before dropout, P [B, Hq, Sq, Sk]. */
  probs: Float64Array;
  /** Probabilities after dropout, P'. */
  kept: Float64Array;
  /** logsumexp of each row [B, Hq, Sq]; +Infinity on a fully masked row. */
  lse: Float64Array;
}

function scaleOf(c: AttentionCase): number {
  return c.scale ?? 1 / Math.sqrt(c.D);
}

/** Index into a rank ≤ 4 tensor broadcast to [B, Hq, Sq, Sk] (NumPy rules). */
function broadcastIndex(shape: number[], idx: number[]): number {
  const padded = [...new Array(4 - shape.length).fill(1), ...shape];
  let flat = 0;
  for (let d = 0; d < 4; d++) flat = flat * padded[d] + (padded[d] === 1 ? 0 : idx[d]);
  return flat;
}

function blockOf(lens: number[], pos: number): [number, number] {
  let start = 0;
  for (let b = 0; b < lens.length; b++) {
    if (pos < start + lens[b]) return [b, pos - start];
    start += lens[b];
  }
  throw new Error('position outside the blocks');
}

/** The summed dense bias at (b, h, i, j). */
export function biasAt(c: AttentionCase, b: number, h: number, i: number, j: number): number {
  let total = 0;
  for (const s of c.biases) {
    switch (s.kind) {
      case 'tensor':
        total += s.data[broadcastIndex(s.shape, [b, h, i, j])];
        break;
      case 'window': {
        const [nW, wh] = s.shape;
        total += s.data[(((b % nW) * wh + (wh === 1 ? 0 : h)) * c.Sq + i) * c.Sk + j];
        break;
      }
      case 'causal':
        if (j > i + (s.fromBottomRight ? c.Sk - c.Sq : 0)) total = -Infinity;
        break;
      case 'blockDiagonal': {
        const [qb, qi] = blockOf(s.qLens, i);
        const [kb, kj] = blockOf(s.kLens, j);
        if (qb !== kb || (s.causal && kj > qi)) total = -Infinity;
        break;
      }
    }
  }
  return total;
}

function dropoutMultiplier(c: AttentionCase, b: number, h: number, i: number, j: number): number {
  if (c.dropout == null || c.dropout.rate === 0) return 1;
  return dropoutKeeps(c.dropout.seed, c.dropout.rate, b * c.Hq + h, i, j) ? 1 / (1 - c.dropout.rate) : 0;
}

export function referenceForward(c: AttentionCase): ReferenceResult {
  const {B, Hq, Hkv, Sq, Sk, D, Dv} = c;
  const scale = scaleOf(c);
  const group = Hq / Hkv;
  const out = new Float64Array(B * Hq * Sq * Dv);
  const probs = new Float64Array(B * Hq * Sq * Sk);
  const kept = new Float64Array(B * Hq * Sq * Sk);
  const scores = new Float64Array(Sk);
  const lse = new Float64Array(B * Hq * Sq);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kv = b * Hkv + Math.floor(h / group);
      for (let i = 0; i < Sq; i++) {
        const row = ((b * Hq + h) * Sq + i) * Sk;
        let max = -Infinity;
        for (let j = 0; j < Sk; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += c.q[((b * Hq + h) * Sq + i) * D + d] * c.k[(kv * Sk + j) * D + d];
          const s = scale * dot + biasAt(c, b, h, i, j);
          scores[j] = s;
          max = Math.max(max, s);
        }
        let sum = 0;
        for (let j = 0; j < Sk; j++) sum += max === -Infinity ? 0 : Math.exp(scores[j] - max);
        lse[row / Sk] = sum === 0 ? Infinity : max + Math.log(sum);
        for (let j = 0; j < Sk; j++) {
          probs[row + j] = sum === 0 ? 0 : Math.exp(scores[j] - max) / sum;
          kept[row + j] = probs[row + j] * dropoutMultiplier(c, b, h, i, j);
        }
        for (let e = 0; e < Dv; e++) {
          let acc = 0;
          for (let j = 0; j < Sk; j++) acc += kept[row + j] * c.v[(kv * Sk + j) * Dv + e];
          out[((b * Hq + h) * Sq + i) * Dv + e] = acc;
        }
      }
    }
  }
  return {out, probs, kept, lse};
}

export interface ReferenceGrads {
  dq: Float64Array; dk: Float64Array; dv: Float64Array;
  /** One per 'tensor' or 'window' bias, in the order of `biases`, with that bias's shape. */
  dBiases: Float64Array[];
}

/** Analytic gradients of Σ out ⊙ dy. */
export function referenceBackward(c: AttentionCase, dy: Float64Array): ReferenceGrads {
  const {B, Hq, Hkv, Sq, Sk, D, Dv} = c;
  const scale = scaleOf(c);
  const group = Hq / Hkv;
  const {probs, kept} = referenceForward(c);
  const dq = new Float64Array(c.q.length), dk = new Float64Array(c.k.length), dv = new Float64Array(c.v.length);
  const trainable = c.biases.filter(s => s.kind === 'tensor' || s.kind === 'window') as
      {kind: string, shape: number[], data: Float64Array}[];
  const dBiases = trainable.map(s => new Float64Array(s.data.length));
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kv = b * Hkv + Math.floor(h / group);
      for (let i = 0; i < Sq; i++) {
        const row = ((b * Hq + h) * Sq + i);
        const dyRow = (j: number) => {
          let s = 0;
          for (let e = 0; e < Dv; e++) s += dy[row * Dv + e] * c.v[(kv * Sk + j) * Dv + e];
          return s;
        };
        // dP, through dropout, for the row.
        const p = probs.subarray(row * Sk, (row + 1) * Sk);
        const dp = new Float64Array(Sk);
        for (let j = 0; j < Sk; j++) {
          dp[j] = dyRow(j) * dropoutMultiplier(c, b, h, i, j);
          for (let e = 0; e < Dv; e++) dv[(kv * Sk + j) * Dv + e] += kept[row * Sk + j] * dy[row * Dv + e];
        }
        let rowDot = 0;
        for (let j = 0; j < Sk; j++) rowDot += p[j] * dp[j];
        for (let j = 0; j < Sk; j++) {
          const ds = p[j] * (dp[j] - rowDot);
          if (ds === 0) continue;
          for (let d = 0; d < D; d++) {
            dq[row * D + d] += scale * ds * c.k[(kv * Sk + j) * D + d];
            dk[(kv * Sk + j) * D + d] += scale * ds * c.q[row * D + d];
          }
          trainable.forEach((s, t) => {
            const index = s.kind === 'tensor' ?
                broadcastIndex(s.shape, [b, h, i, j]) :
                (((b % s.shape[0]) * s.shape[1] + (s.shape[1] === 1 ? 0 : h)) * Sq + i) * Sk + j;
            dBiases[t][index] += ds;
          });
        }
      }
    }
  }
  return {dq, dk, dv, dBiases};
}
