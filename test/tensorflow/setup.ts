/**
 * Shared by the tensorflow specs: tfjs-node (its `tensorflow` backend becomes the default),
 * this package's Node entry, and whether the native kernels can run here. Where they cannot
 * (tfjs-node not set up, the op library not built), the specs skip with the reason, except
 * in CI (CI=true), where that is a failure.
 */
import * as tf from '@tensorflow/tfjs-core';
import {createRequire} from 'node:module';
import {tensorflowAvailability} from '../../src/node';

function loadTfjsNode(): string | null {
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    return null;
  } catch (e) {
    return `@tensorflow/tfjs-node does not load (${(e as Error).message.split('\n')[0]}); run npm run setup:tfjs-node`;
  }
}

function unavailableReason(): string | null {
  const tfjsNode = loadTfjsNode();
  if (tfjsNode != null) return tfjsNode;
  const native = tensorflowAvailability();
  return native.available ? null : native.reason;
}

export const skipReason = unavailableReason();

/** A before() hook: selects `tensorflow`, or skips the suite with the reason (fails under CI=true). */
export async function useTensorflow(this: Mocha.Context): Promise<void> {
  if (skipReason != null) {
    if (process.env.CI === 'true') throw new Error(`the tensorflow suites cannot run in CI: ${skipReason}`);
    console.log(`      skipped: ${skipReason}`);
    this.skip();
  }
  await tf.setBackend('tensorflow');
}
