/**
 * Writes the CUDA section of benchmarks/RESULTS.md from the JSON that one GPU-machine run
 * of test/cuda/device_run.sh (step bench) left under $OUT, fetched back here:
 *   npx tsx benchmarks/cuda/report.ts <cuda_bench.json> <torch_sdpa.json>
 */
import {readFileSync} from 'node:fs';
import {markdownTable, writeResultsSection} from '../results';
import {backwardFlops, forwardFlops, SHAPES} from './shapes';

interface KernelRow { shape: string; precision: string; forwardMs: number; backwardMs: number; deviceBytes: number }
interface TorchRow { shape: string; dtype: string; forwardMs: number; backwardMs: number; peakBytes: number }
interface CallRow { shape: string; wholeCallMs: number; copyFloorMs: number; upBytes: number; downBytes: number }

/** The TF32 tensor-core ceiling measured on an H100 (shared design notes); an H200 has the same SMs and clocks. */
const TF32_CEILING = 402;

const [oursPath, torchPath] = process.argv.slice(2);
const ours = JSON.parse(readFileSync(oursPath, 'utf8')) as
    {device: {name: string}, kernels: KernelRow[], calls: CallRow[]};
const torch = JSON.parse(readFileSync(torchPath, 'utf8')) as {torch: string, device: string, rows: TorchRow[]};

const ms = (x: number) => x.toFixed(3);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const tflops = (flops: number, milliseconds: number) => (flops / milliseconds / 1e9).toFixed(0);
const megabytes = (bytes: number) => (bytes / 1e6).toFixed(0);
const kernel = (shape: string, precision: string) =>
  ours.kernels.find(k => k.shape === shape && k.precision === precision)!;
const torchRow = (shape: string, dtype: string) => torch.rows.find(r => r.shape === shape && r.dtype === dtype)!;

/** Ours and torch side by side: forward ms, ratio, forward+backward ms, ratio. */
const sideBySide = (k: KernelRow, t: TorchRow) => [
  ms(k.forwardMs), ms(t.forwardMs), ratio(t.forwardMs, k.forwardMs),
  ms(k.forwardMs + k.backwardMs), ms(t.forwardMs + t.backwardMs),
  ratio(t.forwardMs + t.backwardMs, k.forwardMs + k.backwardMs)];
const defaultRows = SHAPES.map(s => {
  const k = kernel(s.name, 'tf32'), t = torchRow(s.name, 'fp32');
  const f = forwardFlops(s), fb = f + backwardFlops(s);
  return [s.name, ...sideBySide(k, t), `${tflops(f, k.forwardMs)} / ${tflops(fb, k.forwardMs + k.backwardMs)}`,
          `${megabytes(k.deviceBytes)} / ${megabytes(t.peakBytes)}`];
});
const bf16Rows = SHAPES.map(s => {
  const k = kernel(s.name, 'bf16'), t = torchRow(s.name, 'bf16');
  const f = forwardFlops(s), fb = f + backwardFlops(s);
  return [s.name, ...sideBySide(k, t), `${tflops(f, k.forwardMs)} / ${tflops(f, t.forwardMs)}`,
          `${tflops(fb, t.forwardMs + t.backwardMs)}`];
});
const highestRows = SHAPES.map(s => {
  const k = kernel(s.name, 'highest'), t = torchRow(s.name, 'fp32');
  return [s.name, ms(k.forwardMs), ratio(t.forwardMs, k.forwardMs), ms(k.forwardMs + k.backwardMs),
          ratio(t.forwardMs + t.backwardMs, k.forwardMs + k.backwardMs)];
});
const callRows = ours.calls.map(c => [
  c.shape, ms(c.wholeCallMs), ms(c.copyFloorMs), ratio(c.wholeCallMs, c.copyFloorMs),
  `${(c.upBytes / 1e6).toFixed(0)} MB up, ${(c.downBytes / 1e6).toFixed(0)} MB down`]);

const allowTf32 = String((torch as {allowTf32?: boolean}).allowTf32);
const markdown = `
## CUDA kernels (native addon) vs PyTorch SDPA — ${ours.device.name}

One run of \`test/cuda/device_run.sh bench\` on ${ours.device.name} (PyTorch ${torch.torch}, same machine, same run).
Kernel time from CUDA events around each launch, medians of 30 iterations after 5 warm-ups, fresh random
inputs before every iteration; float32 inputs and outputs. Backward includes zeroing dQ and the delta pass.
PyTorch gets Swin's [1,H,49,49] relative bias plus [nW,1,49,49] window mask materialized to [B,H,49,49];
ours reads them through broadcast strides. FLOPs: 4·B·H·S²·D forward (half under causal), 2.5× that backward.

### Default precision ('tf32') vs PyTorch float32 SDPA (allow_tf32 = ${allowTf32})
${markdownTable(['shape', 'ours fwd ms', 'torch fwd ms', 'speed-up', 'ours fwd+bwd ms', 'torch fwd+bwd ms', 'speed-up',
                 'ours TFLOP/s fwd / fwd+bwd', 'device MB ours / torch'], defaultRows)}

Device MB: every device buffer of one forward + backward, inputs, outputs, gradients and scratch included (ours:
the addon's pool after the timed run, from empty, in its size classes; torch: \`max_memory_allocated\` over one
forward + backward, the materialized Swin mask included).
TF32 tensor-core ceiling measured on an H100 (an H200 has the same multiprocessors and clocks): about
${TF32_CEILING} TFLOP/s. On this GPU the LM rows' forward is the Hopper kernel (\`forward_wgmma.cu\`, 'tf32' without a
bias); its time includes the pass that lays out K and V as TF32 tiles, and those tiles take device memory the size
of K and V again during the call (2 × 25 MB at 8×12×1024×64).
The 'tf32' backward of the LM rows (more keys than one 64-key block) reads Q and dO from copies its row pass
rounds to TF32, which take device memory the size of Q and dO again during the call; the pool hands it the buffers
the forward's tiles used, so the device MB above did not grow. Where its key blocks are not a whole number of waves
and all have the same steps (no causal or block-diagonal mask: the non-causal LM rows), that backward runs
stream-K: resident blocks take even shares of all key blocks' steps.

### 'bf16' mode vs PyTorch bfloat16 SDPA (bf16 inputs there; ours keeps float32 in and out)
${markdownTable(['shape', 'ours fwd ms', 'torch fwd ms', 'speed-up', 'ours fwd+bwd ms', 'torch fwd+bwd ms', 'speed-up',
                 'TFLOP/s fwd ours / torch', 'torch fwd+bwd TFLOP/s'], bf16Rows)}

### 'highest' mode (fp32-accurate, split TF32) vs PyTorch float32 SDPA
${markdownTable(['shape', 'ours fwd ms', 'speed-up', 'ours fwd+bwd ms', 'speed-up'], highestRows)}

### Whole TF.js call on \`cpu\` with the CUDA kernels (forward, tf32)
Wall time of \`scaledDotProductAttention\` plus \`dataSync\`: inputs read from the cpu backend, copied to the
device, kernel, output and logsumexp copied back. The floor is the same bytes through the same pageable
cudaMemcpy, host to device plus device to host, timed alone.
${markdownTable(['shape', 'whole call ms', 'copy floor ms', 'call / floor', 'bytes'], callRows)}
`;

writeResultsSection('cuda', markdown);
console.log(markdown);
