/**
 * The browser half of `npm run bench:webgl` (bundled and run by Karma with BENCH=1):
 * benchmarks/browser_page.ts on the webgl backend.
 */
import * as tf from '@tensorflow/tfjs';
import type {MathBackendWebGL} from '@tensorflow/tfjs-backend-webgl';
import {describeBrowserBenchmark} from '../browser_page';

describeBrowserBenchmark({
  backend: 'webgl',
  runProgramMethod: 'runWebGLProgram',
  environment: () => {
    const gl = (tf.backend() as MathBackendWebGL).gpgpu.gl;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return {
      renderer: info != null ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
      webglVersion: tf.env().getNumber('WEBGL_VERSION'),
    };
  },
});
