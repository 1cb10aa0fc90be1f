// Builds the package: ESM and CommonJS bundles of src/index.ts (TF.js stays external,
// a peer dependency), declarations from tsc.
import {build} from 'esbuild';
import {execFileSync} from 'node:child_process';
import {writeFileSync} from 'node:fs';

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  platform: 'neutral',
  target: 'es2020',
  sourcemap: true,
  external: ['@tensorflow/*'],
  logLevel: 'warning',
};
await build({...common, format: 'esm', outfile: 'dist/esm/index.js'});
await build({...common, format: 'cjs', outfile: 'dist/cjs/index.cjs'});
writeFileSync('dist/cjs/package.json', '{"type": "commonjs"}\n');
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {stdio: 'inherit'});
console.log('built dist/esm, dist/cjs and dist/types');
