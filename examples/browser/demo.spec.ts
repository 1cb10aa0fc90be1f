/**
 * Drives the browser demo in headless Chromium (playwright-core with Debian's chromium,
 * software WebGL 2 through SwiftShader) and checks its result.
 *
 *   npx mocha --no-config --import=tsx --timeout 300000 examples/browser/demo.spec.ts
 */
import {expect} from 'chai';
import {existsSync} from 'node:fs';
import type {Server} from 'node:http';
import {fileURLToPath} from 'node:url';
import type {Browser} from 'playwright-core';
import {chromiumAvailable, launchChromium} from './chromium';
import type {DemoResult} from './demo';
import {buildDemo, serveExamples} from './serve';

const TRAINED_MODEL = fileURLToPath(new URL('../output/swin_textures/model.json', import.meta.url));

describe('browser demo (headless Chromium, webgl and webgpu)', function() {
  let server: Server;
  let browser: Browser;
  let url: string;

  before(async function() {
    if (!chromiumAvailable()) this.skip();  // needs Debian's chromium: apt-get install chromium
    await buildDemo();
    ({server, url} = await serveExamples());
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  for (const backend of ['webgl', 'webgpu']) {
    it(`classifies on ${backend} with the fused kernel, and times fused vs composed`, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', e => errors.push(e.message));
      await page.goto(`${url}?backend=${backend}`);
      await page.waitForFunction(() => window.demoResult != null, undefined, {timeout: 240_000});
      const result = await page.evaluate(() => window.demoResult!) as DemoResult;
      console.log(`      ${JSON.stringify(result)}`);
      expect(errors).to.deep.equal([]);
      expect(result.error).to.equal(undefined);
      expect(result.backend).to.equal(backend);
      expect(result.predictions).to.have.length(32);
      // Whatever fused kernel dispatch picks for the backend, not the composed path.
      const fused = result.implementations.fused;
      expect(fused.every(i => !i.endsWith(': composed')), fused.join()).to.equal(true);
      expect(result.implementations.composed.every(i => i.endsWith(': composed'))).to.equal(true);
      expect(result.msPerImage.fused).to.be.greaterThan(0);
      expect(result.msPerImage.composed).to.be.greaterThan(0);
      expect(await page.locator('#timings tr').count()).to.equal(3);
      expect(await page.locator('#backends strong').textContent()).to.equal(backend);
      // The model trained by `npm run example` classifies the textures; an untrained one is at chance.
      if (existsSync(TRAINED_MODEL)) {
        expect(result.trained).to.equal(true);
        expect(result.accuracy).to.be.greaterThan(0.8);
      }
    });
  }
});
