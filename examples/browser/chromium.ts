/**
 * Headless Chromium for the demo test, the webgl parity test and the webgl benchmark:
 * Debian's chromium driven by playwright-core, with WebGL 2 on SwiftShader (software GL
 * named explicitly, so a later Chromium keeps it).
 */
import {existsSync} from 'node:fs';
import {Browser, chromium} from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
];

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({executablePath: CHROMIUM, args: FLAGS});
}
