/**
 * Parity with timm on the webgl backend: the V1 and V2 fixtures of timm_parity.spec.ts run in
 * headless Chromium (WebGL 2 on SwiftShader), with the fused webgl kernel and with the composed path.
 */
import * as esbuild from 'esbuild';
import {expect} from 'chai';
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import type {Browser, Page} from 'playwright-core';
import {chromiumAvailable, launchChromium} from '../../examples/browser/chromium';
import {entryToFloat32, parseSafetensors} from '../../src/layers/index';
import type {ParityRun} from './webgl_parity_page';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

describe('timm parity on webgl (headless Chromium)', function() {
  let browser: Browser;
  let page: Page;

  before(async function() {
    if (!chromiumAvailable()) this.skip();  // needs Debian's chromium: apt-get install chromium
    const bundle = await esbuild.build({
      entryPoints: [fileURLToPath(new URL('./webgl_parity_page.ts', import.meta.url))], bundle: true, format: 'iife',
      platform: 'browser', target: 'es2020', write: false, logLevel: 'warning',
    });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.addScriptTag({content: bundle.outputFiles[0].text});
  });

  after(async () => {
    await browser?.close();
  });

  const fixtures =
      [['swin_fixture', 'swin_fixture_config.json', false], ['swinv2', 'swinv2_config.json', true]] as const;
  for (const [name, config, v2] of fixtures) {
    for (const composed of [false, true]) {
      const path = composed ? 'composed path' : 'fused webgl kernel';
      it(`${name}: matches timm logits to rel error < 1e-4 (${path})`, async () => {
        const io = parseSafetensors(fixture(`${name}_io.safetensors`));
        const input = io.get('input')!;
        const expected = entryToFloat32(io.get('logits')!);
        const args = [
          JSON.parse(fixture(config).toString()), v2, fixture(`${name}_weights.safetensors`).toString('base64'),
          Array.from(entryToFloat32(input)), input.shape, composed,
        ] as const;
        const run = await page.evaluate(a => window.runParity(...a), args) as ParityRun;
        expect(run.backend).to.equal('webgl');
        expect(run.implementations.every(i => (i === 'composed') === composed), run.implementations.join())
            .to.equal(true);
        const scale = Math.max(...expected.map(Math.abs));
        const error = Math.max(...run.logits.map((v, i) => Math.abs(v - expected[i]))) / scale;
        console.log(`      max |Δ| / max |logit| = ${error.toExponential(2)} (${run.implementations[0]})`);
        expect(run.logits).to.have.length(expected.length);
        expect(error).to.be.lessThan(1e-4);
      });
    }
  }
});
