/**
 * benchmarks/RESULTS.md holds one section per benchmark, between markers, so each
 * benchmark rewrites its own section and leaves the others as they are.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

export const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

const HEADER = '# Benchmark results\n\nEach section is written by the benchmark named in it; rerun it to refresh.\n';

/** Replaces (or appends) the section `name` of RESULTS.md with `markdown`. */
export function writeResultsSection(name: string, markdown: string): void {
  const begin = `<!-- begin ${name} -->`;
  const end = `<!-- end ${name} -->`;
  const current = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : HEADER;
  const section = `${begin}\n${markdown.trim()}\n${end}`;
  const start = current.indexOf(begin);
  const stop = current.indexOf(end);
  const next = start >= 0 && stop > start ? current.slice(0, start) + section + current.slice(stop + end.length) :
                                            `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS_PATH, next);
}

/** A markdown table from a header row and rows of cells. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
