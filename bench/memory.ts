/**
 * Memory of the engine holding many active series: RSS and heap after a full collection.
 *
 *   node dist/bench/memory.js [--series N]
 *
 * A series is one (service, version, route). The engine is fed, in a fresh child process
 * started with --expose-gc (so that nothing the parent loaded is counted), request events
 * for exactly N distinct series: services of ROUTES_PER_SERVICE routes each, every
 * CANARY_EVERY-th of which also runs a canary version on the same routes and is therefore
 * under judgment, with per-slice latency sketches on all its series. Each series gets a
 * request every INTERVAL_MS over DURATION_MS of event time, evenly spread, so every slice
 * of the window is real and every series is still active at the end. Events go through
 * the hot-path decoder first, so the engine sees the same objects as in a replay.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../ingest/decode.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { createEngine, type EngineStats } from '../rules/engine.js';
import { count, describeMachine, gib, machineInfo, mib, positiveIntFlags, table, type Row } from './harness.js';

const USAGE = 'usage: node dist/bench/memory.js [--series N]';
const CHILD_FLAG = '--measure-in-child';
const ROUTES_PER_SERVICE = 100;
const CANARY_EVERY = 4;
const INSTANCES_PER_VERSION = 4;
const DURATION_MS = 30 * 60_000;
const INTERVAL_MS = 30_000;
const START_MS = Date.UTC(2026, 0, 12, 9, 0, 0);
const TARGET_RSS_BYTES = 2 ** 30;

/** The services fed to the engine and how many routes each has. */
interface ServicePlan {
  readonly name: string;
  readonly versions: readonly string[];
  readonly routes: number;
}

/** What the child measured, handed to the parent as JSON. */
interface Measurement {
  readonly series: number;
  readonly services: number;
  readonly canaryServices: number;
  readonly events: number;
  readonly feedMs: number;
  readonly before: NodeJS.MemoryUsage;
  readonly after: NodeJS.MemoryUsage;
  readonly peakRssBytes: number;
  readonly stats: EngineStats;
}

/** Services until exactly `series` series are planned; the last one is stable-only with the routes left over. */
function plan(series: number): ServicePlan[] {
  const services: ServicePlan[] = [];
  for (let left = series; left > 0; ) {
    const i = services.length;
    const name = `svc-${letters(i)}`;
    if (i % CANARY_EVERY === 0 && left >= 2 * ROUTES_PER_SERVICE) {
      services.push({ name, versions: ['v1', 'v2'], routes: ROUTES_PER_SERVICE });
      left -= 2 * ROUTES_PER_SERVICE;
    } else {
      const routes = Math.min(ROUTES_PER_SERVICE, left);
      services.push({ name, versions: ['v1'], routes });
      left -= routes;
    }
  }
  return services;
}

/** Letters only: digits in a route would be masked as ids by the route templating and merge series. */
function letters(n: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

function instanceName(service: string, version: string, i: number): string {
  return `${service}-${version}-${letters(i)}`;
}

/** A small deterministic generator, so that two runs feed the same latencies. */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function push(engine: ReturnType<typeof createEngine>, wire: Record<string, unknown>): void {
  const decoded = decodeValue(wire);
  if (!decoded.ok) throw new Error(`synthetic event rejected: ${decoded.reason}`);
  engine.push(decoded.event);
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the measuring process needs --expose-gc');
  // Twice: the first pass may only queue finalisers whose memory the second frees.
  gc();
  gc();
}

function measure(seriesWanted: number): Measurement {
  const services = plan(seriesWanted);
  const series: Readonly<{ service: string; version: string; route: string; instance: string; slowdown: number }>[] = [];
  for (const s of services) {
    // Past the engine's per-service cap, series fold into one overflow series and the count would lie.
    if (s.versions.length * s.routes >= DEFAULT_RULES.window.maxSeriesPerService) throw new Error(`${s.name} would reach the per-service series cap`);
    for (const version of s.versions) {
      for (let r = 0; r < s.routes; r++) {
        series.push({
          service: s.name,
          version,
          route: `/api/${letters(r)}`,
          instance: instanceName(s.name, version, r % INSTANCES_PER_VERSION),
          // Routes differ in speed, as real ones do, so that sketches span several bins.
          slowdown: 1 + (r % 7) * 0.4,
        });
      }
    }
  }

  collect();
  const before = process.memoryUsage();
  // The engine counts its decisions itself; nothing else is kept of them.
  const engine = createEngine(DEFAULT_RULES, () => {});
  const started = performance.now();
  let events = 0;
  for (const s of services) {
    for (const version of s.versions) {
      const instances = Array.from({ length: INSTANCES_PER_VERSION }, (_, i) => instanceName(s.name, version, i));
      push(engine, { type: 'deploy', ts: START_MS - 1000, service: s.name, version, role: version === 'v1' ? 'stable' : 'canary', action: 'start', instances });
      events++;
    }
  }
  const random = xorshift(20260112);
  for (let tick = 0; tick < DURATION_MS / INTERVAL_MS; tick++) {
    for (let k = 0; k < series.length; k++) {
      const s = series[k] as (typeof series)[number];
      // Spread over the interval in series order: event time never goes backwards.
      const ts = START_MS + tick * INTERVAL_MS + Math.floor((k * INTERVAL_MS) / series.length);
      const latency = Math.round(20 * s.slowdown * Math.exp(0.5 * (random() + random() + random() - 1.5)) * 100) / 100;
      const status = random() < 0.005 ? 503 : 200;
      push(engine, { type: 'request', ts, service: s.service, instance: s.instance, route: s.route, status, latency_ms: latency, version: s.version });
      events++;
    }
  }
  const feedMs = performance.now() - started;
  collect();
  const after = process.memoryUsage();
  // Read after the measurement, so that the engine is certainly alive while it is taken.
  const stats = engine.stats();
  return {
    series: series.length,
    services: services.length,
    canaryServices: services.filter((s) => s.versions.length > 1).length,
    events,
    feedMs,
    before,
    after,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    stats,
  };
}

function runChild(series: number): Promise<Measurement> {
  return new Promise((resolveMeasurement, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), CHILD_FLAG, String(series)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`measuring process exited with ${code}`));
      else {
        try {
          resolveMeasurement(JSON.parse(out) as Measurement);
        } catch (e) {
          reject(new Error('measuring process printed no measurement', { cause: e }));
        }
      }
    });
  });
}

function report(m: Measurement): string {
  const heapDelta = m.after.heapUsed - m.before.heapUsed;
  const externalDelta = m.after.external - m.before.external;
  const rssDelta = m.after.rss - m.before.rss;
  const s = m.stats;
  const decisions = Object.entries(s.decisions).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([t, n]) => `${t} ${count(n)}`).join(', ');
  const honest = s.overflowSeries === 0 ? 'none (every series counted is a series of its own)' : `${count(s.overflowSeries)} events folded into overflow series: the series count is NOT honest`;
  const rows: Row[] = [
    ['machine', describeMachine(machineInfo())],
    ['series', `${count(m.series)} (service x version x route): ${count(m.services)} services of up to ${ROUTES_PER_SERVICE} routes, ${count(m.canaryServices)} of them with a canary (judged, with latency sketches)`],
    ['events', `${count(m.events)} over ${DURATION_MS / 60_000} min of event time, one request per series every ${INTERVAL_MS / 1000} s, fed in ${(m.feedMs / 1000).toFixed(1)} s`],
    ['RSS', `${mib(m.after.rss)} after GC (${mib(rssDelta)} over the ${mib(m.before.rss)} before), peak ${mib(m.peakRssBytes)}`],
    ['heap used', `${mib(m.after.heapUsed)} after GC (${mib(heapDelta)} over the ${mib(m.before.heapUsed)} before)`],
    ['external', `${mib(m.after.external)} (typed-array storage off the heap; ${mib(externalDelta)} added)`],
    ['per series', `${count(rssDelta / m.series)} bytes of RSS, ${count((heapDelta + externalDelta) / m.series)} bytes of heap + external`],
    ['target', `${m.series >= 100_000 ? '' : `(only ${count(m.series)} series) `}RSS under ${gib(TARGET_RSS_BYTES)}: ${m.after.rss < TARGET_RSS_BYTES ? 'met' : 'NOT met'} after GC, ${m.peakRssBytes < TARGET_RSS_BYTES ? 'met' : 'NOT met'} at peak`],
    ['engine stats', `accepted ${count(s.accepted)}, windowed ${count(s.windowed)}, late ${count(s.late)}, deploys ${count(s.deploys)}, unknown version ${count(s.unknownVersion)}`],
    ['overflow', honest],
    ['decisions', decisions || 'none'],
  ];
  return table('vigil engine memory', rows);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === CHILD_FLAG) {
    process.stdout.write(JSON.stringify(measure(Number(argv[1]))));
    return;
  }
  let flags: { series: number };
  try {
    flags = positiveIntFlags(argv, { series: 100_000 }, USAGE);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`feeding ${count(flags.series)} series in a child process...\n`);
  process.stdout.write(report(await runChild(flags.series)));
}

main().catch((e: unknown) => {
  process.stderr.write(`memory benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
