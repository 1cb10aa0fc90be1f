/**
 * The dropout hash of docs/contract.md §5. Every backend draws the same keep/drop decision
 * for element (b, h, i, j), so a seed reproduces a mask across CPU, WebGL and CUDA.
 */

/** One round of the integer mixer, on uint32 with wrapping multiplies. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The hash state shared by a whole query row: mix(mix(mix(s) ^ (b·Hq + h)) ^ i). */
export function dropoutRowState(seed: number, batchHead: number, row: number): number {
  return mix32((mix32(mix32(seed) ^ batchHead) ^ row) >>> 0);
}

/** u for key j of a row whose state `dropoutRowState` gave. */
export function dropoutHash(rowState: number, col: number): number {
  return mix32((rowState ^ col) >>> 0);
}

/** Elements whose hash is below this are dropped: floor(rate · 2^32). */
export function dropoutThreshold(rate: number): number {
  return Math.floor(rate * 4294967296);
}

/** Whether element (b·Hq + h, i, j) is kept. */
export function dropoutKeeps(seed: number, rate: number, batchHead: number, row: number, col: number): boolean {
  return dropoutHash(dropoutRowState(seed, batchHead, row), col) >= dropoutThreshold(rate);
}
