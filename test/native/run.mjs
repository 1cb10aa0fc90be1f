// Builds the CPU attention core (kernels/tensorflow/cpu/sources.json) with a native
// program of test/native into build/native/<compiler>/ with g++ (or $CXX, e.g. clang++),
// then runs it with the remaining arguments:
// `node test/native/run.mjs attention_test [--seed=N] [--simd=NAME]`.
// Objects are rebuilt when their source or a header is newer; two compiles at a time.
import {spawn, spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync} from 'node:fs';
import {basename, dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const coreDir = join(root, 'kernels/tensorflow/cpu');
const testDir = join(root, 'test/native');
const [program, ...args] = process.argv.slice(2);
if (!program || !existsSync(join(testDir, `${program}.cc`))) {
  console.error(`usage: node test/native/run.mjs <program> [args]; programs: ${
    readdirSync(testDir).filter((f) => f.endsWith('.cc')).map((f) => f.slice(0, -3)).join(', ')}`);
  process.exit(2);
}
const gxx = process.env.CXX || 'g++';
const outDir = join(root, 'build/native', basename(gxx));
if (spawnSync(gxx, ['--version']).status !== 0) {
  console.error(`${gxx} not found: the native tests need a C++17 compiler (set CXX)`);
  process.exit(1);
}

const sources = JSON.parse(readFileSync(join(coreDir, 'sources.json'), 'utf8'));
const headers = [...readdirSync(coreDir).filter((f) => /\.(h|inc)$/.test(f)).map((f) => join(coreDir, f)),
  ...readdirSync(testDir).filter((f) => f.endsWith('.h')).map((f) => join(testDir, f))];
const newestHeader = Math.max(...headers.map((f) => statSync(f).mtimeMs));
const common = ['-O3', '-fPIC', '-std=c++17', '-Wall', '-Wextra', '-pthread'];
const units = [
  ...sources.sources.filter((s) => !s.arch || s.arch === process.arch)
      .map((s) => ({source: join(coreDir, s.file), flags: s.flags})),
  {source: join(testDir, `${program}.cc`), flags: []},
];
mkdirSync(outDir, {recursive: true});

function compile({source, flags}) {
  const object = join(outDir, source.split('/').pop().replace(/\.cc$/, '.o'));
  const built = existsSync(object) ? statSync(object).mtimeMs : 0;
  if (built > statSync(source).mtimeMs && built > newestHeader) return Promise.resolve(object);
  return new Promise((done, fail) => {
    const child = spawn(gxx, [...common, ...flags, '-c', source, '-o', object], {stdio: 'inherit'});
    child.on('exit', (code) => code === 0 ? done(object) : fail(new Error(`compiling ${source} failed`)));
  });
}

const objects = [];
for (let i = 0; i < units.length; i += 2) objects.push(...await Promise.all(units.slice(i, i + 2).map(compile)));
const binary = join(outDir, program);
const link = spawnSync(gxx, [...objects, ...sources.link, '-o', binary], {stdio: 'inherit'});
if (link.status !== 0) process.exit(1);
const run = spawnSync(binary, args, {stdio: 'inherit'});
process.exit(run.status ?? 1);
