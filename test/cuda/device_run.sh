#!/bin/bash
# One GPU-machine session: the CUDA tests, compute-sanitizer, then the benchmark (ours and
# PyTorch's). Prepared here with `npm run build:cuda -- --arch=sm_90a --bench` (the addon and
# the bench build), the pack-node script and `node test/cuda/bundle.mjs test/cuda/device_runner.ts
# benchmarks/cuda/bench.ts benchmarks/cuda/sync_cost.ts`; run there from the repository root with
# .device and build carried. Logs and JSON go to $OUT.
# Arguments pick steps: tests (the addon's and the device-pointer entry's), sanitize (memcheck of
# both paths, racecheck), sync (what the TensorFlow GPU kernels' synchronization costs), bench
# (ours and PyTorch's), ours (our kernels only), variant (our kernel times from each bench build
# in build/variant*; see kernels/cuda/build.mjs).
set -o pipefail
source .device/env.sh
export TFJS_ATTENTION_CUDA_ADDON=$PWD/build/Release/tfjs_attention_cuda.node
export TFJS_ATTENTION_CUDA_BENCH_ADDON=$PWD/build/Release/tfjs_attention_cuda_bench.node
out=${OUT:-build/device-out}
mkdir -p "$out"
steps=${*:-tests sanitize bench}
status=0
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
for step in $steps; do
  case $step in
    tests)
      # The passing lines stay in the log; the reply shows the rest.
      node build/device/device_runner.mjs > "$out/tests.log" 2>&1 || status=1
      grep -vE '^\s+✔' "$out/tests.log" | grep -vE '^\s+at ' ;;
    sanitize)
      for run in memcheck:addon memcheck:device racecheck:device; do
        tool=${run%:*} path=${run#*:}
        compute-sanitizer --tool $tool --error-exitcode 3 node test/cuda/sanitize.mjs $path 2>&1 |
          tee "$out/${tool}_$path.log" || status=1
      done ;;
    sync)
      node build/device/sync_cost.mjs "$out/sync_cost.json" 2>&1 | tee "$out/sync.log" || status=1 ;;
    bench|ours)
      node build/device/bench.mjs "$out/cuda_bench.json" 2>&1 | tee "$out/bench.log" || status=1
      [ "$step" = ours ] || python3 benchmarks/cuda/torch_sdpa.py "$out/torch_sdpa.json" 2>&1 | tee "$out/torch.log" || status=1 ;;
    variant)
      for dir in build/variant*/; do
        name=$(basename "$dir")
        echo "$name"
        TFJS_ATTENTION_CUDA_BENCH_ADDON=$PWD/$dir/tfjs_attention_cuda_bench.node BENCH_KERNELS_ONLY=1 \
          node build/device/bench.mjs "$out/cuda_bench_$name.json" 2>&1 | tee "$out/$name.log" || status=1
      done ;;
  esac
done
exit $status
