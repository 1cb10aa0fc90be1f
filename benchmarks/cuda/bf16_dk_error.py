"""Where the 'bf16' sweep's dK error at q[1,3,6,1] kv[1,2,7] + causal comes from (NOTES.md, version 10).

Simulates the kernels' rounding on the CPU in float64 (no GPU): which operands each product
rounds, against the exact gradient, with the suite's error measure and input ranges. Prints, per
rounding scheme, the median error and the share of draws over the 'bf16' limit (1e-2). Given the
JSON of bf16_dk_draws.mjs (the addon's dK for its draws), also compares the kernels with the model.

    python3 benchmarks/cuda/bf16_dk_error.py [draws | draws.json]
"""
import json
import sys

import numpy as np

GROUP, SQ, SK, D, DV = 3, 6, 2, 1, 7
VISIBLE = np.array([[j <= i for j in range(SK)] for i in range(SQ)])  # causal, top-left


def rounded(bits):
    """Round-to-nearest-even of float32 values to `bits` explicit mantissa bits."""
    drop = 23 - bits

    def round_to(x):
        u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
        u = ((u + (1 << (drop - 1)) - 1 + ((u >> drop) & 1)) >> drop) << drop
        return u.astype(np.uint32).view(np.float32).astype(np.float64)

    return round_to


bf16, tf32, exact = rounded(7), rounded(10), lambda x: np.asarray(x, np.float64)


def dkey(q, k, v, dout, scores, values, grad):
    """dK as the kernels compute it: S = Q Kᵀ with `scores` rounding, O = P V and dP = dO Vᵀ with
    `values` rounding V, `grad` rounding dO in dP and delta = rowsum(dO ∘ O), and dS, Q in dK."""
    s = np.where(VISIBLE, scores(q) @ scores(k).T, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ values(v)
    ds = p * (grad(dout) @ values(v).T - (grad(dout) * out).sum(-1, keepdims=True))
    return np.einsum('gij,gid->jd', grad(ds), grad(q))


def relative_error(a, b):
    """The suite's measure (test/suite/cases.ts relativeError)."""
    return np.sqrt(((a - b) ** 2).sum()) / max(np.sqrt((b ** 2).sum()), 0.01 * np.sqrt(b.size))


BF16_MODE = "'bf16' mode (Q, K, V rounded to bf16; dO, dS, Q to TF32 in dP and dK)"
SCHEMES = {
    BF16_MODE: (bf16, bf16, tf32),
    'Q, K to bf16 only': (bf16, exact, exact),
    'V to bf16 only (dO to TF32)': (exact, bf16, tf32),
    "every operand to TF32 ('tf32' mode's rounding)": (tf32, tf32, tf32),
}

def report(errors):
    for name, e in errors.items():
        e = np.array(e)
        print(f'{name}: median {np.median(e):.1e}, over 1e-2 in {np.mean(e > 1e-2):.1%}, max {e.max():.2f}')


def random_draws(count):
    random = np.random.default_rng(1)
    for _ in range(count):
        yield (random.uniform(-1.5, 1.5, (GROUP, SQ, D)).astype(np.float32),
               random.uniform(-1.5, 1.5, (SK, D)).astype(np.float32),
               random.uniform(-1, 1, (SK, DV)).astype(np.float32),
               random.uniform(-1, 1, (GROUP, SQ, DV)).astype(np.float32), None)


def kernel_draws(path):
    with open(path) as f:
        for d in json.load(f)['draws']:
            yield (np.float32(d['q']).reshape(GROUP, SQ, D), np.float32(d['k']).reshape(SK, D),
                   np.float32(d['v']).reshape(SK, DV), np.float32(d['dout']).reshape(GROUP, SQ, DV),
                   np.float64(d['dk']).reshape(SK, D))


source = sys.argv[1] if len(sys.argv) > 1 else '3000'
draws = kernel_draws(source) if source.endswith('.json') else random_draws(int(source))
errors = {name: [] for name in SCHEMES}
kernel = {'kernel against exact': [], 'kernel against the bf16 model': []}
for q, k, v, dout, dk in draws:
    want = dkey(q, k, v, dout, exact, exact, exact)
    for name, scheme in SCHEMES.items():
        errors[name].append(relative_error(dkey(q, k, v, dout, *scheme), want))
    if dk is not None:
        kernel['kernel against exact'].append(relative_error(dk, want))
        kernel['kernel against the bf16 model'].append(relative_error(dk, dkey(q, k, v, dout, *SCHEMES[BF16_MODE])))
report(errors)
if kernel['kernel against exact']:
    report(kernel)
