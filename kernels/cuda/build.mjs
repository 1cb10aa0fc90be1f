#!/usr/bin/env node
// Builds the CUDA addon (build/Release/tfjs_attention_cuda.node) with nvcc against Node-API
// headers, so one build serves every Node version.
//
//   node kernels/cuda/build.mjs [--arch=sm_90a,sm_80 | --arch=native] [--verbose] [--bench]
//                               [--define=NAME=VALUE ...] [--out=build/variant]
//
// --bench also links the bench build, tfjs_attention_cuda_bench.node beside the addon: the
// shipped addon's functions plus the benchmark's timers and the device-pointer entry test's
// calls (csrc/bench_addon.cc), for benchmarks/cuda and test/cuda/device_run.sh.
// --define overrides a tuning switch (csrc/tuning.h) and --out writes the addon elsewhere, so
// that the benchmark can compare variants.
// Architectures: --arch, else TFJS_ATTENTION_CUDA_ARCHS, else sm_80, sm_86, sm_89 and
// sm_90a machine code plus compute_90 PTX for newer GPUs ('ptx' in a list adds that PTX).
// 'native' asks nvidia-smi for the GPUs present. The compiler: NVCC, else CUDA_HOME or CUDA_PATH, PATH,
// /usr/local/cuda. Without nvcc it says so and exits 0: the package works without the addon.
// kernels/tensorflow/gpu/build.mjs builds the kernels into TensorFlow's GPU library with the
// functions exported here.
import {execFileSync, spawn} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import {availableParallelism} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
/** The kernels and the device-pointer entry (csrc/attention_call.h): every build links these. */
export const csrc = join(here, 'csrc');
export const kernelSources = ['forward.cu', 'forward_short.cu', 'forward_wgmma.cu', 'backward.cu', 'attention_call.cc',
                              'device_info.cc'];
const addonSources = ['device_pool.cc', 'napi_util.cc'];
const defaultArchs = ['sm_80', 'sm_86', 'sm_89', 'sm_90a', 'ptx'];
const ptxArch = 'compute_90';

export function option(name) {
  const arg = process.argv.find(a => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

export function findNvcc() {
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

export function nativeArchs() {
  const out = execFileSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], {encoding: 'utf8'});
  // Hopper's wgmma-capable target is sm_90a; others use their plain number.
  return [...new Set(out.trim().split('\n').map(cap => {
    const sm = `sm_${cap.trim().replace('.', '')}`;
    return sm === 'sm_90' ? 'sm_90a' : sm;
  }))];
}

export function gencodeFlags(archs) {
  return archs.map(sm => sm === 'ptx' ? `-gencode=arch=${ptxArch},code=${ptxArch}` :
                                        `-gencode=arch=${sm.replace('sm_', 'compute_')},code=${sm}`);
}

export function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: 'inherit'});
    child.on('exit', code => code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`)));
    child.on('error', reject);
  });
}

export async function inParallel(tasks, limit) {
  const queue = [...tasks];
  const workers = Array.from({length: Math.min(limit, queue.length)}, async () => {
    while (queue.length > 0) await queue.shift()();
  });
  await Promise.all(workers);
}

/** The targets: --arch, else TFJS_ATTENTION_CUDA_ARCHS, else the defaults. */
export function targetArchs() {
  const archOption = option('arch') ?? process.env.TFJS_ATTENTION_CUDA_ARCHS;
  return archOption === 'native' ? nativeArchs() : archOption ? archOption.split(',') : defaultArchs;
}

/** nvcc's flags for every object: C++17, -O3, position-independent, hidden symbols, the --defines. */
export function commonFlags() {
  return ['-std=c++17', '-O3', '-Xcompiler=-fPIC,-fvisibility=hidden',
          ...process.argv.filter(a => a.startsWith('--define=')).map(a => `-D${a.slice('--define='.length)}`)];
}

/**
 * Compiles `sources` (paths) to objects in objDir, CUDA files for `archs`, at most as many at once
 * as there are cores; returns the objects' paths.
 */
export async function compileObjects(nvcc, sources, objDir, archs, flags) {
  mkdirSync(objDir, {recursive: true});
  const verbose = process.argv.includes('--verbose') ? ['-Xptxas=-v'] : [];
  const objects = sources.map(source => join(objDir, `${source.split('/').pop()}.o`));
  await inParallel(sources.map((source, i) => () => {
    const cuda = source.endsWith('.cu') ? [...gencodeFlags(archs), ...verbose] : [];
    return run(nvcc, [...flags, ...cuda, '-c', source, '-o', objects[i]]);
  }), Math.max(1, availableParallelism()));
  return objects;
}

async function main() {
  const nvcc = findNvcc();
  if (nvcc == null) {
    console.log('build:cuda: nvcc not found (set NVCC or CUDA_HOME, or put nvcc on PATH); ' +
                'the CUDA addon is not built.');
    return;
  }
  const headers = findNodeApiHeaders();
  if (headers == null) {
    throw new Error('build:cuda: Node-API headers not found (install node-api-headers or set NODE_INCLUDE)');
  }
  const archs = targetArchs();
  const bench = process.argv.includes('--bench');
  const outDir = join(root, option('out') ?? join('build', 'Release'));
  const flags = [...commonFlags(), `-I${headers}`, '-DNODE_GYP_MODULE_NAME=tfjs_attention_cuda'];
  console.log(`build:cuda: ${nvcc}, targets ${archs.join(', ')}${bench ? ', with the bench build' : ''}`);
  const shared = [...kernelSources, ...addonSources];
  const sources = [...shared, 'addon.cc', ...(bench ? ['benchmark.cu', 'bench_addon.cc'] : [])];
  const objects = await compileObjects(nvcc, sources.map(s => join(csrc, s)), join(outDir, 'obj'), archs, flags);
  const link = async (names, file) => {
    const output = join(outDir, file);
    const linked = names.map(name => objects[sources.indexOf(name)]);
    await run(nvcc, ['-shared', '-cudart=static', ...gencodeFlags(archs), ...linked, '-o', output]);
    console.log(`build:cuda: wrote ${output}`);
  };
  await link([...shared, 'addon.cc'], 'tfjs_attention_cuda.node');
  if (bench) await link([...shared, 'benchmark.cu', 'bench_addon.cc'], 'tfjs_attention_cuda_bench.node');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(error => {
    console.error(error.message);
    process.exit(1);
  });
}
