/**
 * The forward's logsumexp in float64, beside the float32 output the contract fixes
 * (docs/contract.md §3). The backward rebuilds P = exp(S − logsumexp); with a float32
 * logsumexp, P is off by a factor exp(|logsumexp| · 2⁻²⁴), e.g. 6·10⁻⁴ at scores near 10⁴
 * and 12% near 2·10⁶. Kept per output, keyed by its data (tfjs-backend-cpu's dataId, which
 * the saved copy for the gradient shares), it is dropped with the data: the backward of a
 * logsumexp from elsewhere uses the float32 values.
 */
import type {DataId, TensorInfo} from '@tensorflow/tfjs-core';

const exactLogsumexp = new WeakMap<DataId, Float64Array>();

export function keepLogsumexp(logsumexp: TensorInfo, values: Float64Array): void {
  exactLogsumexp.set(logsumexp.dataId, values);
}

/** The float64 logsumexp of `logsumexp` where this backend's forward made it, else its float32 values. */
export function logsumexpValues(logsumexp: TensorInfo, float32: Float32Array): Float64Array | Float32Array {
  return exactLogsumexp.get(logsumexp.dataId) ?? float32;
}
