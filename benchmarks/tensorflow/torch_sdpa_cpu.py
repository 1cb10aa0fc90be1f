"""PyTorch's CPU scaled_dot_product_attention at bench:tensorflow's shapes: the anchor.

Usage: torch_sdpa_cpu.py OUT.json REPS
Writes {"torch": version, "threads": n, "rows": [{"label", "pass", "ms"}]}: median ms over REPS
rounds after 2 warm-up rounds, each ending in a reduction read back (as the TensorFlow side).
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

CASES = [
    ('[1,8,512,64]', [1, 8, 512, 64], None),
    ('[1,8,1024,64]', [1, 8, 1024, 64], None),
    ('[256,3,49,32] + bias [1,3,49,49]', [256, 3, 49, 32], [1, 3, 49, 49]),
]


def median_ms(run, reps):
    for _ in range(2):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(out, reps):
    torch.manual_seed(0)
    rows = []
    for label, shape, bias_shape in CASES:
        q, k, v, dy = (torch.randn(shape) for _ in range(4))
        bias = torch.randn(bias_shape) if bias_shape else None

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, attn_mask=bias).sum().item()

        def forward_backward():
            inputs = [t.clone().requires_grad_() for t in ([q, k, v] + ([bias] if bias is not None else []))]
            out = F.scaled_dot_product_attention(*inputs[:3], attn_mask=inputs[3] if bias is not None else None)
            grads = torch.autograd.grad(out, inputs, dy)
            sum(g.sum() for g in grads).item()

        for name, run in [('forward', forward), ('forward+backward', forward_backward)]:
            rows.append({'label': label, 'pass': name, 'ms': median_ms(run, reps)})
            print(f'torch {label} {name}: {rows[-1]["ms"]:.1f} ms', flush=True)
    with open(out, 'w') as f:
        json.dump({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'rows': rows}, f)


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
