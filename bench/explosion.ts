/**
 * Label explosion, measured: one engine fed a million events of one service whose route
 * (or instance) is distinct in every event, against the same number of events on one route.
 * Prints heap and RSS after a forced GC for each, and the ratio: the caps (series per
 * service, the route template cache) should keep the exploding run near the plain one.
 *
 *   node --expose-gc dist/bench/explosion.js [--events N]
 */
import { createEngine } from '../rules/engine.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { explosionRequest, type ExplosionShape } from '../simulate/explosion.js';

function run(shape: ExplosionShape, events: number): { heapMb: number; rssMb: number; series: number; overflowed: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const engine = createEngine(DEFAULT_RULES, () => {});
  for (let i = 0; i < events; i++) engine.push(explosionRequest(shape, i));
  gc?.();
  const after = process.memoryUsage();
  // Read after the measurement, so that the engine is alive while it is measured.
  const live = engine.live();
  return {
    heapMb: (after.heapUsed - before.heapUsed) / 1e6, rssMb: after.rss / 1e6, series: live.series, overflowed: engine.stats().overflowSeries,
  };
}

const at = process.argv.indexOf('--events');
const events = at > 0 ? Number(process.argv[at + 1]) : 1_000_000;
if ((globalThis as { gc?: () => void }).gc === undefined) process.stderr.write('run with node --expose-gc for heap figures after a full GC\n');
const base = run('one route', events);
process.stdout.write(`${events} events\n`);
for (const shape of ['one route', 'distinct routes', 'distinct instances'] as const) {
  const r = shape === 'one route' ? base : run(shape, events);
  process.stdout.write(`${shape.padEnd(20)} heap ${r.heapMb >= 0 ? '+' : ''}${r.heapMb.toFixed(1)} MB  rss ${r.rssMb.toFixed(0)} MB  series ${r.series}  overflowed ${r.overflowed}  \n`);
}
