/**
 * The browser half of `npm run bench:webgpu` (bundled and run by Karma with BENCH=webgpu):
 * benchmarks/browser_page.ts on the webgpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import {describeBrowserBenchmark} from '../browser_page';

describeBrowserBenchmark({
  backend: 'webgpu',
  runProgramMethod: 'runWebGPUProgram',
  environment: () => {
    const adapter = (tf.backend() as unknown as {adapterInfo?: {vendor?: string, architecture?: string}}).adapterInfo;
    return {adapter: [adapter?.vendor, adapter?.architecture].filter(Boolean).join(' ') || 'unknown adapter'};
  },
});
