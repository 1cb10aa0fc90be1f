/**
 * Loads TF.js with the webgl and cpu backends and this package, and selects webgl.
 * Imported first by the Karma entry, so every spec shares this one engine.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import * as tf from '@tensorflow/tfjs-core';
import '../../src/index';

before(async () => {
  const ok = await tf.setBackend('webgl');
  if (!ok) throw new Error('the webgl backend did not initialize');
  await tf.ready();
});
