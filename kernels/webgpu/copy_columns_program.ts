/**
 * Columns [start, start + count) of a [rows, cols] matrix as a [rows, count] tensor: splits
 * the results that one program writes side by side (tfjs programs have one output).
 */
import type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
import {ELEMENTWISE_WORKGROUP, elementwiseDispatch} from './geometry';

export class CopyColumnsProgram implements WebGPUProgram {
  variableNames = ['matrix'];
  outputShape: number[];
  shaderKey = 'attentionCopyColumns';
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENTWISE_WORKGROUP, 1, 1];
  uniforms = 'start : i32, count : i32,';
  size = true;

  /** `outputShape` has rows · count elements. */
  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatch = elementwiseDispatch(outputShape);
  }

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let row = index / uniforms.count;
      let column = uniforms.start + index % uniforms.count;
      result[index] = matrix[row * uniforms.matrixShape.y + column];
    }
  }`;
  }
}

/** Uniforms of CopyColumnsProgram. */
export function columnsUniform(start: number, count: number): {type: string, data: number[]}[] {
  return [{type: 'int32', data: [start]}, {type: 'int32', data: [count]}];
}
