/**
 * HTTP ingest throughput against a floor: events per second taken in over `POST /v1/events`
 * by the real service, and by a bare server on the same framework with the same body handling.
 *
 *   node dist/bench/http.js [--batch N[,N...]] [--duration S] [--connections N]
 *
 * For every batch size two servers run in this process, one after the other, each started
 * fresh: the floor, a Fastify server that takes `application/x-ndjson` as a string under the
 * same body limit and answers 202 with the number of newlines in the body (the body is fully
 * received, nothing is decoded); then the service, app/service.ts's startService (decode, bus,
 * engine, decisions). A child process generates the load with autocannon (one request in flight
 * per connection), so that this process's CPU time and event-loop use are the server's own:
 * first WARMUP_S of warm-up, then the measured `--duration` seconds on the same connections.
 * When a server's event loop was not kept busy, the load generator set its figure, and the
 * report says so: on a machine with few cores the two share them.
 *
 * Bodies are real events: the error-regression scenario of the simulator, in as many copies as
 * keep the event time of all requests in flight within a third of the allowed lateness, each
 * copy's service renamed apart (`checkout-03`, its instances likewise) and interleaved. Every
 * request carries the next events of that endless stream, so event time only moves forward, by
 * one batch worth per request; a scenario that ends starts over one scenario length later.
 * Re-sent or stale times would be dropped as late by the engine, which is cheap, and the figure
 * would then claim more than was measured: the service's late count is printed after each run
 * and a share above LATE_WARNING_SHARE is flagged.
 *
 * There is no fixed target: the figures to report are events/s at each batch size and the
 * service's share of the floor measured in the same run.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pino from 'pino';
import { DEFAULT_CONFIG, withEnvironment, type VigilConfig } from '../app/config-file.js';
import { startService } from '../app/service.js';
import type { EngineStats } from '../rules/engine.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import type { TimedEvent, WireEvent } from '../simulate/generate.js';
import { count, describeMachine, machineInfo, positiveIntFlags, table, type Row } from './harness.js';

const USAGE = 'usage: node dist/bench/http.js [--batch N[,N...]] [--duration S] [--connections N]';
const CHILD_FLAG = '--generate-load';
const SCENARIO = 'error-regression';
const SEED = 1;
const DEFAULT_BATCHES: readonly number[] = [100, 1000];
/** Larger batches are not ingest traffic but file uploads, which `vigil replay` is for. */
const MAX_BATCH = 100_000;
const WARMUP_S = 1;
/** The event time of all requests in flight is kept within this share of the allowed lateness. */
const IN_FLIGHT_LATENESS_SHARE = 1 / 3;
/** Enough copies for thousands of connections; past it the late count says what happened. */
const MAX_COPIES = 1000;
const LATE_WARNING_SHARE = 0.01;
/** Below this event-loop use a server was waiting for requests: the load generator set its figure. */
const SATURATED_LOOP_SHARE = 0.9;
/** Headroom of the body limit over the first body of the largest batch, for bodies holding longer lines. */
const BODY_LIMIT_HEADROOM = 4;
const TS_HOLE = '{{ts}}';
const SUFFIX_HOLE = '{{suffix}}';

/** One NDJSON line with holes for its event time and for the suffix that renames its service apart. */
export interface LineTemplate {
  /** Text around the holes: always one more than `holes`. */
  readonly parts: readonly string[];
  readonly holes: readonly ('ts' | 'suffix')[];
}

/** The wire event with holes in place of its time and after every service, instance and release name. */
function withHoles(e: WireEvent): WireEvent {
  // Names as bench/replay.ts gives them, so that copies never share a service or an instance.
  const instanceOf = (service: string, instance: string): string =>
    instance.startsWith(`${service}-`) ? `${service}${SUFFIX_HOLE}${instance.slice(service.length)}` : `${instance}${SUFFIX_HOLE}`;
  switch (e.type) {
    case 'request':
    case 'log':
    case 'metric':
      return { ...e, ts: TS_HOLE, service: `${e.service}${SUFFIX_HOLE}`, instance: instanceOf(e.service, e.instance) };
    case 'deploy': {
      const instances = e.instances.map((i) => instanceOf(e.service, i));
      const service = `${e.service}${SUFFIX_HOLE}`;
      return e.release === undefined ? { ...e, ts: TS_HOLE, service, instances } : { ...e, ts: TS_HOLE, service, instances, release: `${e.release}${SUFFIX_HOLE}` };
    }
    case 'webhook':
      // The engine only counts webhooks; their bodies keep the scenario's own names.
      return { ...e, ts: TS_HOLE };
  }
}

/** The line template of one wire event. */
function lineTemplate(e: WireEvent): LineTemplate {
  if (JSON.stringify(e).includes('{{')) throw new Error(`event text collides with the template holes: ${JSON.stringify(e)}`);
  const pieces = JSON.stringify(withHoles(e)).split(/(\{\{ts\}\}|\{\{suffix\}\})/);
  const parts: string[] = [];
  const holes: ('ts' | 'suffix')[] = [];
  pieces.forEach((piece, i) => {
    if (i % 2 === 0) parts.push(piece);
    else holes.push(piece === TS_HOLE ? 'ts' : 'suffix');
  });
  return { parts, holes };
}

/** The scenario as templates, with each event's time offset and the length after which it starts over. */
export interface TrafficLap {
  readonly lines: readonly LineTemplate[];
  readonly offsetsMs: Float64Array;
  readonly lapMs: number;
  /** Event time of the scenario's start, as generated. */
  readonly startMs: number;
  readonly byType: Readonly<Record<string, number>>;
}

/** The scenario's events as one lap of traffic; a lap is the scenario's length rounded up to a minute. */
export function trafficLap(events: readonly TimedEvent[]): TrafficLap {
  const first = events[0];
  if (first === undefined) throw new Error('the scenario has no events');
  const offsetsMs = new Float64Array(events.length);
  const byType: Record<string, number> = {};
  let lastMs = 0;
  events.forEach((t, i) => {
    // The stream is sent in this order with times only moving forward; a scenario with late events would break that.
    if (t.tsMs < lastMs) throw new Error(`scenario event ${i} goes back in time (${t.tsMs} ms after ${lastMs} ms)`);
    lastMs = t.tsMs;
    offsetsMs[i] = t.tsMs;
    byType[t.event.type] = (byType[t.event.type] ?? 0) + 1;
  });
  return {
    lines: events.map((t) => lineTemplate(t.event)),
    offsetsMs,
    lapMs: Math.ceil((lastMs + 1) / 60_000) * 60_000,
    startMs: Date.parse(first.event.ts) - first.tsMs,
    byType,
  };
}

/** Copies of a lap needed so that `inFlightEvents` events span at most the given share of the allowed lateness. */
function copiesFor(lap: TrafficLap, inFlightEvents: number, allowedLatenessMs: number): number {
  const eventsPerMs = lap.lines.length / lap.lapMs;
  const needed = Math.ceil(inFlightEvents / (eventsPerMs * allowedLatenessMs * IN_FLIGHT_LATENESS_SHARE));
  return Math.min(MAX_COPIES, Math.max(1, needed));
}

/** Width of an ISO-8601 event time, e.g. 2026-11-18T11:06:40.000Z. */
const TS_BYTES = 24;
const TS_PLACEHOLDER = '0'.repeat(TS_BYTES);
const HOLE_TS = 0;
const HOLE_SUFFIX = 1;

/**
 * The endless stream of request bodies: `copies` renamed copies of the lap interleaved event by
 * event, laps following each other, each body the next `batch` lines; event time never goes back.
 * Lines are kept as bytes with fixed-width holes (copy numbers are zero-padded, `checkout-07`),
 * so that a body is copied and patched rather than formatted: the load generator has to stay
 * much faster than the fastest server it drives.
 */
export class BodyStream {
  /** Every line of the lap, newline included, one after the other. */
  private readonly text: Buffer;
  private readonly lineStart: Int32Array;
  private readonly holeStart: Int32Array;
  private readonly holeAt: Int32Array;
  private readonly holeKind: Uint8Array;
  private readonly longestLine: number;
  private readonly copyDigits: Uint8Array;
  private readonly digitsWidth: number;
  private readonly copies: number;
  private readonly tsBytes = new Uint8Array(TS_BYTES);
  private lap = 0;
  private index = 0;
  private copy = 0;
  /** Event time of the last line handed out. */
  lastTsMs = -Infinity;

  constructor(private readonly traffic: TrafficLap, copies: number, private readonly startMs: number) {
    this.copies = copies;
    this.digitsWidth = String(copies).length;
    this.copyDigits = Buffer.from(Array.from({ length: copies }, (_, k) => String(k + 1).padStart(this.digitsWidth, '0')).join(''), 'latin1');
    const suffixPlaceholder = '0'.repeat(this.digitsWidth);
    const lines: string[] = [];
    const lineStart: number[] = [0];
    const holeStart: number[] = [0];
    const holeAt: number[] = [];
    const holeKind: number[] = [];
    let bytes = 0;
    let longestLine = 0;
    for (const t of traffic.lines) {
      let line = t.parts[0] as string;
      let at = Buffer.byteLength(line);
      t.holes.forEach((hole, h) => {
        const filler = hole === 'ts' ? TS_PLACEHOLDER : `-${suffixPlaceholder}`;
        // The suffix's dash is text; only its digits change from copy to copy.
        holeAt.push(hole === 'ts' ? at : at + 1);
        holeKind.push(hole === 'ts' ? HOLE_TS : HOLE_SUFFIX);
        const after = t.parts[h + 1] as string;
        line += filler + after;
        at += filler.length + Buffer.byteLength(after);
      });
      line += '\n';
      lines.push(line);
      bytes += at + 1;
      longestLine = Math.max(longestLine, at + 1);
      lineStart.push(bytes);
      holeStart.push(holeAt.length);
    }
    this.text = Buffer.from(lines.join(''));
    if (this.text.length !== bytes) throw new Error('line templates: byte offsets do not add up');
    this.lineStart = Int32Array.from(lineStart);
    this.holeStart = Int32Array.from(holeStart);
    this.holeAt = Int32Array.from(holeAt);
    this.holeKind = Uint8Array.from(holeKind);
    this.longestLine = longestLine;
  }

  /** The next `batch` events as NDJSON, newline-terminated. */
  next(batch: number): Buffer {
    const { text, lineStart, holeStart, holeAt, holeKind, copyDigits, digitsWidth, tsBytes } = this;
    const lineCount = this.traffic.lines.length;
    const body = Buffer.allocUnsafe(this.longestLine * batch);
    let o = 0;
    for (let n = 0; n < batch; n++) {
      const i = this.index;
      if (this.copy === 0) {
        // All copies of an event share its time: format it once.
        this.lastTsMs = this.startMs + this.lap * this.traffic.lapMs + (this.traffic.offsetsMs[i] as number);
        const iso = new Date(this.lastTsMs).toISOString();
        if (iso.length !== TS_BYTES) throw new Error(`event time ${iso} does not fit the template`);
        for (let k = 0; k < TS_BYTES; k++) tsBytes[k] = iso.charCodeAt(k);
      }
      const from = lineStart[i] as number;
      const to = lineStart[i + 1] as number;
      text.copy(body, o, from, to);
      const digitsFrom = this.copy * digitsWidth;
      for (let h = holeStart[i] as number, end = holeStart[i + 1] as number; h < end; h++) {
        const at = o + (holeAt[h] as number);
        if (holeKind[h] === HOLE_TS) body.set(tsBytes, at);
        else for (let k = 0; k < digitsWidth; k++) body[at + k] = copyDigits[digitsFrom + k] as number;
      }
      o += to - from;
      if (++this.copy === this.copies) {
        this.copy = 0;
        if (++this.index === lineCount) {
          this.index = 0;
          this.lap++;
        }
      }
    }
    return body.subarray(0, o);
  }
}

/** A comma list of batch sizes, e.g. `100,1000`; anything else is an error naming the usage. */
export function parseBatchList(text: string | undefined, usage: string): number[] {
  if (text === undefined || !/^\d+(,\d+)*$/.test(text)) throw new Error(`--batch needs a comma list of positive integers, e.g. 100,1000\n${usage}`);
  const batches = text.split(',').map(Number);
  if (batches.some((b) => !Number.isSafeInteger(b) || b < 1 || b > MAX_BATCH)) throw new Error(`--batch sizes must be between 1 and ${count(MAX_BATCH)}\n${usage}`);
  return batches;
}

/** What the benchmark was asked to do. */
interface Flags {
  readonly batches: readonly number[];
  readonly duration: number;
  readonly connections: number;
}

function parseFlags(argv: readonly string[]): Flags {
  let batches: readonly number[] = DEFAULT_BATCHES;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--batch') batches = parseBatchList(argv[++i], USAGE);
    // Flags and their values move over in pairs, so that a value is never taken for a flag.
    else if (arg.startsWith('--') && arg !== '--help') rest.push(arg, ...(i + 1 < argv.length ? [argv[++i] as string] : []));
    else rest.push(arg);
  }
  const numbers = positiveIntFlags(rest, { duration: 10, connections: 16 }, USAGE);
  return { batches, duration: numbers.duration, connections: numbers.connections };
}

// ---- the load generator (child process)

/** What the child is to send where. */
interface LoadPlan {
  readonly url: string;
  readonly batch: number;
  readonly copies: number;
  readonly durationS: number;
  readonly connections: number;
}

/** What the child measured over the measured part: the answers to event posts only, the warm-up left out. */
interface LoadResult {
  readonly durationS: number;
  /** Event posts answered 202: every event of the body taken. */
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly cpuMs: number;
}

/** Messages from the child: the measured part begins, and what it measured. */
type LoadMessage = { readonly kind: 'measuring' } | { readonly kind: 'done'; readonly result: LoadResult };

/** The value at quantile `q` of ascending `sorted` (nearest rank), 0 when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * One autocannon run of warm-up and measured part together, so that the measured part starts on
 * connections that are already open. A connection's first request is a health check: it is
 * written as soon as the client is created, before the server has accepted the connection, and a
 * server busy with the other connections accepts it late; event times built that early would
 * arrive stale and be dropped as late.
 */
function generateLoad(plan: LoadPlan): Promise<void> {
  const traffic = trafficLap(scenarioEvents());
  const stream = new BodyStream(traffic, plan.copies, traffic.startMs);
  const latenciesMs: number[] = [];
  let measuring = false;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let cpu = process.cpuUsage();
  let startedMs = 0;
  return new Promise((resolveLoad, reject) => {
    const instance = autocannon(
      {
        url: `${plan.url}/v1/events`,
        connections: plan.connections,
        pipelining: 1,
        duration: WARMUP_S + plan.durationS,
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        setupClient: (client) => client.setRequest({ method: 'GET', path: '/healthz' }),
        // Built when the request is about to be written, so that event time follows the order of sending.
        requests: [{ setupRequest: (request) => ({ ...request, body: stream.next(plan.batch) }) }],
      },
      (err: unknown) => {
        const wallMs = performance.now() - startedMs;
        const used = process.cpuUsage(cpu);
        if (err !== null && err !== undefined) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        latenciesMs.sort((a, b) => a - b);
        send({
          kind: 'done',
          result: {
            durationS: wallMs / 1000, ok, non2xx, errors, timeouts,
            latencyP50Ms: quantile(latenciesMs, 0.5), latencyP99Ms: quantile(latenciesMs, 0.99),
            cpuMs: (used.user + used.system) / 1000,
          },
        });
        resolveLoad();
      },
    );
    // Health checks answer 200 and event posts 202: only the latter are counted.
    instance.on('response', (_client, status: number, _bytes, responseMs: number) => {
      if (!measuring) return;
      if (status === 202) {
        ok++;
        latenciesMs.push(responseMs);
      } else if (status < 200 || status >= 300) non2xx++;
    });
    instance.on('reqError', (err: unknown) => {
      if (!measuring) return;
      errors++;
      if (err instanceof Error && err.message.includes('timed out')) timeouts++;
    });
    setTimeout(() => {
      measuring = true;
      send({ kind: 'measuring' });
      cpu = process.cpuUsage();
      startedMs = performance.now();
    }, WARMUP_S * 1000);
  });
}

function send(message: LoadMessage): void {
  if (process.send === undefined) throw new Error('the load generator runs as a child of the benchmark');
  process.send(message);
}

function scenarioEvents(): readonly TimedEvent[] {
  const entry = catalogEntry(SCENARIO);
  if (entry === undefined) throw new Error(`scenario ${SCENARIO} is not in the catalog`);
  return renderScenario(entry, SEED).events;
}

// ---- the servers (this process)

/** A server under load: where it listens, how many events its handler took, and how to stop it. */
interface Target {
  readonly url: string;
  eventsTaken(): number;
  close(): Promise<void>;
}

/** The floor: the service's framework and body handling up to the handler, which only counts lines. */
async function startFloor(bodyLimitBytes: number): Promise<Target> {
  const app = Fastify({ bodyLimit: bodyLimitBytes, logger: false, return503OnClosing: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
    done(null, body);
  });
  let taken = 0;
  // As the service has it: each load connection opens with a health check.
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.post('/v1/events', async (req, reply) => {
    const accepted = newlines(typeof req.body === 'string' ? req.body : '');
    taken += accepted;
    return reply.code(202).send({ accepted });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the floor server has no port');
  return { url: `http://127.0.0.1:${address.port}`, eventsTaken: () => taken, close: () => app.close() };
}

function newlines(text: string): number {
  let n = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) n++;
  return n;
}

/** One measured run against one server. */
interface Run {
  readonly load: LoadResult;
  readonly batch: number;
  /** This process's CPU time during the measured part: the server's, as the load is generated elsewhere. */
  readonly serverCpuMs: number;
  readonly serverWallMs: number;
  readonly serverLoopShare: number;
  /** Events the server's handler took during the measured part. */
  readonly serverEvents: number;
}

/** Runs the load generator against `target` and measures this process while it runs. */
function drive(target: Pick<Target, 'eventsTaken'>, plan: LoadPlan): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(plan)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let start: { cpu: NodeJS.CpuUsage; wall: number; loop: ReturnType<typeof performance.eventLoopUtilization>; events: number } | undefined;
    let run: Run | undefined;
    child.on('message', (raw: unknown) => {
      const message = raw as LoadMessage;
      if (message.kind === 'measuring') {
        start = { cpu: process.cpuUsage(), wall: performance.now(), loop: performance.eventLoopUtilization(), events: target.eventsTaken() };
      } else if (start !== undefined) {
        const cpu = process.cpuUsage(start.cpu);
        run = {
          load: message.result,
          batch: plan.batch,
          serverCpuMs: (cpu.user + cpu.system) / 1000,
          serverWallMs: performance.now() - start.wall,
          serverLoopShare: performance.eventLoopUtilization(start.loop).utilization,
          serverEvents: target.eventsTaken() - start.events,
        };
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else if (run === undefined) reject(new Error('load generator reported no measurement'));
      else resolveRun(run);
    });
  });
}

function eventsPerS(r: Run): number {
  return (r.load.ok * r.batch) / r.load.durationS;
}

function serviceConfig(bodyLimitBytes: number): VigilConfig {
  const config = withEnvironment(DEFAULT_CONFIG, { VIGIL_HOST: '127.0.0.1', VIGIL_PORT: '0' });
  return { ...config, server: { ...config.server, bodyLimitBytes } };
}

// ---- the report

function runLine(r: Run): string {
  const l = r.load;
  return `${count(eventsPerS(r))} events/s, ${count(l.ok / l.durationS)} req/s; latency p50 ${l.latencyP50Ms.toFixed(1)} ms, p99 ${l.latencyP99Ms.toFixed(1)} ms; ` +
    `${count(l.errors)} errors (${count(l.timeouts)} timeouts), ${count(l.non2xx)} non-2xx`;
}

function busyLine(r: Run): string {
  return `server process ${(r.serverCpuMs / r.serverWallMs).toFixed(2)} cores, event loop ${(100 * r.serverLoopShare).toFixed(0)}% busy; ` +
    `load generator ${(r.load.cpuMs / (r.load.durationS * 1000)).toFixed(2)} cores`;
}

function share(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(2)}%`;
}

/** What the service's engine counted over the whole run, warm-up included, and the honesty checks on it. */
function serviceRows(run: Run, stats: EngineStats, busAccepted: number): Row[] {
  const decisions = Object.entries(stats.decisions).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([t, n]) => `${t} ${count(n)}`).join(', ');
  const rows: Row[] = [
    ['service saw', `accepted ${count(stats.accepted)} (bus ${count(busAccepted)}), windowed ${count(stats.windowed)}, late ${count(stats.late)} (${share(stats.late, stats.accepted)}), ` +
      `deploys ${count(stats.deploys)}, unknown version ${count(stats.unknownVersion)}; warm-up included`],
    ['decisions', decisions || 'none'],
    ['cross-check', `measured part: ${count(run.load.ok * run.batch)} events answered 202, ${count(run.serverEvents)} taken by the service ` +
      `(requests in flight at the edges of the measured part make the difference)`],
  ];
  if (stats.late > LATE_WARNING_SHARE * stats.accepted) {
    rows.push(['WARNING', `${share(stats.late, stats.accepted)} of accepted events were late and dropped cheaply: this run measured LESS work than its events/s claims`]);
  }
  return rows;
}

function saturationNote(name: string, r: Run): Row | undefined {
  if (r.serverLoopShare >= SATURATED_LOOP_SHARE) return undefined;
  return ['NOTE', `the ${name}'s event loop was only ${(100 * r.serverLoopShare).toFixed(0)}% busy: the load generator, not the ${name}, set this figure` +
    (name === 'floor' ? ', so the floor is understated and the ratio overstated' : '')];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === CHILD_FLAG) {
    await generateLoad(JSON.parse(argv[1] ?? '') as LoadPlan);
    return;
  }
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const machine = machineInfo();
  const traffic = trafficLap(scenarioEvents());
  const allowedLatenessMs = DEFAULT_CONFIG.window.allowedLatenessMs;
  const maxBatch = Math.max(...flags.batches);
  const copies = copiesFor(traffic, flags.connections * maxBatch, allowedLatenessMs);
  const eventsPerEventS = (traffic.lines.length * copies * 1000) / traffic.lapMs;
  const bodyBytes = new Map(flags.batches.map((b) => [b, new BodyStream(traffic, copies, traffic.startMs).next(b).length]));
  const bodyLimitBytes = Math.max(DEFAULT_CONFIG.server.bodyLimitBytes, BODY_LIMIT_HEADROOM * (bodyBytes.get(maxBatch) ?? 0));
  // Problems only, and on stderr: stdout is the report.
  const logger = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: false }));

  const tables: string[] = [];
  for (const batch of flags.batches) {
    const plan = (url: string): LoadPlan => ({ url, batch, copies, durationS: flags.duration, connections: flags.connections });
    process.stderr.write(`batch ${batch}: floor`);
    const floor = await startFloor(bodyLimitBytes);
    const floorRun = await drive(floor, plan(floor.url)).finally(() => floor.close());
    process.stderr.write(', service');
    const service = await startService({ config: serviceConfig(bodyLimitBytes), logger, channels: new Map() });
    const serviceRun = await drive({ eventsTaken: () => service.accepted() }, plan(service.url)).finally(() => service.close());
    process.stderr.write('\n');
    const ratio = eventsPerS(serviceRun) / eventsPerS(floorRun);
    const spanS = batch / eventsPerEventS;
    const rows: Row[] = [
      ['body', `${count(batch)} events, ${count(bodyBytes.get(batch) ?? 0)} bytes; ${spanS.toFixed(2)} s of event time per request, ${(spanS * flags.connections).toFixed(1)} s over all connections`],
      ['floor', runLine(floorRun)],
      ['floor CPU', busyLine(floorRun)],
      ['service', runLine(serviceRun)],
      ['service CPU', busyLine(serviceRun)],
      ['service/floor', `${ratio.toFixed(3)}x`],
      ...serviceRows(serviceRun, service.stats(), service.accepted()),
    ];
    for (const note of [saturationNote('floor', floorRun), saturationNote('service', serviceRun)]) if (note !== undefined) rows.push(note);
    tables.push(table(`batch ${batch}`, rows));
  }

  const types = Object.entries(traffic.byType).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${count(n)}`).join(', ');
  const head: Row[] = [
    ['machine', describeMachine(machine)],
    ['method', `per batch size, floor then service, each started fresh in this process; a child process posts NDJSON with autocannon ` +
      `(${flags.connections} connections, one request in flight each, each opening with a health check) for ${WARMUP_S} s of warm-up, then ${flags.duration} s measured ` +
      `on the same connections; events/s = 202 answers x batch / elapsed; CPU of the server (this process) and of the load generator over the measured part`],
    ['floor', `Fastify, application/x-ndjson parsed as a string, body limit ${count(bodyLimitBytes)} bytes, 202 {accepted: newlines in the body}; nothing decoded`],
    ['service', `startService with the default settings (body limit ${count(bodyLimitBytes)} bytes), no notifiers, warn-level logs`],
    ['traffic', `${SCENARIO} seed ${SEED} (${count(traffic.lines.length)} events per ${traffic.lapMs / 60_000} min: ${types}) in ${copies} copies, services renamed apart, interleaved: ` +
      `${count(eventsPerEventS)} events per second of event time, always moving forward (allowed lateness ${allowedLatenessMs / 1000} s)`],
    ['target', 'none fixed: report events/s per batch size and the ratio to the floor measured in the same run'],
  ];
  process.stdout.write(`${table('vigil HTTP ingest throughput', head)}\n${tables.join('\n')}`);
}

// Run only as a program, so that a test can import the stream and the flag parsing.
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`http benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
