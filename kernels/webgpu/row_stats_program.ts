/**
 * What the backward programs read per query row, in one buffer (a program binds at most
 * eight storage buffers): [logsumexp (rows) | rowsum(dO ⊙ O) (rows) | the ranges buffer].
 */
import type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
import {ELEMENTWISE_WORKGROUP, elementwiseDispatch} from './geometry';

export class RowStatsProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENTWISE_WORKGROUP, 1, 1];
  uniforms = 'rows : i32, valueDim : i32,';
  size = true;

  constructor(rows: number, rangesLength: number | null) {
    this.variableNames = ['logsumexp', 'dy', 'output', ...(rangesLength != null ? ['ranges'] : [])];
    this.outputShape = [2 * rows + (rangesLength ?? 0)];
    this.dispatch = elementwiseDispatch(this.outputShape);
    this.shaderKey = `attentionRowStats_${rangesLength != null}`;
  }

  getUserCode(): string {
    const ranged = this.variableNames.includes('ranges');
    return `
  fn main(index : i32) {
    let rows = uniforms.rows;
    if (index < rows) {
      result[index] = logsumexp[index];
    } else if (index < 2 * rows) {
      let at = (index - rows) * uniforms.valueDim;
      var sum = 0.0;
      for (var d = 0; d < uniforms.valueDim; d++) {
        sum += dy[at + d] * output[at + d];
      }
      result[index] = sum;
    } ${ranged ? `else if (index < uniforms.size) {
      result[index] = ranges[index - 2 * rows];
    }` : ''}
  }`;
  }
}
