#!/usr/bin/env node
// Bundles a Node entry with its dependencies into build/device/<name>.mjs for the GPU
// machine, where no node_modules exist:  node test/cuda/bundle.mjs <entry.ts>...
import {build} from 'esbuild';
import {basename} from 'node:path';

for (const entry of process.argv.slice(2)) {
  const outfile = `build/device/${basename(entry).replace(/\.ts$/, '')}.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import {createRequire as __createRequire} from 'node:module'; " +
          'const require = __createRequire(import.meta.url);',
    },
    // TF.js backends register themselves on import; keep those imports.
    ignoreAnnotations: true,
    logLevel: 'warning',
  });
  console.log(`bundled ${entry} → ${outfile}`);
}
