/**
 * Builds the demo bundle with esbuild and serves examples/ over http, so the page can load
 * the model that `npm run example` saved in examples/output/.
 *
 *   npx tsx examples/browser/serve.ts      then open the printed address
 */
import * as esbuild from 'esbuild';
import {readFile} from 'node:fs/promises';
import {createServer, Server} from 'node:http';
import {AddressInfo} from 'node:net';
import {extname, join, normalize} from 'node:path';
import {fileURLToPath} from 'node:url';

const EXAMPLES = fileURLToPath(new URL('..', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream',
};

export async function buildDemo(): Promise<void> {
  await esbuild.build({
    entryPoints: [join(EXAMPLES, 'browser/demo.ts')],
    outfile: join(EXAMPLES, 'browser/dist/demo.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    logLevel: 'warning',
  });
}

/** Serves examples/ on `port` (0: any free port); resolves to the server and the demo's address. */
export async function serveExamples(port = 0): Promise<{server: Server, url: string}> {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname));
    const file = join(EXAMPLES, path);
    if (!file.startsWith(EXAMPLES)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, {'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream'}).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  const {port: bound} = server.address() as AddressInfo;
  return {server, url: `http://127.0.0.1:${bound}/browser/index.html`};
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDemo();
  const {url} = await serveExamples(8080);
  console.log(`demo at ${url}`);
}
