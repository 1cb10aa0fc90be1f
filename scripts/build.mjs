// Builds the package: ESM and CommonJS bundles per entry point (TF.js stays external, a
// peer dependency), declarations from tsc. 'index' is the core for browsers, 'node' the
// core plus the CUDA addon's loader; the layers import the core through the package's
// own name, so an application loads one copy of the op and its registry.
import {build} from 'esbuild';
import {execFileSync} from 'node:child_process';
import {rmSync} from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const core = path.join(root, 'src');

const entries = [
  {name: 'index', source: 'src/index.ts', platform: 'neutral', own: core},
  {name: 'layers', source: 'src/layers/index.ts', platform: 'neutral', own: path.join(core, 'layers')},
  {name: 'node', source: 'src/node.ts', platform: 'node', own: core},
];

/** Imports that leave an entry's own folder for the core become imports of 'tfjs-attention'. */
function coreAsPackage(own) {
  return {
    name: 'core-as-package',
    setup(b) {
      b.onResolve({filter: /^\.\.?\//}, args => {
        const target = path.resolve(args.resolveDir, args.path);
        const inCore = target.startsWith(core + path.sep) && !target.startsWith(path.join(core, 'layers') + path.sep);
        return inCore && !target.startsWith(own + path.sep) ? {path: 'tfjs-attention', external: true} : undefined;
      });
    },
  };
}

rmSync('dist', {recursive: true, force: true});
for (const e of entries) {
  const common = {
    entryPoints: [e.source],
    bundle: true,
    platform: e.platform,
    target: 'es2020',
    sourcemap: true,
    external: ['@tensorflow/*', 'tfjs-attention'],
    plugins: e.own === core ? [] : [coreAsPackage(e.own)],
    logLevel: 'warning',
  };
  await build({...common, format: 'esm', outfile: `dist/esm/${e.name}.js`});
  // The CUDA loader reads import.meta.url only under ESM and __dirname under CommonJS.
  await build({...common, format: 'cjs', outfile: `dist/cjs/${e.name}.cjs`, logOverride: {'empty-import-meta': 'silent'}});
}
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {stdio: 'inherit'});
console.log(`built ${entries.map(e => e.name).join(', ')} into dist/esm, dist/cjs and dist/types`);
