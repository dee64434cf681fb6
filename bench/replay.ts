/**
 * Replay throughput against a parse-only floor, both measured in one process on one file.
 *
 *   node --expose-gc dist/bench/replay.js [--events N] [--rounds N]
 *
 * The file (bench/out/replay-events-N.ndjson, plain NDJSON, built once and reused while
 * its parameters and the simulator are unchanged) is production-like traffic: catalog
 * scenarios of the simulator, each with its own seed, its services renamed apart
 * (`checkout` of the third scenario is `checkout-3`, its instances and release likewise)
 * and started STAGGER_MS after the previous one, merged in emission order so that
 * several services with canaries, baselines, regressions, late and untagged events,
 * metric-only services and webhooks run at once. Every scenario keeps its own order;
 * the merged stream is cut after exactly N events, as a recording that stops there.
 *
 * Two passes alternate for `--rounds` rounds and the median of each is reported:
 * the floor reads the file with the replay's own line reader and JSON.parses every line,
 * nothing else; the replay runs app/replay.ts's replay(), the code behind `vigil replay`,
 * with its decisions serialised into a sink that discards them. Their ratio is the share
 * of the unavoidable parsing cost the engine leaves standing; the target is 0.5x.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { replay, type ReplaySummary } from '../app/replay.js';
import { openLines } from '../ingest/lines.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { scenarioCopy } from './mix.js';
import { count, describeMachine, machineInfo, median, mib, positiveIntFlags, table, type Row } from './harness.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = join(REPO_ROOT, 'bench', 'out');
const SIMULATOR_DIR = join(REPO_ROOT, 'dist', 'simulate');
const USAGE = 'usage: node --expose-gc dist/bench/replay.js [--events N] [--rounds N]';

/** Bumped whenever the way the file is assembled changes, so that an old file is not reused. */
const FILE_FORMAT = 1;
/**
 * Scenarios in the order they enter the file; the list repeats with the next seed when more
 * events are asked for. Chosen for breadth: many services at once, parallel canaries,
 * regressions of every signal, fleet outages, webhooks, metric-only traffic, late and
 * untagged events, a promotion and a fleet-wide rollout.
 */
const MIX: readonly string[] = [
  'multi-service',
  'parallel-canaries-one-bad',
  'two-services-two-regressions',
  'shared-dependency-outage',
  'alert-flood-canary-regression',
  'metrics-clean',
  'late-events-clean',
  'canary-promote-clean',
  'high-traffic-error-x3',
  'fleet-rollout-clean',
  'untagged-clean',
  'canary-rollback',
];
/** Each scenario starts this long after the previous one, so that about ten overlap at any time. */
const STAGGER_MS = 3 * 60_000;
/** Event time of the first scenario's start. */
const BASE_EPOCH_MS = Date.UTC(2026, 0, 12, 9, 0, 0);
/** The replay's own line limit (app/replay.ts), so that both passes split lines alike. */
const MAX_LINE_BYTES = 1 << 20;
const WRITE_BATCH_LINES = 4096;
const TARGET_RATIO = 0.5;

/** What the event file holds and how it was made; a file is reused only when all parameters match. */
interface EventFileMeta {
  readonly format: number;
  readonly events: number;
  readonly mix: readonly string[];
  readonly staggerMs: number;
  readonly baseEpochMs: number;
  /** Digest of the compiled simulator: a changed simulator makes different files. */
  readonly simulator: string;
  readonly bytes: number;
  readonly scenarios: readonly string[];
  readonly byType: Readonly<Record<string, number>>;
  readonly services: number;
  readonly canaryStarts: number;
  readonly spanMs: number;
}

/** One scenario's lines, in its own emission order, with their emission times on the merged clock. */
interface ScenarioLines {
  readonly emitMs: Float64Array;
  readonly lines: readonly string[];
}

/** One timed pass over the file. */
interface Pass {
  readonly events: number;
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** A replay pass, with what the replay reported. */
interface ReplayPass extends Pass {
  readonly summary: ReplaySummary;
  readonly decisionBytes: number;
}

function simulatorDigest(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(SIMULATOR_DIR).filter((n) => n.endsWith('.js')).sort()) {
    hash.update(name).update(readFileSync(join(SIMULATOR_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

function scenarioLines(index: number): { id: string; stream: ScenarioLines } {
  const { id, events } = scenarioCopy(MIX, index, STAGGER_MS, BASE_EPOCH_MS);
  const emitMs = new Float64Array(events.length);
  const lines = new Array<string>(events.length);
  events.forEach((t, i) => {
    emitMs[i] = t.emitMs;
    lines[i] = JSON.stringify(t.event);
  });
  return { id, stream: { emitMs, lines } };
}

/** Builds the file: scenarios merged by emission time, cut after `events` lines; written under a temporary name first. */
function buildEventFile(path: string, events: number, simulator: string): EventFileMeta {
  const streams: ScenarioLines[] = [];
  const scenarios: string[] = [];
  for (let total = 0; total < events; ) {
    const { id, stream } = scenarioLines(streams.length);
    streams.push(stream);
    scenarios.push(id);
    total += stream.lines.length;
  }
  const byType: Record<string, number> = {};
  const services = new Set<string>();
  let canaryStarts = 0;
  let firstTs = Infinity;
  let lastTs = -Infinity;
  const heads = new Int32Array(streams.length);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  try {
    let batch: string[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      const text = `${batch.join('\n')}\n`;
      bytes += writeSync(fd, text);
      batch = [];
    };
    for (let written = 0; written < events; written++) {
      let best = -1;
      let bestMs = Infinity;
      for (let s = 0; s < streams.length; s++) {
        const at = (streams[s] as ScenarioLines).emitMs[heads[s] as number];
        // Strictly less: on a tie the earlier scenario goes first, so the file is deterministic.
        if (at !== undefined && at < bestMs) {
          bestMs = at;
          best = s;
        }
      }
      const line = (streams[best] as ScenarioLines).lines[heads[best] as number] as string;
      heads[best] = (heads[best] as number) + 1;
      // The few fields counted are read back from the line: the file is the record of what it holds.
      const head = JSON.parse(line) as { type: string; ts: string; service?: string; role?: string; action?: string };
      byType[head.type] = (byType[head.type] ?? 0) + 1;
      if (head.service !== undefined) services.add(head.service);
      if (head.type === 'deploy' && head.role === 'canary' && head.action === 'start') canaryStarts++;
      const ts = Date.parse(head.ts);
      if (ts < firstTs) firstTs = ts;
      if (ts > lastTs) lastTs = ts;
      batch.push(line);
      if (batch.length >= WRITE_BATCH_LINES) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return {
    format: FILE_FORMAT, events, mix: MIX, staggerMs: STAGGER_MS, baseEpochMs: BASE_EPOCH_MS, simulator, bytes, scenarios, byType,
    services: services.size, canaryStarts, spanMs: lastTs - firstTs,
  };
}

/** The event file for `events`, reused when one with the same parameters is present. */
function eventFile(events: number): { path: string; meta: EventFileMeta; generatedMs: number | undefined } {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, `replay-events-${events}.ndjson`);
  const metaPath = `${path}.meta.json`;
  const simulator = simulatorDigest();
  if (existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as EventFileMeta;
      const same = meta.format === FILE_FORMAT && meta.events === events && meta.simulator === simulator && meta.staggerMs === STAGGER_MS &&
        meta.baseEpochMs === BASE_EPOCH_MS && JSON.stringify(meta.mix) === JSON.stringify(MIX) && statSync(path).size === meta.bytes;
      if (same) return { path, meta, generatedMs: undefined };
    } catch {
      // An unreadable description is no description: build the file again.
    }
  }
  rmSync(metaPath, { force: true });
  const started = performance.now();
  const meta = buildEventFile(path, events, simulator);
  const generatedMs = performance.now() - started;
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, meta, generatedMs };
}

/** Collects the previous pass's garbage outside the timed region, when the runtime allows it. */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** The floor: the replay's line reader and JSON.parse of every line, nothing else. */
async function floorPass(path: string): Promise<Pass> {
  settle();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let events = 0;
  let objects = 0;
  for await (const batch of openLines(path, { maxLineBytes: MAX_LINE_BYTES })) {
    const { lines } = batch;
    for (let i = 0; i < lines.length; i++) {
      const value: unknown = JSON.parse(lines[i] as string);
      // Looked at, so that no part of the parse can be skipped as unused.
      if (typeof value === 'object' && value !== null) objects++;
    }
    events += lines.length + batch.overlong.length;
  }
  const wallMs = performance.now() - started;
  if (objects !== events) throw new Error(`floor pass: ${events - objects} lines were not JSON objects`);
  return { events, wallMs, cpuMs: cpuMsSince(cpu) };
}

/** The replay as `vigil replay FILE` runs it, its decisions serialised and then dropped. */
async function replayPass(path: string): Promise<ReplayPass> {
  settle();
  let decisionBytes = 0;
  const discard = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      decisionBytes += chunk.length;
      done();
    },
  });
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const summary = await replay({
    input: path,
    config: DEFAULT_RULES,
    out: discard,
    outName: 'discarded output',
    stderr: silent,
    progress: false,
    quiet: true,
    now: () => performance.now(),
  });
  const wallMs = performance.now() - started;
  return { events: summary.eventsRead, wallMs, cpuMs: cpuMsSince(cpu), summary, decisionBytes };
}

function rate(p: Pass): number {
  return p.events / (p.wallMs / 1000);
}

/** The pass whose rate is the median, so that its wall and CPU time are shown together. */
function medianPass<P extends Pass>(passes: readonly P[]): P {
  const m = median(passes.map(rate));
  return passes.reduce((a, b) => (Math.abs(rate(b) - m) < Math.abs(rate(a) - m) ? b : a));
}

function passLine(median: number, p: Pass, all: readonly Pass[]): string {
  return `${count(median)} events/s  (median pass ${(p.wallMs / 1000).toFixed(2)} s wall, ${(p.cpuMs / 1000).toFixed(2)} s CPU; rounds ${all.map((x) => count(rate(x))).join(', ')})`;
}

function describeContents(meta: EventFileMeta): string {
  const types = Object.entries(meta.byType).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${count(n)}`).join(', ');
  return `${types}; ${meta.services} services, ${meta.canaryStarts} canary deploys, ${(meta.spanMs / 60_000).toFixed(0)} min of event time`;
}

async function main(): Promise<void> {
  let flags: { events: number; rounds: number };
  try {
    flags = positiveIntFlags(process.argv.slice(2), { events: 1_000_000, rounds: 3 }, USAGE);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const machine = machineInfo();
  process.stderr.write(`preparing ${count(flags.events)} events...\n`);
  const { path, meta, generatedMs } = eventFile(flags.events);
  // An untimed read first, so that neither pass pays for bringing the file into the page cache.
  await floorPass(path);

  const floors: Pass[] = [];
  const replays: ReplayPass[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    process.stderr.write(`round ${round}/${flags.rounds}: floor`);
    floors.push(await floorPass(path));
    process.stderr.write(', replay');
    replays.push(await replayPass(path));
    process.stderr.write('\n');
  }
  const floorRate = median(floors.map(rate));
  const replayRate = median(replays.map(rate));
  const ratio = replayRate / floorRate;
  const r = medianPass(replays).summary;
  const decisions = Object.entries(r.decisionsByType).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([t, n]) => `${t} ${count(n)}`).join(', ');
  const gcNote = (globalThis as { gc?: unknown }).gc === undefined ? ' (no --expose-gc: collections may fall inside timed passes)' : '';
  const rows: Row[] = [
    ['machine', describeMachine(machine)],
    ['file', `${relative(process.cwd(), path) || path} (${generatedMs === undefined ? 'reused' : `generated in ${(generatedMs / 1000).toFixed(1)} s`})`],
    ['file size', `${mib(meta.bytes)}, ${(meta.bytes / meta.events).toFixed(0)} bytes per event`],
    ['events', `${count(meta.events)}: ${describeContents(meta)}`],
    ['scenarios', `${meta.scenarios.length}, started ${meta.staggerMs / 60_000} min apart, merged by emission time, cut after ${count(meta.events)} events: ${meta.scenarios.join(', ')}`],
    ['method', `${flags.rounds} rounds of floor then replay, one process, median rate shown${gcNote}`],
    ['floor', passLine(floorRate, medianPass(floors), floors)],
    ['replay', passLine(replayRate, medianPass(replays), replays)],
    ['replay/floor', `${ratio.toFixed(2)}x`],
    ['target', `${TARGET_RATIO.toFixed(2)}x of the floor (${count(TARGET_RATIO * floorRate)} events/s here): ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`],
    ['replay saw', `${count(r.eventsRead)} read, ${count(r.accepted)} accepted, ${count(r.rejected)} rejected, ${count(r.late)} late, ${count(r.unknownVersion)} of unknown version`],
    ['decisions', `${count(r.decisions)} (${decisions || 'none'}), ${count(medianPass(replays).decisionBytes)} bytes of NDJSON, discarded`],
  ];
  process.stdout.write(table('vigil replay throughput', rows));
}

main().catch((e: unknown) => {
  process.stderr.write(`replay benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
