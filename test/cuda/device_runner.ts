/**
 * Entry of the self-contained test bundle for the GPU machine, which has no node_modules:
 * `node test/cuda/bundle.mjs` bundles mocha, chai, TF.js and the CUDA specs into one file.
 */
import Mocha from 'mocha';

const mocha = new Mocha({timeout: 600000, reporter: 'spec'});
mocha.suite.emit('pre-require', globalThis, 'cuda.spec.ts', mocha);
await import('./cuda.spec');
await import('./device_entry.spec');
mocha.run(failures => {
  process.exitCode = failures > 0 ? 1 : 0;
});
