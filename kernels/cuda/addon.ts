/**
 * Loads the native CUDA addon (build/Release/tfjs_attention_cuda.node, built by
 * `npm run build:cuda`). Loading never throws: without the addon or a device the caller
 * gets the reason instead, so Node without CUDA keeps working.
 */
import {existsSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

/** What the addon needs of a call besides the arrays (see csrc/addon.cc readSpec). */
export interface NativeSpec {
  /** 0 'highest', 1 'tf32', 2 'bf16'. */
  precision: number;
  /** [B, Hq, Hkv, Sq, Sk, D, Dv]. */
  shape: number[];
  scale: number;
  causal: number;
  dropoutRate: number;
  dropoutSeed: number;
  qSeqStarts: number[];
  kSeqStarts: number[];
  biasStrides: number[] | null;
  biasElements: number;
  windowStrides: number[] | null;
  numWindows: number;
  windowElements: number;
}

export interface CudaDevice {
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalBytes: number;
}

/** What both builds of the addon export (csrc/napi_util.h defineExports). */
export interface CudaAddonBase {
  device(): CudaDevice;
  memory(): {freeBytes: number, totalBytes: number, pooledBytes: number};
  releasePool(): void;
}

export interface CudaAddon extends CudaAddonBase {
  /** The kernels' largest head dim (csrc kMaxHeadDim); absent from addons built before it was exported. */
  maxHeadDim?: number;
  forward(spec: NativeSpec, query: Float32Array, key: Float32Array, value: Float32Array,
          bias: Float32Array | null, windowBias: Float32Array | null): [Float32Array, Float32Array];
  backward(spec: NativeSpec, dy: Float32Array, query: Float32Array, key: Float32Array, value: Float32Array,
           output: Float32Array, logsumexp: Float32Array, bias: Float32Array | null, windowBias: Float32Array | null):
      [Float32Array, Float32Array, Float32Array, Float32Array | null, Float32Array | null];
}

const ADDON_FILE = join('build', 'Release', 'tfjs_attention_cuda.node');

/** This module's folder: from its URL under ESM; a CommonJS bundle has __dirname instead. */
function moduleDir(): string {
  const url = (import.meta as {url?: string}).url;
  if (url) return dirname(fileURLToPath(url));
  return typeof __dirname !== 'undefined' ? __dirname : process.cwd();
}

/** The addon's path: TFJS_ATTENTION_CUDA_ADDON, else build/Release in the package root above this file. */
function addonPath(): string | null {
  const override = process.env.TFJS_ATTENTION_CUDA_ADDON;
  if (override) return override;
  // Sources run from kernels/cuda/, bundles from dist/<format>/.
  let dir = moduleDir();
  for (let up = 0; up < 6; up++) {
    if (existsSync(join(dir, ADDON_FILE))) return join(dir, ADDON_FILE);
    dir = dirname(dir);
  }
  return null;
}

export type AddonLoad =
    {addon: CudaAddon, device: CudaDevice, reason?: undefined} | {addon?: undefined, reason: string};

let loaded: AddonLoad | undefined;

/** The addon with its device, or why there is none (cached after the first call). */
export function loadCudaAddon(): AddonLoad {
  if (loaded != null) return loaded;
  const path = addonPath();
  if (path == null) {
    loaded = {reason: `the CUDA addon is not built (no ${ADDON_FILE}): run 'npx tfjs-attention build'`};
    return loaded;
  }
  try {
    const addon = createRequire(path)(path) as CudaAddon;
    loaded = {addon, device: addon.device()};
  } catch (e) {
    loaded = {reason: `the CUDA addon at ${path} cannot run: ${(e as Error).message}`};
  }
  return loaded;
}
