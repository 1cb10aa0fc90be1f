/** What the webgpu benchmark page measures and reports; shared by the page and run.ts. */

export const WARMUP = 1;
/** Composed attention at [1,8,1024,64] takes seconds per run on SwiftShader: few rounds. */
export const REPS = 3;

export interface WebGPUBenchRow {
  label: string;
  pass: string;
  fusedMs: number;
  composedMs: number;
  fusedExtraBytes: number;
  composedExtraBytes: number;
  ioBytes: number;
}
