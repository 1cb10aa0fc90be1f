/** Runs in headless Chromium for multi_head_attention_keras.spec.ts: the Keras fixture on the webgl backend. */
import * as tf from '@tensorflow/tfjs';
import '../../src/index';
import {CaseRun, KerasFixture, ModelRun, runKerasCase, runModels} from './keras_mha_runner';

declare global {
  interface Window {
    runKerasFixture(fixture: KerasFixture): Promise<{backend: string, cases: CaseRun[], models: ModelRun}>;
  }
}

window.runKerasFixture = async fixture => {
  if (!(await tf.setBackend('webgl'))) throw new Error('the webgl backend is not available');
  const cases = fixture.cases.map(runKerasCase);
  return {backend: tf.getBackend(), cases, models: await runModels(fixture)};
};
