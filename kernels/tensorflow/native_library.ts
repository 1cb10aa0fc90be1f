/**
 * Loads the op library (build/tensorflow/tfjs_attention_tf.so, built by
 * `npx tfjs-attention build`) into the TensorFlow that tfjs-node loaded, then the GPU kernels'
 * library where it was built. Loading never throws: the caller gets the reason instead, and
 * calls on the `tensorflow` backend compose TensorFlow ops as before.
 */
import {findBackendFactory} from '@tensorflow/tfjs-core';
import {existsSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const BUILD_DIR = join('build', 'tensorflow');
const LIBRARY = 'tfjs_attention_tf.so';
const GPU_LIBRARY = 'tfjs_attention_tf_gpu.so';
const LOADER = 'tfjs_attention_tf_loader.node';
/** The command that builds the library in a user's project. */
export const BUILD_COMMAND = 'npx tfjs-attention build';

interface Loader {
  loadLibrary(path: string): void;
}

export type TensorflowOpsLoad =
    {loaded: true, reason?: undefined, gpu: {loaded: true} | {loaded: false, reason: string}} |
    {loaded: false, reason: string};

/** This module's folder: from its URL under ESM; a CommonJS bundle has __dirname instead. */
function moduleDir(): string {
  const url = (import.meta as {url?: string}).url;
  if (url) return dirname(fileURLToPath(url));
  return typeof __dirname !== 'undefined' ? __dirname : process.cwd();
}

/**
 * build/tensorflow in the package root above this file (sources run from kernels/tensorflow/,
 * bundles from dist/<format>/).
 */
function buildDir(): string | null {
  let dir = moduleDir();
  for (let up = 0; up < 6; up++) {
    if (existsSync(join(dir, BUILD_DIR, LIBRARY))) return join(dir, BUILD_DIR);
    dir = dirname(dir);
  }
  return null;
}

function loadGpuLibrary(loader: Loader, dir: string): {loaded: true} | {loaded: false, reason: string} {
  const path = join(dir, GPU_LIBRARY);
  if (!existsSync(path)) {
    return {loaded: false, reason: `the GPU kernels are not built (${BUILD_COMMAND} with tfjs-node-gpu and nvcc)`};
  }
  try {
    loader.loadLibrary(path);
    return {loaded: true};
  } catch (e) {
    return {loaded: false, reason: (e as Error).message};
  }
}

let load: TensorflowOpsLoad | undefined;

/**
 * Loads the libraries once tfjs-node's TensorFlow is in the process (its `tensorflow`
 * backend is registered); the result, or why not, is kept from then on.
 */
export function loadTensorflowOps(): TensorflowOpsLoad {
  if (load != null) return load;
  // Not kept: tfjs-node may be imported later.
  if (findBackendFactory('tensorflow') == null) {
    return {loaded: false, reason: 'the tensorflow backend (@tensorflow/tfjs-node or -gpu) is not loaded'};
  }
  const dir = buildDir();
  if (dir == null) {
    return load = {loaded: false, reason: `the TensorFlow op library is not built (run ${BUILD_COMMAND})`};
  }
  try {
    const loader = createRequire(join(dir, LOADER))(join(dir, LOADER)) as Loader;
    loader.loadLibrary(join(dir, LIBRARY));
    return load = {loaded: true, gpu: loadGpuLibrary(loader, dir)};
  } catch (e) {
    return load = {loaded: false, reason: `the TensorFlow op library did not load: ${(e as Error).message}`};
  }
}
