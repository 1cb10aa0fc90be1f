/**
 * What the programs share whose invocations each own a query row (forward, dQ) or a key
 * (dK and dV) and walk staged tiles of the other side (geometry.ts): one workgroup per
 * block of owned rows of a head, the attention uniforms, and the tile sizes in the shader key.
 */
import type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
import {ATTENTION_UNIFORMS, AttentionGeometry, rowsPerWorkgroup, tileRows, variantKey} from './geometry';

export interface TiledProgramSpec {
  /** The shader key's prefix. */
  name: string;
  /** Heads the owned rows belong to (B·Hq for query rows, B·Hkv for keys), and rows per head. */
  heads: number;
  ownedRows: number;
  variableNames: string[];
  outputShape: number[];
}

export abstract class TiledAttentionProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = ATTENTION_UNIFORMS;
  /** Rows each workgroup owns (one per invocation), and rows of the other side per staged tile. */
  protected readonly owned: number;
  protected readonly staged: number;

  constructor(protected readonly g: AttentionGeometry, spec: TiledProgramSpec) {
    this.owned = rowsPerWorkgroup(spec.ownedRows);
    this.staged = tileRows(g.headVecs + g.valueVecs);
    this.variableNames = spec.variableNames;
    this.outputShape = spec.outputShape;
    this.workgroupSize = [this.owned, 1, 1];
    this.dispatch = [spec.heads * Math.ceil(spec.ownedRows / this.owned), 1, 1];
    this.shaderKey = `${spec.name}_${variantKey(g)}_${this.staged}`;
  }

  abstract getUserCode(): string;
}
