// Builds the package: ESM and CommonJS files per entry point (TF.js stays external, a peer
// dependency), declarations from tsc. 'index' is the core for browsers, 'node' the core
// plus the native kernels' loaders, 'layers' the tf.layers. The entries share their modules
// through chunks, so an application loads one copy of the op, its kernel registry and the
// bias classes, whichever entries it imports.
import {build, transform} from 'esbuild';
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const entries = {index: 'src/index.ts', layers: 'layers-entry', node: 'src/node.ts'};

/**
 * The layers' entry also imports the package by its name, for its side effects: the kernels
 * and gradient registered by the entry the platform picks ('node' in Node, else 'index').
 */
const layersEntry = {
  name: 'layers-entry',
  setup(b) {
    b.onResolve({filter: /^layers-entry$/}, () => ({path: 'layers', namespace: 'layers-entry'}));
    b.onLoad({filter: /.*/, namespace: 'layers-entry'}, () => ({
      contents: `import 'tfjs-attention';\nexport * from './src/layers/index';\n`, resolveDir: root, loader: 'ts',
    }));
  },
};

rmSync('dist', {recursive: true, force: true});
// Chunks sit beside the entries: the native loaders find build/ from their file's folder.
await build({
  entryPoints: entries, bundle: true, splitting: true, format: 'esm', platform: 'neutral', target: 'es2020',
  outdir: 'dist/esm', chunkNames: '[name]-[hash]', sourcemap: true, plugins: [layersEntry], logLevel: 'warning',
  external: ['@tensorflow/*', 'node:*', 'tfjs-attention'],
});
// esbuild splits ESM only: each ESM file becomes a CommonJS one, its chunk imports renamed.
// The native loaders read import.meta.url only under ESM and __dirname under CommonJS.
mkdirSync('dist/cjs');
for (const file of readdirSync('dist/esm').filter(f => f.endsWith('.js'))) {
  const {code} = await transform(readFileSync(path.join('dist/esm', file), 'utf8'),
      {format: 'cjs', target: 'es2020', logOverride: {'empty-import-meta': 'silent'}});
  const cjs = code.replace(/(require\("\.\/[\w.-]+)\.js"\)/g, '$1.cjs")').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
  writeFileSync(path.join('dist/cjs', file.replace(/\.js$/, '.cjs')), cjs);
}
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {stdio: 'inherit'});
completeDeclarations(path.join(root, 'dist/types'));
console.log(`built ${Object.keys(entries).join(', ')} into dist/esm, dist/cjs and dist/types`);

/**
 * Makes the declarations resolve under every `moduleResolution`. tsc copies import
 * specifiers as written, extensionless, which node16/nodenext reject in ESM declarations
 * (the package is "type": "module"). Each `.d.ts` gets explicit `.js` specifiers, and a
 * `.d.cts` twin with `.cjs` ones serves the exports' "require" condition, since a `.d.ts`
 * here reads as ESM. Deep imports into packages without an exports map (tfjs-layers'
 * dist/…) get `.js` too.
 */
function completeDeclarations(dir) {
  const require = createRequire(path.join(root, 'package.json'));
  const specifier = /(\b(?:from|import)\s*\(?\s*)(['"])([^'"]+)\2/g;
  const withExtension = (file, spec, ext) => {
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (existsSync(`${target}.d.ts`)) return `${spec}${ext}`;
      if (existsSync(path.join(target, 'index.d.ts'))) return `${spec}/index${ext}`;
      throw new Error(`build: ${path.relative(root, file)} imports ${spec}, which has no declaration`);
    }
    const [scope, name, ...sub] = spec.split('/');
    const [pkg, rest] = scope.startsWith('@') ? [`${scope}/${name}`, sub] : [scope, [name, ...sub]];
    if (rest.length === 0 || rest[0] === undefined || path.extname(spec) !== '') return spec;
    const manifest = require.resolve(`${pkg}/package.json`);
    if (JSON.parse(readFileSync(manifest, 'utf8')).exports != null) return spec;
    return existsSync(path.join(path.dirname(manifest), `${rest.join('/')}.d.ts`)) ? `${spec}.js` : spec;
  };
  for (const entry of readdirSync(dir, {recursive: true})) {
    if (!entry.endsWith('.d.ts')) continue;
    const file = path.join(dir, entry);
    const text = readFileSync(file, 'utf8');
    const rewrite = ext => text.replace(specifier, (_, head, quote, spec) =>
      `${head}${quote}${withExtension(file, spec, spec.startsWith('.') ? ext : '.js')}${quote}`);
    writeFileSync(file, rewrite('.js'));
    writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), rewrite('.cjs'));
  }
}
