/**
 * A worker thread of the quality suite: takes case specs from the main thread, runs each
 * through every judge (cases.ts) and posts the outcome back, so that cases run side by
 * side on a machine's cores.
 */
import { parentPort } from 'node:worker_threads';
import { runCase, type CaseSpec } from './cases.js';

/** A request from the main thread. */
export interface WorkerRequest {
  readonly spec: CaseSpec;
  readonly outDir: string;
}

const port = parentPort;
if (port === null) throw new Error('bench/quality/worker.js runs as a worker thread of the quality suite');
port.on('message', (req: WorkerRequest) => {
  try {
    port.postMessage({ ok: true, run: runCase(req.spec, req.outDir) });
  } catch (e) {
    port.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
