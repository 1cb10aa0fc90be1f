/**
 * The gradient of one bias input (docs/contract.md §3): dS summed over the score elements
 * each bias element broadcasts to, recomputed from the saved logsumexp, never stored as
 * [B, Hq, Sq, Sk]. WGSL has no float atomics, so an invocation owns one bias element and one
 * part of the elements it sums; SumPartsProgram adds the parts. Entries where the scores are
 * -Infinity get 0.
 */
import type {WebGPUProgram} from '@tensorflow/tfjs-backend-webgpu';
import {
  ATTENTION_UNIFORMS, AttentionGeometry, biasVariableNames, ELEMENTWISE_WORKGROUP, elementwiseDispatch, variantKey,
} from './geometry';
import {BACKWARD_INPUTS, backwardWgsl} from './score_wgsl';

/** Invocations the parts aim at: enough to fill the device, few enough to keep the parts small. */
const TARGET_INVOCATIONS = 16384;

/** A bias input as the program sums into it. */
export interface BiasGradView {
  /** The bias's shape padded to rank 4 ([nW, 1 | Hq, Sq, Sk] for the window bias). */
  shape: number[];
  /** Score elements per bias element along each of [b, h, i, j]. */
  counts: number[];
  /** Batch step between them: nW for the window bias (b ≡ w mod nW), else 1. */
  batchStep: number;
}

export class BiasGradProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENTWISE_WORKGROUP, 1, 1];
  uniforms =
      `${ATTENTION_UNIFORMS} viewShape : vec4<i32>, counts : vec4<i32>, batchStep : i32, elements : i32, chunk : i32,`;
  size = true;
  readonly parts: number;
  private readonly chunk: number;

  constructor(private readonly g: AttentionGeometry, private readonly view: BiasGradView) {
    const elements = view.shape.reduce((a, b) => a * b, 1);
    const summed = view.counts.reduce((a, b) => a * b, 1);
    this.parts = Math.max(1, Math.min(summed, Math.ceil(TARGET_INVOCATIONS / elements)));
    this.chunk = Math.ceil(summed / this.parts);
    this.variableNames = [...BACKWARD_INPUTS, ...biasVariableNames(g)];
    this.outputShape = [this.parts, elements];
    this.dispatch = elementwiseDispatch(this.outputShape);
    this.shaderKey = `attentionBiasGrad_${variantKey(g)}`;
  }

  /** The uniforms after ATTENTION_UNIFORMS. */
  uniformValues(): {type: string, data: number[]}[] {
    const elements = this.view.shape.reduce((a, b) => a * b, 1);
    return [
      {type: 'int32', data: this.view.shape}, {type: 'int32', data: this.view.counts},
      {type: 'int32', data: [this.view.batchStep]}, {type: 'int32', data: [elements]},
      {type: 'int32', data: [this.chunk]},
    ];
  }

  getUserCode(): string {
    return `
  ${backwardWgsl(this.g)}

  /** dS at (b, h, i, j), 0 where the score is masked. */
  fn scoreGrad(b : i32, h : i32, i : i32, j : i32) -> f32 {
    let dims = uniforms.dims;
    let heads = uniforms.heads;
    let batchHead = b * heads.y + h;
    let row = batchHead * dims.x + i;
    let lse = rowLogsumexp(row);
    let keys = keyRange(i);
    if (lse == uniforms.INFINITY || j < keys.x || j >= keys.y) {
      return 0.0;
    }
    let biasValue = biasAt(biasRows(b, h, i), j);
    if (isNegInf(biasValue)) {
      return 0.0;
    }
    let keyRow = (b * heads.z + h / (heads.y / heads.z)) * dims.y + j;
    var d = 0.0;
    for (var v = 0; v < HEAD_VECS; v++) {
      d += dot(queryVec(row, v), keyVec(keyRow, v));
    }
    let s = d * uniforms.scale + biasValue;
    var dp = 0.0;
    for (var v = 0; v < VALUE_VECS; v++) {
      dp += dot(dyVec(row, v), valueVec(keyRow, v));
    }
    return exp(s - lse) * (dp * dropoutFactor(dropoutRowState(batchHead, i), j) - rowOutputDot(row));
  }

  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let e = index % uniforms.elements;
    let shape = uniforms.viewShape;
    let counts = uniforms.counts;
    let origin = vec4<i32>(e / (shape.y * shape.z * shape.w), (e / (shape.z * shape.w)) % shape.y,
                           (e / shape.w) % shape.z, e % shape.w);
    let first = (index / uniforms.elements) * uniforms.chunk;
    let end = min(counts.x * counts.y * counts.z * counts.w, first + uniforms.chunk);
    var sum = 0.0;
    for (var n = first; n < end; n++) {
      let j = origin.w + n % counts.w;
      let i = origin.z + (n / counts.w) % counts.z;
      let h = origin.y + (n / (counts.w * counts.z)) % counts.y;
      let b = origin.x + (n / (counts.w * counts.z * counts.y)) * uniforms.batchStep;
      sum += scoreGrad(b, h, i, j);
    }
    result[index] = sum;
  }`;
  }
}

/** Adds the [parts, elements] partial sums of BiasGradProgram into [elements]. */
export class SumPartsProgram implements WebGPUProgram {
  variableNames = ['partials'];
  outputShape: number[];
  shaderKey = 'attentionSumParts';
  dispatchLayout = {x: [0]};
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENTWISE_WORKGROUP, 1, 1];
  size = true;

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatch = elementwiseDispatch(outputShape);
  }

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      var sum = 0.0;
      for (var p = 0; p < uniforms.partialsShape.x; p++) {
        sum += partials[p * uniforms.size + index];
      }
      result[index] = sum;
    }
  }`;
  }
}
