// Builds the package: ESM and CommonJS bundles per entry point (TF.js stays external, a
// peer dependency), declarations from tsc. 'index' is the core for browsers, 'node' the
// core plus the native kernels' loaders; the layers import the core through the package's
// own name, so an application loads one copy of the op and its registry.
import {build} from 'esbuild';
import {execFileSync} from 'node:child_process';
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
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
  await build(
      {...common, format: 'cjs', outfile: `dist/cjs/${e.name}.cjs`, logOverride: {'empty-import-meta': 'silent'}});
}
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {stdio: 'inherit'});
completeDeclarations(path.join(root, 'dist/types'));
console.log(`built ${entries.map(e => e.name).join(', ')} into dist/esm, dist/cjs and dist/types`);

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
