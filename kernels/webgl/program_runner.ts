/** Runs the attention programs on a webgl backend and frees what they leave behind. */
import type {TensorInfo} from '@tensorflow/tfjs-core';
import type {GPGPUProgram, MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';

export class ProgramRunner {
  private readonly temporaries: TensorInfo[] = [];

  constructor(private readonly backend: MathBackendWebGL) {}

  /** Whether `t`'s texture is packed (then packed programs read it as it is). */
  isPacked(t: TensorInfo): boolean {
    return this.backend.texData.get(t.dataId).isPacked === true;
  }

  /** Frees `t` with the other temporaries at `dispose()`. */
  temporary(t: TensorInfo): TensorInfo {
    this.temporaries.push(t);
    return t;
  }

  run(program: GPGPUProgram, inputs: TensorInfo[], uniforms: number[][]): TensorInfo {
    return this.backend.runWebGLProgram(program, inputs, 'float32', uniforms);
  }

  /**
   * Runs a pass whose output replaces `previous` (read as the program's last input and
   * then freed): values carried from tile to tile.
   */
  carry(previous: TensorInfo | null, program: GPGPUProgram, inputs: TensorInfo[], uniforms: number[][]): TensorInfo {
    const next = this.run(program, previous == null ? inputs : [...inputs, previous], uniforms);
    if (previous != null) this.free(previous);
    return next;
  }

  free(t: TensorInfo): void {
    this.backend.disposeIntermediateTensorInfo(t);
  }

  dispose(): void {
    this.temporaries.splice(0).forEach(t => this.free(t));
  }
}

/** `t` with another shape of the same size (a free reshape of the returned texture). */
export function reshaped(t: TensorInfo, shape: number[]): TensorInfo {
  return {dataId: t.dataId, shape, dtype: t.dtype};
}
