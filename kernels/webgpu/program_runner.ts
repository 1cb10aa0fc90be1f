/** Runs the attention programs on a webgpu backend and frees what they leave behind. */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import type {WebGPUBackend, WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
import {CopyColumnsProgram, columnsUniform} from './copy_columns_program';

type Uniform = {type: string, data: number[]};

export class ProgramRunner {
  private readonly temporaries: TensorInfo[] = [];

  constructor(readonly backend: WebGPUBackend) {}

  /** Frees `t` with the other temporaries at `dispose()`. */
  temporary(t: TensorInfo): TensorInfo {
    this.temporaries.push(t);
    return t;
  }

  run(program: WebGPUProgram, inputs: TensorInfo[], uniforms: Uniform[]): TensorInfo {
    return this.backend.runWebGPUProgram(program, inputs, 'float32', uniforms);
  }

  /** Columns [start, start + count) of the [rows, cols] `matrix`, shaped `shape`. */
  columns(matrix: TensorInfo, start: number, count: number, shape: number[]): TensorInfo {
    return this.run(new CopyColumnsProgram(shape), [matrix], columnsUniform(start, count));
  }

  free(t: TensorInfo): void {
    this.backend.disposeData(t.dataId);
  }

  dispose(): void {
    this.temporaries.splice(0).forEach(t => this.free(t));
  }
}
