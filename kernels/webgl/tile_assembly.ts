/**
 * A [heads, rows, cols] result put together from tile parts (see AssembleTilesProgram):
 * parts wait, up to a given share of the whole's values or the pass's input limit, then
 * one pass writes them all in.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import {AssembleTilesProgram} from './assemble_tiles_program';
import {ProgramRunner} from './program_runner';

/** Parts per pass: with the previous whole, within the 16 texture units WebGL 2 guarantees. */
const MAX_PARTS = 12;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export class TileAssembly {
  private whole: TensorInfo | null = null;
  private readonly pending: {part: TensorInfo, region: number[]}[] = [];
  private pendingValues = 0;

  /**
   * `add`: parts sum where they overlap (else each replaces its region). `waitingShare`:
   * the share of the whole's values that waiting parts may hold (fewer passes, more memory).
   */
  constructor(
      private readonly runner: ProgramRunner, private readonly shape: number[], private readonly add: boolean,
      private readonly waitingShare: number) {}

  /** Takes `part`, the result for `region` ([heads start, end, rows start, end]). */
  put(part: TensorInfo, region: number[]): void {
    const values = size(part.shape);
    if (this.pending.length === MAX_PARTS || this.pendingValues + values > this.waitingShare * size(this.shape)) {
      this.flush();
    }
    this.pending.push({part, region});
    this.pendingValues += values;
  }

  /** The whole result, owned by the caller. A single part as large as the whole is the whole. */
  finish(): TensorInfo {
    const [only] = this.pending;
    if (this.whole == null && this.pending.length === 1 && only.part.shape.every((d, n) => d === this.shape[n])) {
      this.pending.length = 0;
      return only.part;
    }
    this.flush();
    return this.whole!;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const parts = this.pending.splice(0);
    this.pendingValues = 0;
    this.whole = this.runner.carry(
        this.whole, new AssembleTilesProgram(this.shape, parts.length, this.add, this.whole != null),
        parts.map(p => p.part), [parts.flatMap(p => p.region)]);
    parts.forEach(p => this.runner.free(p.part));
  }
}
