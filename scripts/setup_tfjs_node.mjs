#!/usr/bin/env node
// `npm run setup:tfjs-node`: makes require('@tensorflow/tfjs-node') work in this checkout
// without the download its install script attempts (libtensorflow from Google's storage).
// TensorFlow's CPU wheel from the Python package index carries the same C API: its libraries
// and headers go to the package's deps/, and the package's own binding (binding.gyp) is built
// against them with node-gyp into lib/napi-v8, where node-pre-gyp looks.
// Idempotent: a tfjs-node that loads is left alone, and the wheel is cached
// (TFJS_ATTENTION_CACHE, default ~/.cache/tfjs-attention). Where it cannot (not Linux, no pip,
// no wheel, a failed build) it says why and exits 0; the tensorflow suites then skip with
// their reason (and fail under CI=true).
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, rmSync, symlinkSync} from 'node:fs';
import {createRequire} from 'node:module';
import {homedir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const TENSORFLOW_WHEEL = {name: 'tensorflow-cpu', version: '2.21.0'};
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function log(message) {
  console.log(`setup:tfjs-node: ${message}`);
}

/** Ends the set-up without failing the caller: the suites report the reason as their skip. */
function giveUp(reason) {
  log(`${reason}; the tensorflow suites will skip`);
  process.exit(0);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {stdio: 'inherit', ...options});
  if (result.error) return `${command}: ${result.error.message}`;
  return result.status === 0 ? null : `${command} ${args.slice(0, 2).join(' ')} exited with ${result.status}`;
}

/** null when tfjs-node loads in a fresh process, else the first line of its error. */
function loadError() {
  const probe = "try { require('@tensorflow/tfjs-node') } " +
      "catch (e) { console.error(e.message.split('\\n')[0]); process.exit(1) }";
  const result = spawnSync(process.execPath, ['-e', probe], {cwd: root, encoding: 'utf8'});
  if (result.status === 0) return null;
  return `${result.stderr}`.trim().split('\n').pop() || `exit status ${result.status}`;
}

function packageDir() {
  try {
    return dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return null;
  }
}

function cacheDir() {
  if (process.env.TFJS_ATTENTION_CACHE) return process.env.TFJS_ATTENTION_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tfjs-attention');
}

function findWheel(dir) {
  const prefix = `${TENSORFLOW_WHEEL.name.replace('-', '_')}-${TENSORFLOW_WHEEL.version}-`;
  const name = existsSync(dir) ? readdirSync(dir).find(f => f.startsWith(prefix) && f.endsWith('.whl')) : undefined;
  return name ? join(dir, name) : null;
}

function python() {
  for (const candidate of ['python3', 'python']) {
    if (spawnSync(candidate, ['-m', 'pip', '--version'], {stdio: 'ignore'}).status === 0) return candidate;
  }
  return null;
}

/** The folder whose include/node holds Node's headers, so node-gyp downloads nothing. */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(Boolean);
  return candidates.find(dir => existsSync(join(dir, 'include', 'node', 'node_api.h'))) ?? null;
}

function main() {
  const pkg = packageDir();
  if (pkg == null) giveUp('@tensorflow/tfjs-node is not installed (npm ci installs it as a devDependency)');
  const error = loadError();
  if (error == null) {
    log(`@tensorflow/tfjs-node loads (${pkg}); nothing to do`);
    return;
  }
  log(`@tensorflow/tfjs-node does not load yet (${error})`);
  if (process.platform !== 'linux') {
    giveUp(`building tfjs-node from TensorFlow's wheel is set up for Linux only, not ${process.platform}`);
  }

  const py = python();
  if (py == null) giveUp('no python3 with pip to fetch TensorFlow\'s CPU wheel');
  const cache = cacheDir();
  let wheel = findWheel(cache);
  if (wheel == null) {
    mkdirSync(cache, {recursive: true});
    const spec = `${TENSORFLOW_WHEEL.name}==${TENSORFLOW_WHEEL.version}`;
    log(`downloading ${spec} into ${cache}`);
    const failed = run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', spec, '-d', cache]);
    wheel = findWheel(cache);
    if (wheel == null) giveUp(`pip download ${spec} gave no wheel${failed ? ` (${failed})` : ''}`);
  }
  log(`using ${wheel}`);

  const deps = join(pkg, 'deps');
  rmSync(deps, {recursive: true, force: true});
  const bindingSources = readdirSync(join(pkg, 'binding')).filter(f => /\.(cc|h)$/.test(f)).map(f => join(pkg, 'binding', f));
  const extractFailed = run(py, [join(root, 'scripts', 'tfjs_node_extract.py'), wheel, deps, ...bindingSources]);
  if (extractFailed) giveUp(`extracting the wheel failed (${extractFailed})`);
  // binding.gyp links -ltensorflow -ltensorflow_framework.
  symlinkSync('libtensorflow_cc.so.2', join(deps, 'lib', 'libtensorflow.so'));
  symlinkSync('libtensorflow_framework.so.2', join(deps, 'lib', 'libtensorflow_framework.so'));

  const nodedir = nodeDir();
  if (nodedir == null) {
    giveUp(`no Node headers (include/node/node_api.h) beside ${process.execPath}; set npm_config_nodedir`);
  }
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    giveUp('node-gyp is not installed (a devDependency)');
  }
  const napi = 8;
  const buildFailed = run(process.execPath, [
    gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2', '--module_name=tfjs_binding',
    `--module_path=${join(pkg, 'lib', `napi-v${napi}`)}`, `--napi_build_version=${napi}`,
  ], {cwd: pkg});
  if (buildFailed) giveUp(`building tfjs-node's binding failed (${buildFailed})`);

  const after = loadError();
  if (after != null) giveUp(`the binding built but tfjs-node still does not load (${after})`);
  log('@tensorflow/tfjs-node loads');
}

main();
