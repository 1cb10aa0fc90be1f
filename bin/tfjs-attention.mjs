#!/usr/bin/env node
// The package's command for users' projects:
//
//   npx tfjs-attention build [--arch=sm_90a,...|native]
//
// builds the native parts into this package's build/ folder, where its loaders look:
// - the TensorFlow op library for tfjs-node's `tensorflow` backend, against the
//   @tensorflow/tfjs-node or -gpu installed in the project (and its GPU kernels with
//   tfjs-node-gpu and nvcc);
// - the CUDA addon (`useCudaKernels()`), with nvcc.
// A part whose prerequisites are missing is skipped with the reason.
import {spawnSync} from 'node:child_process';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILDS = [
  ['the TensorFlow op library', join(root, 'kernels', 'tensorflow', 'build.mjs')],
  ['the CUDA addon', join(root, 'kernels', 'cuda', 'build.mjs')],
];
const USAGE = `usage: npx tfjs-attention build [--arch=LIST|native]

Builds this package's native parts into ${join(root, 'build')}:
  the TensorFlow op library, for @tensorflow/tfjs-node or -gpu installed in this project
  (needs a C++17 compiler; its GPU kernels also need tfjs-node-gpu and nvcc);
  the CUDA addon for useCudaKernels() (needs nvcc; --arch picks the GPU targets).`;

function build(args) {
  let failed = 0;
  for (const [name, script] of BUILDS) {
    console.log(`tfjs-attention: building ${name}`);
    const result = spawnSync(process.execPath, [script, ...args], {stdio: 'inherit'});
    if (result.status !== 0) {
      console.error(`tfjs-attention: building ${name} failed (exit ${result.status ?? result.signal})`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

const [command, ...args] = process.argv.slice(2);
if (command === 'build') {
  process.exit(build(args));
} else {
  console.log(USAGE);
  process.exit(command == null || command === 'help' || command === '--help' ? 0 : 1);
}
