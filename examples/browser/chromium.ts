/**
 * Headless Chromium for the demo test, the webgl parity test and the webgl benchmark:
 * Debian's chromium driven by playwright-core, with WebGL 2 and WebGPU on SwiftShader
 * (software GL named explicitly, so a later Chromium keeps it). WebGPU needs a secure
 * context: pages are served from 127.0.0.1.
 */
import {existsSync} from 'node:fs';
import {Browser, chromium} from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
  '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader',
];

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({executablePath: CHROMIUM, args: FLAGS});
}
