/** What the webgl benchmark page measures and reports; shared by the page and run.ts. */

export const WARMUP = 1;
export const REPS = 5;

export interface WebGLBenchRow {
  label: string;
  pass: string;
  fusedMs: number;
  composedMs: number;
  fusedExtraBytes: number;
  composedExtraBytes: number;
  ioBytes: number;
}
