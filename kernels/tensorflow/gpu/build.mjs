#!/usr/bin/env node
// Builds the ops' GPU kernels into build/tensorflow/tfjs_attention_tf_gpu.so: the CUDA kernels
// of kernels/cuda/csrc and gpu_kernels.cc, linked to TensorFlow's libtensorflow_framework. The
// op library (kernels/tensorflow) registers the ops; its loader loads this library after it.
//
//   node kernels/tensorflow/gpu/build.mjs [--arch=...] [--check]
//
// Needs nvcc and @tensorflow/tfjs-node-gpu, whose deps/ hold TensorFlow's C headers and
// libraries; without either it says so and exits 0 (the ops then run on the CPU kernels).
// --check builds against @tensorflow/tfjs-node's deps instead (TensorFlow's CPU wheel, as
// `npm run setup:tfjs-node` installs it) into build/tensorflow-check/: it checks that the
// library compiles and that every symbol it needs is in TensorFlow's library, where no
// tfjs-node-gpu is installed. Such a library is never loaded: a CPU TensorFlow runs no GPU kernel.
// Architectures as for the CUDA addon (kernels/cuda/build.mjs).
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {
  commonFlags, compileObjects, csrc, findNvcc, gencodeFlags, kernelSources, run, targetArchs,
} from '../../cuda/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const check = process.argv.includes('--check');
const tfjsPackage = check ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
// The op library's sources the GPU kernels share: the attrs and shape checks (attention_problem.h)
// and the kernel glue (op_kernel.h).
const sharedSources = ['attention_problem.cc', 'op_kernel.cc'].map(s => join(here, '..', s));

function skip(reason) {
  console.log(`build:tensorflow (GPU kernels): ${reason}; the GPU kernels are not built.`);
  process.exit(0);
}

async function main() {
  const nvcc = findNvcc();
  if (nvcc == null) skip('nvcc not found (set NVCC or CUDA_HOME, or put nvcc on PATH)');
  const deps = join(root, 'node_modules', tfjsPackage, 'deps');
  const include = join(deps, 'include'), lib = join(deps, 'lib');
  const headers = join(include, 'tensorflow', 'c', 'kernels.h'), framework = join(lib, 'libtensorflow_framework.so.2');
  if (!existsSync(headers) || !existsSync(framework)) {
    skip(`${tfjsPackage} with TensorFlow's headers and libraries in its deps/ is not installed` +
         (check ? ' (npm run setup:tfjs-node)' : ''));
  }
  const archs = targetArchs();
  const outDir = join(root, 'build', check ? 'tensorflow-check' : 'tensorflow');
  const flags = [...commonFlags(), `-I${csrc}`, `-I${join(here, '..')}`, `-I${include}`];
  console.log(`build:tensorflow (GPU kernels): ${nvcc}, targets ${archs.join(', ')}, TensorFlow from ${deps}`);
  const sources = [...kernelSources.map(s => join(csrc, s)), ...sharedSources, join(here, 'gpu_kernels.cc')];
  const objects = await compileObjects(nvcc, sources, join(outDir, 'obj'), archs, flags);
  const output = join(outDir, 'tfjs_attention_tf_gpu.so');
  // --no-undefined: every TensorFlow symbol must resolve in TensorFlow's libraries (kernels.h's C API
  // is in libtensorflow_framework in 2.21; older releases may keep part of it in libtensorflow);
  // --as-needed keeps only those the library uses. Both are already loaded where the library is.
  const tensorflowLibs = ['libtensorflow_framework.so.2', 'libtensorflow.so.2', 'libtensorflow.so']
      .filter(name => existsSync(join(lib, name))).slice(0, 2).map(name => `-l:${name}`);
  await run(nvcc, ['-shared', '-cudart=static', ...gencodeFlags(archs), ...objects, `-L${lib}`,
                   '-Xlinker=--no-undefined,--as-needed', ...tensorflowLibs, '-o', output]);
  console.log(`build:tensorflow (GPU kernels): wrote ${output}`);
}

main().catch(error => {
  console.error(error.message);
  process.exit(1);
});
