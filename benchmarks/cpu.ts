/**
 * Fused vs composed attention on the cpu backend, side by side in one run: median ms of
 * forward and forward+backward, extra peak bytes per call (tf.profile), GFLOP/s.
 * Run: npm run bench   (writes the 'cpu' section of benchmarks/RESULTS.md)
 */
import {cpus, loadavg} from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import {
  attentionFlops, composedBaseline, extraPeakBytes, forward, forwardBackward, fusedAttention, ioBytes, mb,
  medianMsInTurns, randomInputs,
} from './harness';
import {markdownTable, writeResultsSection} from './results';

const CASES: {label: string, shape: number[], bias?: number[]}[] = [
  {label: '[1,8,256,64]', shape: [1, 8, 256, 64]},
  {label: '[1,8,512,64]', shape: [1, 8, 512, 64]},
  {label: '[1,8,1024,64]', shape: [1, 8, 1024, 64]},
  {label: '[256,3,49,32] + bias [1,3,49,49]', shape: [256, 3, 49, 32], bias: [1, 3, 49, 49]},
];
const WARMUP = 1;
const REPS = Number(process.env.BENCH_REPS ?? 5);

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const rows: (string | number)[][] = [];
  for (const c of CASES) {
    const x = randomInputs(c.shape, c.bias);
    for (const pass of ['forward', 'forward+backward'] as const) {
      const run = pass === 'forward' ? forward : forwardBackward;
      const [fusedMs, composedMs] =
          await medianMsInTurns([() => run(fusedAttention, x), () => run(composedBaseline, x)], WARMUP, REPS);
      const fusedPeak = await extraPeakBytes(() => run(fusedAttention, x));
      const composedPeak = await extraPeakBytes(() => run(composedBaseline, x));
      const gflops = (ms: number) => (attentionFlops(c.shape, pass !== 'forward') / ms / 1e6).toFixed(2);
      const row = [
        c.label, pass, fusedMs.toFixed(1), composedMs.toFixed(1), `${(composedMs / fusedMs).toFixed(2)}×`,
        mb(fusedPeak), mb(composedPeak), mb(ioBytes(x)), gflops(fusedMs), gflops(composedMs),
      ];
      rows.push(row);
      console.log(row.join('  '));
    }
    tf.dispose(Object.values(x));
  }
  const header = [
    'shape', 'pass', 'fused ms', 'composed ms', 'speed-up', 'fused extra peak MB', 'composed extra peak MB',
    'q+k+v+out MB', 'fused GFLOP/s', 'composed GFLOP/s',
  ];
  const table = markdownTable(header, rows);
  console.log(`\n${table}`);
  writeResultsSection('cpu', [
    '## cpu backend (Node), fused vs composed',
    '',
    `\`npm run bench\`; ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus()[0].model}, ` +
        `1-minute load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores at the end; ${WARMUP} warm-up ` +
        `round, then the median of ${REPS} rounds, fused and composed taken in turns. Composed: matMul → ` +
        'mul(scale) → add(bias) → softmax → matMul, gradients from @tensorflow/tfjs. Extra peak: bytes above those ' +
        'held before the call, from tf.profile; TF.js counts the tensors it saves for the backward pass (aliases ' +
        'of q, k, v and the output, made for every op with a gradient) as new bytes, and forward+backward includes ' +
        'the gradients themselves (the size of q, k and v). GFLOP/s counts the matmuls of the math ' +
        '(4·B·H·S²·D forward, 3× that with backward) for both.',
    '',
    table,
  ].join('\n'));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
