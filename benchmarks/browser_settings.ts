/** What the browser benchmark pages measure and report; shared by the pages (browser_page.ts) and their runner. */

export type BrowserBackend = 'webgl' | 'webgpu';

/** Warm-up rounds, then timed rounds taken in turns. */
export const ROUNDS: Record<BrowserBackend, {warmup: number, reps: number}> = {
  webgl: {warmup: 1, reps: 5},
  /** Composed attention at [1,8,1024,64] takes seconds per run on SwiftShader: few rounds. */
  webgpu: {warmup: 1, reps: 3},
};

export interface BrowserBenchRow {
  label: string;
  pass: string;
  fusedMs: number;
  composedMs: number;
  fusedExtraBytes: number;
  composedExtraBytes: number;
  ioBytes: number;
}
