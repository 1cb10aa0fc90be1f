#!/usr/bin/env node
// Builds the TensorFlow op library (build/tensorflow/tfjs_attention_tf.so: the ops and their
// CPU kernels) and the Node-API module that loads it into tfjs-node's TensorFlow
// (build/tensorflow/tfjs_attention_tf_loader.node), against the installed
// @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu: TensorFlow's C API headers come from
// its deps/include, its libraries from deps/lib. With tfjs-node-gpu and nvcc present it then
// runs kernels/tensorflow/gpu/build.mjs for the GPU kernels.
//
//   node kernels/tensorflow/build.mjs [--verbose]
//
// The compiler is CXX, else g++. Without tfjs-node it says so and exits 0: the package
// works without the library. Objects are rebuilt when a source or header is newer.
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, readdirSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join, relative} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(root, 'build', 'tensorflow');
export const libraryFile = join(outDir, 'tfjs_attention_tf.so');
export const loaderFile = join(outDir, 'tfjs_attention_tf_loader.node');
const librarySources = ['attention_problem.cc', 'op_kernel.cc', 'ops.cc', 'cpu_kernels.cc', 'library.cc'];
const baseFlags = ['-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-pthread', '-Wall'];
const log = message => console.log(`build:tensorflow: ${message}`);

/** The installed tfjs-node package, the user's project's first, -gpu preferred. */
export function findTfjsNode() {
  const require = createRequire(join(root, 'package.json'));
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      const dir = dirname(require.resolve(`${name}/package.json`, {paths: [process.cwd(), root]}));
      return {name, dir, gpu: name.endsWith('-gpu')};
    } catch {
      // not installed
    }
  }
  return null;
}

function nodeApiHeaders() {
  const candidates =
      [process.env.NODE_INCLUDE, join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
  return candidates.find(dir => dir && existsSync(join(dir, 'node_api.h')));
}

/**
 * The compute core (cpu/sources.json): its sources with their own flags (SIMD variants, for
 * their process.arch only), include folders and link flags.
 */
function computeCore() {
  const dir = join(here, 'cpu');
  const list = JSON.parse(readFileSync(join(dir, 'sources.json'), 'utf8'));
  const includes = (list.includeDirs ?? []).map(d => `-I${join(dir, d)}`);
  return {
    units: list.sources.filter(entry => entry.arch == null || [].concat(entry.arch).includes(process.arch))
        .map(entry => ({source: join(dir, entry.file), flags: [...includes, ...(entry.flags ?? [])]})),
    link: list.link ?? [],
  };
}

function run(command, args) {
  if (process.argv.includes('--verbose')) console.log([command, ...args].join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: 'inherit'});
    child.on('exit', code => code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`)));
    child.on('error', reject);
  });
}

/** Runs the tasks, two at a time (the machines this builds on share their cores). */
async function inParallel(tasks, limit = 2) {
  const queue = [...tasks];
  await Promise.all(Array.from({length: Math.min(limit, queue.length)}, async () => {
    while (queue.length > 0) await queue.shift()();
  }));
}

function newestHeader(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestHeader(path));
    else if (/\.(h|inc|json)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const mtime = path => existsSync(path) ? statSync(path).mtimeMs : 0;

async function buildGpu(tfjsNode) {
  const gpuBuild = join(here, 'gpu', 'build.mjs');
  if (!tfjsNode.gpu || !existsSync(gpuBuild)) return;
  const {findNvcc} = await import(pathToFileURL(join(root, 'kernels', 'cuda', 'build.mjs')).href);
  if (findNvcc() == null) {
    log('nvcc not found: the GPU kernels are not built');
    return;
  }
  await run(process.execPath, [gpuBuild, ...process.argv.slice(2)]);
}

async function main() {
  const tfjsNode = findTfjsNode();
  if (tfjsNode == null) {
    log('neither @tensorflow/tfjs-node nor @tensorflow/tfjs-node-gpu is installed; the op library is not built');
    return;
  }
  const include = join(tfjsNode.dir, 'deps', 'include');
  const lib = join(tfjsNode.dir, 'deps', 'lib');
  if (!existsSync(join(include, 'tensorflow', 'c', 'kernels.h')) || !existsSync(lib)) {
    log(`${tfjsNode.name} has no TensorFlow C API headers in ${include} (for tfjs-node in this checkout, run ` +
        'npm run setup:tfjs-node); the op library is not built');
    return;
  }
  const napi = nodeApiHeaders();
  if (napi == null) throw new Error('build:tensorflow: Node-API headers not found (set NODE_INCLUDE)');
  const cxx = process.env.CXX || 'g++';
  const objDir = join(outDir, 'obj');
  mkdirSync(objDir, {recursive: true});
  const headersTime = Math.max(newestHeader(here), mtime(join(include, 'tensorflow', 'c', 'kernels.h')));
  const core = computeCore();
  const units = [...librarySources.map(s => ({source: join(here, s), flags: []})), ...core.units];
  const objects = units.map(({source}) => join(objDir, `${relative(here, source).replaceAll('/', '_')}.o`));
  const stale = units.filter((unit, i) => mtime(objects[i]) < Math.max(mtime(unit.source), headersTime));
  log(`${tfjsNode.name} (${tfjsNode.dir}), ${cxx}, ${stale.length} of ${units.length} sources to compile`);
  await inParallel(stale.map(unit => () => run(cxx, [
    ...baseFlags, ...unit.flags, `-I${here}`, `-I${include}`, '-c', unit.source, '-o', objects[units.indexOf(unit)],
  ])));
  // Linked by soname to the libraries tfjs-node's binding loaded (the C API of ops and kernels
  // lives in libtensorflow_framework, the rest in libtensorflow); RUNPATH finds them otherwise.
  if (stale.length > 0 || !existsSync(libraryFile)) {
    await run(cxx, ['-shared', ...core.link, ...objects, '-o', libraryFile, `-L${lib}`, '-Wl,--no-as-needed',
                    '-ltensorflow_framework', '-ltensorflow', `-Wl,-rpath,${lib}`]);
  }
  const loaderSource = join(here, 'loader.cc');
  if (mtime(loaderFile) < mtime(loaderSource)) {
    await run(cxx, [...baseFlags, `-I${napi}`, '-DNODE_GYP_MODULE_NAME=tfjs_attention_tf_loader', '-shared',
                    loaderSource, '-o', loaderFile, '-ldl']);
  }
  log(`wrote ${relative(process.cwd(), libraryFile)} and ${relative(process.cwd(), loaderFile)}`);
  await buildGpu(tfjsNode);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(error => {
    console.error(`build:tensorflow: ${error.message}`);
    process.exit(1);
  });
}
