/**
 * MultiHeadAttention against Keras 3.15's own numbers (test/fixtures/keras_mha_fixture.json,
 * from make_keras_fixture.py): weights in Keras's layout and order, outputs and attention
 * scores at 1e-5, a functional model with the causal flag and a mask input in predict(),
 * fit() and after save → load, and a Keras model loaded through withKerasMultiHeadAttention;
 * on cpu (fused kernel) and wasm (composed) in Node, and on webgl in headless Chromium.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as esbuild from 'esbuild';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import type {Browser} from 'playwright-core';
import {chromiumAvailable, launchChromium} from '../../examples/browser/chromium';
import '../../src/index';
import {expectClose} from './helpers';
import {CaseRun, KerasFixture, ModelRun, runKerasCase, runModels} from './keras_mha_runner';

const TOLERANCE = 1e-5;
const MODELS_TITLE = 'a functional model (causal, mask input) in predict, fit, after save → load; a Keras model.json';
const fixturePath = new URL('../fixtures/keras_mha_fixture.json', import.meta.url);
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as KerasFixture;

function checkCase(run: CaseRun, backend: string): void {
  const c = fixture.cases.find(k => k.name === run.name)!;
  expect(run.weightPaths, 'weights in Keras get_weights() order').to.deep.equal(c.weights.map(w => w.path));
  expect(run.scoresShape).to.deep.equal(c.scoresShape);
  expectClose(run.output, c.output, TOLERANCE);
  expectClose(run.scores, c.scores, TOLERANCE);
  expectClose(run.opOutput, c.output, TOLERANCE);
  expect(run.implementation).to.equal(backend === 'wasm' ? 'composed' : `${backend}-fused`);
}

function checkModels(run: ModelRun): void {
  const c = fixture.cases.find(k => k.name === 'causal_cross_masked')!;
  expectClose(run.predicted, c.output, TOLERANCE);
  expect(run.reloaded).to.deep.equal(run.predicted);
  expect(run.fitLoss).to.be.lessThan(1e-10);
  expectClose(run.kerasModelOutput, fixture.kerasModel.output, TOLERANCE);
}

describe(`MultiHeadAttention against Keras ${fixture.keras}`, () => {
  for (const backend of ['cpu', 'wasm']) {
    describe(`on ${backend}`, () => {
      before(async () => {
        await tf.setBackend(backend);
      });
      after(async () => {
        await tf.setBackend('cpu');
      });
      for (const c of fixture.cases) {
        it(`${c.name}: outputs, attention scores and weight order`, () => checkCase(runKerasCase(c), backend));
      }
      it(MODELS_TITLE, async () => {
        const before = tf.memory().numTensors;
        checkModels(await runModels(fixture));
        expect(tf.memory().numTensors).to.equal(before);
      });
    });
  }

  describe('on webgl (headless Chromium)', function() {
    let browser: Browser;
    let result: {backend: string, cases: CaseRun[], models: ModelRun};
    before(async function() {
      if (!chromiumAvailable()) this.skip();  // needs Debian's chromium: apt-get install chromium
      const bundle = await esbuild.build({
        entryPoints: [fileURLToPath(new URL('./multi_head_attention_page.ts', import.meta.url))], bundle: true,
        format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'warning',
      });
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.addScriptTag({content: bundle.outputFiles[0].text});
      result = await page.evaluate(f => window.runKerasFixture(f), fixture);
    });
    after(async () => {
      await browser?.close();
    });
    it('runs on webgl', () => expect(result.backend).to.equal('webgl'));
    for (const c of fixture.cases) {
      it(`${c.name}: outputs, attention scores and weight order`, () =>
        checkCase(result.cases.find(r => r.name === c.name)!, 'webgl'));
    }
    it(MODELS_TITLE, () => checkModels(result.models));
  });
});
