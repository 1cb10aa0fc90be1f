#!/usr/bin/env node
// Builds the CUDA addon (build/Release/tfjs_attention_cuda.node) with nvcc against Node-API
// headers, so one build serves every Node version.
//
//   node kernels/cuda/build.mjs [--arch=sm_90a,sm_80 | --arch=native] [--verbose]
//                               [--define=NAME=VALUE ...] [--out=build/variant]
//
// --define overrides a kernel-traits default (kernel_traits.cuh) and --out writes the addon
// elsewhere, so that the benchmark can compare variants.
// Architectures: --arch, else TFJS_ATTENTION_CUDA_ARCHS, else sm_80, sm_86, sm_89 and
// sm_90a machine code plus compute_90 PTX for newer GPUs ('ptx' in a list adds that PTX).
// 'native' asks nvidia-smi for the GPUs present. The compiler: NVCC, else CUDA_HOME or CUDA_PATH, PATH,
// /usr/local/cuda. Without nvcc it says so and exits 0: the package works without the addon.
import {execFileSync, spawn} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import {availableParallelism} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const sources = ['forward.cu', 'forward_short.cu', 'forward_wgmma.cu', 'backward.cu', 'benchmark.cu', 'attention_call.cc', 'device_pool.cc', 'addon.cc'];
const defaultArchs = ['sm_80', 'sm_86', 'sm_89', 'sm_90a', 'ptx'];
const ptxArch = 'compute_90';

function option(name) {
  const arg = process.argv.find(a => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

function findNvcc() {
  // NVCC names the compiler outright; a path that does not exist means no CUDA build.
  if (process.env.NVCC) return existsSync(process.env.NVCC) ? process.env.NVCC : undefined;
  const candidates = [];
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH]) {
    if (home) candidates.push(join(home, 'bin', 'nvcc'));
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir) candidates.push(join(dir, 'nvcc'));
  }
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find(existsSync);
}

function findNodeApiHeaders() {
  const candidates = [
    process.env.NODE_INCLUDE,
    join(root, 'node_modules', 'node-api-headers', 'include'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
  ];
  return candidates.find(dir => dir && existsSync(join(dir, 'node_api.h')));
}

function nativeArchs() {
  const out = execFileSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], {encoding: 'utf8'});
  // Hopper's wgmma-capable target is sm_90a; others use their plain number.
  return [...new Set(out.trim().split('\n').map(cap => {
    const sm = `sm_${cap.trim().replace('.', '')}`;
    return sm === 'sm_90' ? 'sm_90a' : sm;
  }))];
}

function gencodeFlags(archs) {
  return archs.map(sm => sm === 'ptx' ? `-gencode=arch=${ptxArch},code=${ptxArch}` :
                                        `-gencode=arch=${sm.replace('sm_', 'compute_')},code=${sm}`);
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: 'inherit'});
    child.on('exit', code => code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`)));
    child.on('error', reject);
  });
}

async function inParallel(tasks, limit) {
  const queue = [...tasks];
  const workers = Array.from({length: Math.min(limit, queue.length)}, async () => {
    while (queue.length > 0) await queue.shift()();
  });
  await Promise.all(workers);
}

async function main() {
  const nvcc = findNvcc();
  if (nvcc == null) {
    console.log('build:cuda: nvcc not found (set NVCC or CUDA_HOME, or put nvcc on PATH); the CUDA addon is not built.');
    return;
  }
  const headers = findNodeApiHeaders();
  if (headers == null) {
    throw new Error('build:cuda: Node-API headers not found (install node-api-headers or set NODE_INCLUDE)');
  }
  const archOption = option('arch') ?? process.env.TFJS_ATTENTION_CUDA_ARCHS;
  const archs = archOption === 'native' ? nativeArchs() : archOption ? archOption.split(',') : defaultArchs;
  const outDir = join(root, option('out') ?? join('build', 'Release'));
  const objDir = join(outDir, 'obj');
  mkdirSync(objDir, {recursive: true});
  mkdirSync(outDir, {recursive: true});
  const common = ['-std=c++17', '-O3', '-Xcompiler=-fPIC,-fvisibility=hidden', `-I${headers}`,
                  '-DNODE_GYP_MODULE_NAME=tfjs_attention_cuda',
                  ...process.argv.filter(a => a.startsWith('--define=')).map(a => `-D${a.slice('--define='.length)}`)];
  const verbose = process.argv.includes('--verbose') ? ['-Xptxas=-v'] : [];
  console.log(`build:cuda: ${nvcc}, targets ${archs.join(', ')}`);
  const objects = sources.map(source => join(objDir, `${source}.o`));
  await inParallel(sources.map((source, i) => () => {
    const cuda = source.endsWith('.cu') ? [...gencodeFlags(archs), ...verbose] : [];
    return run(nvcc, [...common, ...cuda, '-c', join(here, 'csrc', source), '-o', objects[i]]);
  }), Math.max(1, availableParallelism()));
  const output = join(outDir, 'tfjs_attention_cuda.node');
  await run(nvcc, ['-shared', '-cudart=static', ...gencodeFlags(archs), ...objects, '-o', output]);
  console.log(`build:cuda: wrote ${output}`);
}

main().catch(error => {
  console.error(error.message);
  process.exit(1);
});
