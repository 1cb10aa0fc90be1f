/**
 * The rows of q, k, v and dy that one tile's programs read. A packed input is read in
 * place; an unpacked one has just the tile's rows packed (PackRowsProgram), rather than
 * the whole tensor packed again by every pass. A copy is kept while the next tiles read
 * the same rows (the kv heads of a head's row tiles).
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
}

export class TileInputs {
  /**
   * The current copy of each input by its data id, query side and key side apart (one
   * tensor can be both, as in self-attention, with different rows).
   */
  private readonly copies = {query: new Map<object, TileRows>(), key: new Map<object, TileRows>()};

  constructor(private readonly runner: ProgramRunner, private readonly plan: TilePlan) {}

  /** The tile's rows of a query-side input [B·Hq, Sq, cols] (q, dy). */
  queryRows(x: TensorInfo, tile: Tile): TileRows {
    const [heads, rows] = this.plan.tileShape;
    return this.rows(this.copies.query, x, [heads, rows, x.shape[2]], tile.headStart, tile.rowStart);
  }

  /** The tile's kv heads of a key-side input [B·Hkv, Sk, cols] (k, v). */
  keyRows(x: TensorInfo, tile: Tile): TileRows {
    return this.rows(this.copies.key, x, [this.plan.kvHeadsPerTile, x.shape[1], x.shape[2]], tile.kvStart, 0);
  }

  /** Frees the copies. */
  dispose(): void {
    for (const copies of [this.copies.query, this.copies.key]) {
      copies.forEach(r => this.runner.free(r.info));
      copies.clear();
    }
  }

  private rows(copies: Map<object, TileRows>, x: TensorInfo, shape: number[], head: number, row: number): TileRows {
    if (this.runner.isPacked(x)) return {info: x, headOrigin: 0, rowOrigin: 0};
    const current = copies.get(x.dataId);
    if (current != null && current.headOrigin === head && current.rowOrigin === row) return current;
    if (current != null) this.runner.free(current.info);
    const copy = {
      info: this.runner.run(new PackRowsProgram(x.shape, shape), [x], [[head, row]]), headOrigin: head, rowOrigin: row,
    };
    copies.set(x.dataId, copy);
    return copy;
  }
}

/** The `origin` uniform of a pass reading `queryRows` and/or `keyRows`. */
export function originUniform(queryRows: TileRows | null, keyRows: TileRows | null): number[] {
  return [queryRows?.headOrigin ?? 0, queryRows?.rowOrigin ?? 0, keyRows?.headOrigin ?? 0];
}
