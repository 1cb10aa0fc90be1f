// The package as a user installs it: `npm pack` of the built package, unpacked into
// .tmp/consumer/node_modules/tfjs-attention, then each project here type-checked strictly
// (node16 ESM, node16 CommonJS, bundler) and run: the README's quick starts in Node, the
// bundled one and the import-map page in headless Chromium. TF.js resolves from the
// repository's node_modules, a parent folder. Run `npm run build` first.
import {execFileSync} from 'node:child_process';
import {cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync} from 'node:fs';
import path from 'node:path';
import {build} from 'esbuild';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const here = path.join(root, 'test/consumer');
const work = path.join(root, '.tmp/consumer');
const CHROMIUM = process.env.CHROME_BIN ?? '/usr/bin/chromium';
const version = file => JSON.parse(readFileSync(path.join(root, file), 'utf8')).version;

function run(what, command, args, cwd) {
  try {
    return execFileSync(command, args, {cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  } catch (e) {
    throw new Error(`${what} failed:\n${e.stdout}${e.stderr}`);
  }
}

function expectLines(what, output, expected) {
  for (const line of expected) {
    if (!output.includes(line)) {
      throw new Error(`${what}: expected output to contain ${JSON.stringify(line)}, got:\n${output}`);
    }
  }
  console.log(`  ok  ${what}`);
}

// The README shows these files verbatim.
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
for (const snippet of ['esm/quickstart.mts', 'cjs/quickstart.cjs', 'browser/index.html', 'esm/bias_kinds.mts',
  'esm/save_load.mts']) {
  if (!readme.includes(readFileSync(path.join(here, snippet), 'utf8').trimEnd())) {
    throw new Error(`README.md does not show test/consumer/${snippet} as it is`);
  }
}

rmSync(work, {recursive: true, force: true});
mkdirSync(path.join(work, 'node_modules'), {recursive: true});
const tarball = run('npm pack', 'npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop();
run('unpacking', 'tar', ['-xzf', path.join(work, tarball), '-C', path.join(work, 'node_modules')]);
renameSync(path.join(work, 'node_modules/package'), path.join(work, 'node_modules/tfjs-attention'));
for (const project of ['esm', 'cjs', 'bundler', 'browser']) {
  cpSync(path.join(here, project), path.join(work, project), {recursive: true});
}

const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
for (const project of ['esm', 'cjs', 'bundler']) {
  run(`tsc (${project})`, process.execPath, [tsc, '-p', path.join(work, project)]);
  // TF.js's own declarations have errors under skipLibCheck false; the package's must have none.
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(work, project), '--noEmit', '--skipLibCheck', 'false'],
        {encoding: 'utf8'});
  } catch (e) {
    const ours = e.stdout.split('\n').filter(line => line.includes('node_modules/tfjs-attention/'));
    if (ours.length > 0) throw new Error(`tsc (${project}): errors in the package's declarations:\n${ours.join('\n')}`);
  }
  console.log(`  ok  ${project} type-checks`);
}

const node = (project, file) => run(`${project}/${file}`, process.execPath, [file], path.join(work, project));
expectLines('ESM quick start', node('esm', 'out/quickstart.mjs'),
    ['[ 2, 8, 128, 32 ]', 'cpu-fused', '[ 2, 8, 128, 64 ]']);
expectLines('bias kinds', node('esm', 'out/bias_kinds.mjs'), ['[ 8, 3, 49, 32 ] [ 1, 4, 16, 8 ]']);
expectLines('ESM save and load', node('esm', 'out/save_load.mjs'), ['saved and loaded models differ by 0']);
expectLines('CommonJS quick start', node('cjs', 'quickstart.cjs'), ['[ 1, 4, 16, 8 ]\n[ 1, 4, 16, 8 ]']);
expectLines('CommonJS TypeScript', node('cjs', 'out/layers.cjs'), ['[ 2, 5, 6 ]']);

if (!existsSync(CHROMIUM)) {
  console.log(`  skipped: the browser quick starts, no Chromium at ${CHROMIUM} (CHROME_BIN overrides it)`);
} else {
  await build({
    entryPoints: [path.join(work, 'bundler/main.ts')], bundle: true, format: 'esm', platform: 'browser',
    target: 'es2022', outfile: path.join(work, 'bundler/out/bundle.js'), logLevel: 'warning',
  });
  const {chromium} = await import('playwright-core');
  const browser = await chromium.launch(
      {executablePath: CHROMIUM, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader']});
  const cdn = 'https://cdn.jsdelivr.net/npm/';
  const served = {
    'http://consumer.test/bundle.html': '<!doctype html><script type="module" src="bundle.js"></script>',
    'http://consumer.test/bundle.js': path.join(work, 'bundler/out/bundle.js'),
    'http://consumer.test/index.html': path.join(work, 'browser/index.html'),
    [`${cdn}@tensorflow/tfjs@${version('node_modules/@tensorflow/tfjs/package.json')}/`]:
        path.join(root, 'node_modules/@tensorflow/tfjs/'),
    [`${cdn}tfjs-attention@${version('package.json')}/`]: path.join(work, 'node_modules/tfjs-attention/'),
  };
  const page = async (url) => {
    const p = await browser.newPage();
    await p.route('**/*', route => {
      const request = route.request().url();
      const prefix = Object.keys(served).find(u => request === u || (u.endsWith('/') && request.startsWith(u)));
      if (prefix == null) return route.fulfill({status: 404, body: `not served: ${request}`});
      const target = served[prefix];
      if (target.startsWith('<')) return route.fulfill({contentType: 'text/html', body: target});
      const file = prefix.endsWith('/') ? path.join(target, request.slice(prefix.length)) : target;
      return route.fulfill({path: file, contentType: file.endsWith('.html') ? 'text/html' : 'text/javascript'});
    });
    const lines = [];
    const done = new Promise(resolve => {
      const add = line => (lines.push(line), (lines.length === 2 || line.startsWith('error')) && resolve());
      p.on('console', m => add(m.text()));
      p.on('pageerror', e => add(`error: ${e.message}`));
      p.on('response', r => r.status() !== 200 && add(`error: HTTP ${r.status()} for ${r.url()}`));
      setTimeout(() => add('error: no output in 60 s'), 60000);
    });
    await p.goto(url);
    await done;
    await p.close();
    return lines.join('\n');
  };
  try {
    for (const [what, url] of [['bundled quick start', 'bundle.html'], ['import-map page', 'index.html']]) {
      expectLines(`${what} (Chromium)`, await page(`http://consumer.test/${url}`), ['[1, 4, 64, 32] webgl-fused', '[2, 10, 32]']);
    }
  } finally {
    await browser.close();
  }
}
