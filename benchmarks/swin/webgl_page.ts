/** The webgl run's page: measures Swin-T and leaves the rows in `window.swinRows` (or `window.swinError`). */
import {benchmarkSwinT, SwinRow} from './swin_t';

declare global {
  interface Window {
    swinRows?: SwinRow[];
    swinError?: string;
    swinOptions: {batches: number[], reps: number};
  }
}

benchmarkSwinT('webgl', window.swinOptions.batches, window.swinOptions.reps, line => console.log(line))
    .then(rows => window.swinRows = rows, (e: Error) => window.swinError = e.message);
