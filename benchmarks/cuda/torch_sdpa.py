"""PyTorch's scaled_dot_product_attention on the same shapes as benchmarks/cuda/bench.ts:
CUDA events around each call, warm-up, medians, fresh random inputs before every iteration.
Swin shapes get the [1, H, S, S] relative bias plus the [nW, 1, S, S] window mask
materialized to [B, H, S, S], as PyTorch's users must pass them. Writes JSON to argv[1]."""
import json
import statistics
import sys

import torch
import torch.nn.functional as F

SHAPES = [
    ("LM 8×12×1024×64", 8, 12, 1024, 64, False, None),
    ("LM 4×16×2048×64 causal", 4, 16, 2048, 64, True, None),
    ("LM 2×16×4096×128", 2, 16, 4096, 128, False, None),
    ("Swin stage 1 2048×3×49×32", 2048, 3, 49, 32, False, 64),
    ("Swin stage 3 128×12×49×32", 128, 12, 49, 32, False, 4),
]
ITERATIONS, WARMUP = 30, 5


def random_inputs(batch, heads, seq, dim, windows, dtype):
    """Fresh q, k, v (requiring gradients), the materialized Swin mask or None, and dy."""
    q, k, v = (torch.randn(batch, heads, seq, dim, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
    mask = None
    if windows:
        rel = torch.randn(1, heads, seq, seq, device="cuda", dtype=dtype)
        win = torch.randn(windows, 1, seq, seq, device="cuda", dtype=dtype)
        mask = (rel + win).repeat(batch // windows, 1, 1, 1).contiguous()
    dy = torch.randn(batch, heads, seq, dim, device="cuda", dtype=dtype)
    return q, k, v, mask, dy


def time_sdpa(batch, heads, seq, dim, causal, windows, dtype):
    forward, backward = [], []
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for it in range(WARMUP + ITERATIONS):
        q, k, v, mask, dy = random_inputs(batch, heads, seq, dim, windows, dtype)
        torch.cuda.synchronize()
        start.record()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        stop.record()
        torch.cuda.synchronize()
        fwd = start.elapsed_time(stop)
        start.record()
        out.backward(dy)
        stop.record()
        torch.cuda.synchronize()
        if it >= WARMUP:
            forward.append(fwd)
            backward.append(start.elapsed_time(stop))
    return statistics.median(forward), statistics.median(backward)


def peak_bytes(batch, heads, seq, dim, causal, windows, dtype):
    """Device bytes allocated at the peak of one forward + backward, inputs, mask and gradients included."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    q, k, v, mask, dy = random_inputs(batch, heads, seq, dim, windows, dtype)
    F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal).backward(dy)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def main():
    rows = []
    for name, batch, heads, seq, dim, causal, windows in SHAPES:
        for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            fwd, bwd = time_sdpa(batch, heads, seq, dim, causal, windows, dtype)
            row = {"shape": name, "dtype": label, "forwardMs": fwd, "backwardMs": bwd,
                   "peakBytes": peak_bytes(batch, heads, seq, dim, causal, windows, dtype)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    result = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(),
        "allowTf32": torch.backends.cuda.matmul.allow_tf32,
        "rows": rows,
    }
    with open(sys.argv[1] if len(sys.argv) > 1 else "torch_sdpa.json", "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
