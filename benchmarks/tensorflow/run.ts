/**
 * The native kernels against TensorFlow's own composed ops on tfjs-node's `tensorflow`
 * backend, side by side in one run, with PyTorch's CPU scaled_dot_product_attention as the
 * anchor, the extra peak memory of a long sequence, and the Swin-T training step.
 * Run: npm run bench:tensorflow   (writes the 'tensorflow' section of benchmarks/RESULTS.md)
 *
 * PyTorch runs from TORCH_PYTHON, else .tmp/torch-cpu/bin/python (a venv with
 * torch==2.13.0+cpu); without it the anchor column says so. BENCH_ROUNDS (5) rounds over
 * the shapes, BENCH_REPS (9) runs per round, BENCH_SWIN_REPS (3) for Swin-T.
 */
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {cpus, freemem, loadavg} from 'node:os';
import {fileURLToPath} from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {forceComposed, tensorflowAvailability} from '../../src/node';
import {SwinTransformerBlock, swinPresets, swinTransformer} from '../../src/layers/index';
import {Attention, composedBaseline, fusedAttention, Inputs, medianMsInTurns, randomInputs} from '../harness';
import {markdownTable, writeResultsSection} from '../results';
import {median} from '../stats';

const CASES: {label: string, shape: number[], bias?: number[]}[] = [
  {label: '[1,8,512,64]', shape: [1, 8, 512, 64]},
  {label: '[1,8,1024,64]', shape: [1, 8, 1024, 64]},
  {label: '[256,3,49,32] + bias [1,3,49,49]', shape: [256, 3, 49, 32], bias: [1, 3, 49, 49]},
];
const MEMORY_SHAPE = [1, 8, 8192, 64];
/** Composed attention at MEMORY_SHAPE holds several 2.1 GB score tensors: measured only with this much free. */
const COMPOSED_MEMORY_FREE_BYTES = 16 * 2 ** 30;
const WARMUP = 2;
const REPS = Number(process.env.BENCH_REPS ?? 9);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SWIN_BATCH = 8;
const SWIN_REPS = Number(process.env.BENCH_SWIN_REPS ?? 3);
const root = fileURLToPath(new URL('../../', import.meta.url));
const script = fileURLToPath(import.meta.url);

/**
 * Every pass ends in a reduction read back, not in reading the outputs: tfjs-node's dataSync()
 * of large tensors is far slower than the attention itself (NOTES: 9 s for 32 MB).
 */
function readSum(make: () => tf.Tensor): void {
  const sum = tf.tidy(() => tf.sum(make()));
  sum.dataSync();
  sum.dispose();
}

function forwardSum(attention: Attention, x: Inputs): void {
  readSum(() => attention(x.q, x.k, x.v, x.bias));
}

function forwardBackwardSum(attention: Attention, x: Inputs): void {
  readSum(() => {
    const inputs = x.bias != null ? [x.q, x.k, x.v, x.bias] : [x.q, x.k, x.v];
    const grads = tf.grads((...xs: tf.Tensor[]) => attention(xs[0], xs[1], xs[2], xs[3]))(inputs, x.dy);
    return tf.addN(grads.map(g => tf.sum(g)));
  });
}

function loadTfjsNode(): void {
  createRequire(import.meta.url)('@tensorflow/tfjs-node');
  const native = tensorflowAvailability();
  if (!native.available) throw new Error(`bench:tensorflow: the native kernels cannot run: ${native.reason}`);
}

/** Peak resident bytes since the last reset (Linux: VmHWM, reset through clear_refs), and the current ones. */
function residentBytes(): {peak: number, current: number} {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kB = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return {peak: kB('VmHWM'), current: kB('VmRSS')};
}

/**
 * In a child process (--memory=fused|composed): the resident bytes one forward+backward at
 * MEMORY_SHAPE adds at its peak above those held before it (inputs made, kernels loaded).
 */
async function memoryChild(mode: string): Promise<void> {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const attention = mode === 'fused' ? fusedAttention : composedBaseline;
  const small = randomInputs([1, 8, 64, 64]);
  forwardBackwardSum(attention, small);  // loads the kernels
  const x = randomInputs(MEMORY_SHAPE);
  tf.tidy(() => tf.addN([x.q, x.k, x.v, x.dy].map(t => tf.sum(t)))).dataSync();
  writeFileSync('/proc/self/clear_refs', '5');
  const before = residentBytes().current;
  const start = performance.now();
  forwardBackwardSum(attention, x);
  const ms = performance.now() - start;
  console.log(JSON.stringify({extraPeakBytes: residentBytes().peak - before, ms}));
}

function measureMemory(mode: string): {extraPeakBytes: number, ms: number} | string {
  if (mode === 'composed' && freemem() < COMPOSED_MEMORY_FREE_BYTES) {
    const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
    return `not measured: ${gib(freemem())} GiB free, under the ${gib(COMPOSED_MEMORY_FREE_BYTES)} GiB it needs`;
  }
  const child =
      spawnSync(process.execPath, ['--import', 'tsx', script, `--memory=${mode}`], {cwd: root, encoding: 'utf8'});
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    return `failed (exit ${child.status}): ${child.stderr.trim().split('\n').pop()}`;
  }
  return JSON.parse(line);
}

function torchAnchor(): {version: string, threads: number, ms: Map<string, number>} | string {
  const python = process.env.TORCH_PYTHON ?? `${root}.tmp/torch-cpu/bin/python`;
  if (!existsSync(python)) return `no PyTorch (${python}; set TORCH_PYTHON)`;
  const out = `${root}build/torch_sdpa_cpu.json`;
  const child = spawnSync(python, [fileURLToPath(new URL('./torch_sdpa_cpu.py', import.meta.url)), out, String(REPS)],
                          {stdio: ['ignore', 'inherit', 'inherit']});
  if (child.status !== 0) return `PyTorch's run failed (exit ${child.status})`;
  const result = JSON.parse(readFileSync(out, 'utf8')) as
      {torch: string, threads: number, rows: {label: string, pass: string, ms: number}[]};
  const ms = new Map(result.rows.map(r => [`${r.label} ${r.pass}`, r.ms]));
  return {version: result.torch, threads: result.threads, ms};
}

/**
 * Swin-T (timm's swin_tiny_patch4_window7_224) at `batch`: a forward pass (its logits summed)
 * and a training step (Adam, softmax cross-entropy), fused and composed in turns.
 */
async function swinTInTurns(batch: number, reps: number): Promise<{pass: string, fused: number, composed: number}[]> {
  const config = swinPresets.tiny;
  const model = swinTransformer(config);
  model.compile({optimizer: tf.train.adam(1e-4), loss: tf.losses.softmaxCrossEntropy});
  const block = model.layers.find((l): l is SwinTransformerBlock => l instanceof SwinTransformerBlock)!;
  const implementation = block.attentionDispatch(batch, true).implementation;
  if (implementation !== 'tensorflow-native') throw new Error(`Swin-T's attention runs ${implementation}`);
  const images = tf.randomNormal([batch, config.imgSize, config.imgSize, config.inChans]);
  const labels = tf.oneHot(tf.randomUniform([batch], 0, config.numClasses, 'int32') as tf.Tensor1D, config.numClasses);
  const composed = (run: () => Promise<void>) => async () => {
    const restore = forceComposed('tensorflow');
    try {
      await run();
    } finally {
      restore();
    }
  };
  const forward = async () => readSum(() => model.predict(images) as tf.Tensor);
  const step = async () => {
    await model.trainOnBatch(images, labels);
  };
  const rows = [];
  for (const [pass, run] of [['forward', forward], ['training step', step]] as const) {
    const [fusedMs, composedMs] = await medianMsInTurns([run, composed(run)], 1, reps);
    console.log(`Swin-T batch ${batch} ${pass}: fused ${fusedMs.toFixed(0)} ms, composed ${composedMs.toFixed(0)} ms`);
    rows.push({pass, fused: fusedMs, composed: composedMs});
  }
  tf.dispose([images, labels]);
  model.dispose();
  return rows;
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0];
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const rows: (string | number)[][] = [];
  // Rounds over all cases, so that a slower or faster spell of the machine (a shared virtual
  // machine has them) touches every case alike; each round times fused and composed in turns.
  const inputs = CASES.map(c => randomInputs(c.shape, c.bias));
  const rounds: {label: string, pass: string, fused: number, composed: number}[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measured = [];
    for (const [n, c] of CASES.entries()) {
      for (const pass of ['forward', 'forward+backward'] as const) {
        const run = pass === 'forward' ? forwardSum : forwardBackwardSum;
        const [fused, composed] = await medianMsInTurns(
            [async () => run(fusedAttention, inputs[n]), async () => run(composedBaseline, inputs[n])], WARMUP, REPS);
        measured.push({label: c.label, pass, fused, composed});
        console.log(`round ${round + 1}: ${c.label} ${pass}: fused ${fused.toFixed(1)} ms, composed ` +
                    `${composed.toFixed(1)} ms (${(composed / fused).toFixed(2)}×)`);
      }
    }
    rounds.push(measured);
  }
  for (const x of inputs) tf.dispose(Object.values(x).filter((t): t is tf.Tensor => t != null));
  const timed = rounds[0].map((first, i) => {
    const ratioList = rounds.map(r => r[i].composed / r[i].fused);
    return {
      label: first.label, pass: first.pass, fused: median(rounds.map(r => r[i].fused)),
      composed: median(rounds.map(r => r[i].composed)), ratio: median(ratioList), low: Math.min(...ratioList),
      high: Math.max(...ratioList),
    };
  });
  const torch = torchAnchor();
  for (const t of timed) {
    const torchMs = typeof torch === 'string' ? undefined : torch.ms.get(`${t.label} ${t.pass}`);
    rows.push([
      t.label, t.pass, t.fused.toFixed(1), t.composed.toFixed(1), `${t.ratio.toFixed(2)}×`,
      `${t.low.toFixed(2)}–${t.high.toFixed(2)}×`,
      torchMs != null ? torchMs.toFixed(1) : '–', torchMs != null ? `${(torchMs / t.fused).toFixed(2)}×` : '–',
    ]);
  }

  const memory = ['fused', 'composed'].map(mode => {
    const m = measureMemory(mode);
    const said = typeof m === 'string' ? m : `${(m.extraPeakBytes / 1e6).toFixed(0)} MB, ${m.ms.toFixed(0)} ms`;
    console.log(`[1,8,8192,64] forward+backward ${mode}: ${said}`);
    return m;
  });
  const memoryCell = (m: (typeof memory)[number]) =>
      typeof m === 'string' ? m : `${(m.extraPeakBytes / 1e6).toFixed(0)} MB (${(m.ms / 1000).toFixed(1)} s)`;

  const swin = await swinTInTurns(SWIN_BATCH, SWIN_REPS);
  const swinRows = swin.map(r => [`Swin-T batch ${SWIN_BATCH}`, r.pass, r.fused.toFixed(0), r.composed.toFixed(0),
                                  `${(r.composed / r.fused).toFixed(2)}×`]);

  const header =
      ['shape', 'pass', 'native fused ms', 'TF composed ms', 'speed-up', 'speed-up by round', 'PyTorch SDPA ms',
       'PyTorch / fused'];
  const table = markdownTable(header, rows);
  const torchNote = typeof torch === 'string' ? `PyTorch: ${torch}.` :
      `PyTorch ${torch.version} (${torch.threads} threads) ran right after, in its own process, with the same ` +
          'reduction.';
  const target = (pass: string) => pass === 'forward' ? 2 : 1.5;
  const targets = timed.map(t => `${t.label} ${t.pass} ${t.ratio.toFixed(2)}× (target ${target(t.pass)}×)`);
  console.log(`\n${table}\n\ntargets: ${targets.join('; ')}`);
  writeResultsSection('tensorflow', [
    '## tensorflow backend (tfjs-node, CPU): native fused vs TensorFlow composed',
    '',
    `\`npm run bench:tensorflow\`; ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, tfjs-node ` +
        `${tf.version.tfjs} on TensorFlow 2.21's CPU wheel (npm run setup:tfjs-node), ${cpus()[0].model}, 1-minute ` +
        `load average ${loadStart.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end on ` +
        `${cpus().length} cores (the benchmark's own threads count in it). ${ROUNDS} rounds over all shapes; in ` +
        `each, ${WARMUP} warm-up runs, then the median of ${REPS} runs, fused and composed taken in turns. Times are ` +
        'the median over rounds, the speed-up the median of the rounds\' speed-ups. Each pass ends in a sum read ' +
        'back (tfjs-node reads large tensors back slowly). Composed: matMul → mul(scale) → ' +
        'add(bias) → softmax → matMul as TensorFlow ops, gradients from @tensorflow/tfjs. ' + torchNote,
    '',
    table,
    '',
    `Extra peak resident memory of one forward+backward at [1,8,8192,64] (RSS high-water mark above the ` +
        `resident bytes before it, in a fresh process): native fused ${memoryCell(memory[0])}; TensorFlow composed ` +
        `${memoryCell(memory[1])}.`,
    '',
    `Swin-T (timm's swin_tiny_patch4_window7_224) on tensorflow, one warm-up round, then the median of ` +
        `${SWIN_REPS} rounds, fused and composed in turns (the forward pass ends in a sum of the logits read back):`,
    '',
    markdownTable(['model', 'pass', 'fused ms', 'composed ms', 'composed / fused'], swinRows),
  ].join('\n'));
}

const memoryMode = process.argv.find(a => a.startsWith('--memory='))?.slice('--memory='.length);
(memoryMode != null ? memoryChild(memoryMode) : main()).catch(e => {
  console.error(e);
  process.exit(1);
});
