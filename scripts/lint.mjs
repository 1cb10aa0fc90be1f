// npm run lint: eslint over TypeScript and JavaScript, clang-format over the C++ and CUDA
// sources (those git tracks or would track). `--fix` lets eslint fix what it can and
// clang-format rewrite files in place; `--format` only runs clang-format in place.
import {execFileSync, spawnSync} from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const fix = process.argv.includes('--fix');
const formatOnly = process.argv.includes('--format');
const bin = name => path.join(root, 'node_modules/.bin', name);

const patterns = ['*.cc', '*.cu', '*.cuh', '*.h', '*.inc'];
const sources = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '--', ...patterns], {cwd: root})
    .toString().split('\n').filter(Boolean);

let failed = false;
if (!formatOnly) {
  const eslint = spawnSync(bin('eslint'), ['.', ...(fix ? ['--fix'] : [])], {cwd: root, stdio: 'inherit'});
  failed ||= eslint.status !== 0;
}
const clang = spawnSync(bin('clang-format'), [...(fix || formatOnly ? ['-i'] : ['--dry-run', '--Werror']), ...sources],
    {cwd: root, encoding: 'utf8'});
if (clang.status !== 0) {
  const unformatted = [...new Set(clang.stderr.match(/^[^\s:]+(?=:\d+:\d+: error)/gm) ?? [])];
  console.error(clang.stderr.trim() === '' ? 'clang-format failed' : unformatted.length > 0 ?
      `clang-format: ${unformatted.length} file(s) need formatting (npm run format):\n  ${unformatted.join('\n  ')}` :
      clang.stderr);
  failed = true;
}
process.exit(failed ? 1 : 0);
