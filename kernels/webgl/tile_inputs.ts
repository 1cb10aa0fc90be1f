/**
 * The rows of q, k, v and dy that one tile's programs read. A packed input is read in
 * place; an unpacked one has just the tile's rows packed (PackRowsProgram), rather than
 * the whole tensor packed again by every pass.
 */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import {Tile, TilePlan} from './geometry';
import {PackRowsProgram} from './pack_rows_program';
import {ProgramRunner} from './program_runner';

/** An input as a tile reads it: global (head, row) indices minus the origin index `info`. */
export interface TileRows {
  info: TensorInfo;
  headOrigin: number;
  rowOrigin: number;
  /** Whether `info` was packed for this tile (and is freed with it). */
  ownCopy: boolean;
}

export class TileInputs {
  private readonly tileRows: TileRows[] = [];

  constructor(private readonly runner: ProgramRunner, private readonly plan: TilePlan) {}

  /** The tile's rows of a query-side input [B·Hq, Sq, cols] (q, dy). */
  queryRows(x: TensorInfo, tile: Tile): TileRows {
    const [heads, rows] = this.plan.tileShape;
    return this.rows(x, [heads, rows, x.shape[2]], tile.headStart, tile.rowStart);
  }

  /** The tile's kv heads of a key-side input [B·Hkv, Sk, cols] (k, v). */
  keyRows(x: TensorInfo, tile: Tile): TileRows {
    return this.rows(x, [this.plan.kvHeadsPerTile, x.shape[1], x.shape[2]], tile.kvStart, 0);
  }

  /** Frees the copies made for the current tile. */
  endTile(): void {
    this.tileRows.splice(0).filter(r => r.ownCopy).forEach(r => this.runner.free(r.info));
  }

  private rows(x: TensorInfo, shape: number[], head: number, row: number): TileRows {
    const rows: TileRows = this.runner.isPacked(x) ?
        {info: x, headOrigin: 0, rowOrigin: 0, ownCopy: false} :
        {info: this.runner.run(new PackRowsProgram(x.shape, shape), [x], [[head, row]]), headOrigin: head, rowOrigin: row, ownCopy: true};
    this.tileRows.push(rows);
    return rows;
  }
}

/** The `origin` uniform of a pass reading `queryRows` and/or `keyRows`. */
export function originUniform(queryRows: TileRows | null, keyRows: TileRows | null): number[] {
  return [queryRows?.headOrigin ?? 0, queryRows?.rowOrigin ?? 0, keyRows?.headOrigin ?? 0];
}
