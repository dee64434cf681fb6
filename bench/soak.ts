/**
 * Soak: a fixed event rate for many minutes through a real Kafka broker into `vigil run` (a
 * child process on topics and a group of its own), with a webhook flood over HTTP at the same
 * time; RSS of the instance and its group's consumer lag sampled throughout.
 *
 *   node dist/bench/soak.js [--minutes N] [--rate N] [--webhook-rate N] [--warmup-seconds N] [--sample-seconds N]
 *
 * The events are the simulator's catalog scenarios (bench/mix.ts, the mix of bench/kafka.ts),
 * several copies at once with services renamed apart, merged by emission time and produced at
 * `--rate` events/s keyed by service; event i carries the time start + i / rate, so event time
 * runs with the wall clock (webhooks take the wall clock as their time) and the scenarios run
 * compressed by the ratio of `--rate` to their own rate. Their own webhook events are left
 * out: the flood is the webhooks. The flood posts Generic alerts of a service of its own
 * (`soak-flood`, five alert names) at `--webhook-rate` requests/s; a 429 is sent again after
 * its Retry-After, so every alert is taken once.
 *
 * Checked at the end, once the lag is back to 0: events judged (`vigil_events_accepted_total`)
 * against the events produced plus the webhooks answered 202; the pages on the incidents topic
 * against one engine in this process over the same produced stream (the expected count), each
 * incident paged once; every version's last verdict against the same. RSS after the warm-up
 * against the end: flat means a growth under GROWTH_BOUND of the warm-up figure.
 * The instance runs without Redis (embedded state, one instance). Every topic made is deleted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Decision } from '../rules/decisions.js';
import { createEngine } from '../rules/engine.js';
import { readDecisions as readTopic } from '../simulate/kafka.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { decodeLine } from '../ingest/decode.js';
import { scenarioCopy } from './mix.js';
import { count, describeMachine, machineInfo, mib, positiveIntFlags, table, type Row } from './harness.js';

const USAGE = 'usage: node dist/bench/soak.js [--minutes N] [--rate N] [--webhook-rate N] [--warmup-seconds N] [--sample-seconds N]';
const BROKERS: readonly string[] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'app'), 'cli.js');
const PARTITIONS = 6;
const MIX: readonly string[] = [
  'multi-service', 'parallel-canaries-one-bad', 'two-services-two-regressions', 'error-regression',
  'metrics-clean', 'canary-promote-clean', 'tail-latency-regression', 'fleet-rollout-clean',
];
/** Scenario copies start this far apart in their own time, so that several run at once. */
const STAGGER_MS = 120_000;
const BASE_EPOCH_MS = Date.UTC(2026, 0, 12, 9, 0, 0);
const PRODUCE_TICK_MS = 100;
const PRODUCE_BATCH = 5_000;
/** RSS may grow by this share of its warm-up figure over the run and still count as flat. */
const GROWTH_BOUND = 0.25;
/** After producing stops, how long the instance has to bring its lag to 0. */
const DRAIN_LIMIT_MS = 180_000;
const FLOOD_SERVICE = 'soak-flood';
const FLOOD_NAMES = 5;
const FLOOD_TOKEN = `soak-${randomUUID()}`;

/** One message of the events topic, its time filled in when it is produced. */
interface Line {
  readonly key: string;
  /** The event's JSON without `ts`, from its second character on. */
  readonly rest: string;
}

/** The merged scenario stream, at least `events` long, and the scenarios in it. */
function buildStream(events: number): { lines: Line[]; scenarios: string[] } {
  const timed: { emitMs: number; line: Line }[] = [];
  const scenarios: string[] = [];
  for (let index = 0; timed.length < events; index++) {
    const copy = scenarioCopy(MIX, index, STAGGER_MS, BASE_EPOCH_MS);
    scenarios.push(copy.id);
    for (const { emitMs, event } of copy.events) {
      if (event.type === 'webhook') continue;
      const { ts: _ts, ...rest } = event;
      const line = { key: event.service, rest: JSON.stringify(rest).slice(1) };
      // The instance would dead-letter it rather than judge it: the count of events judged would never match.
      if (!decodeLine(valueOf(line, 0, BASE_EPOCH_MS, 1)).ok) continue;
      timed.push({ emitMs, line });
    }
  }
  timed.sort((a, b) => a.emitMs - b.emitMs);
  return { lines: timed.slice(0, events).map((t) => t.line), scenarios };
}

/** The wire value of line `i` of a stream that started at `startMs`. */
function valueOf(line: Line, i: number, startMs: number, rate: number): string {
  return `{"ts":${startMs + Math.floor((i * 1000) / rate)},${line.rest}`;
}

/** Messages the group has not committed yet, over all partitions. */
async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const bounds = await admin.fetchTopicOffsets(topic);
  let lag = 0;
  for (const b of bounds) {
    const c = committed?.partitions.find((p) => p.partition === b.partition)?.offset ?? '-1';
    lag += Math.max(0, Number(b.high) - (c === '-1' ? Number(b.low) : Number(c)));
  }
  return lag;
}

/** Resident set size of a process, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** One sample of a metric from the instance's /metrics (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Every decision on a topic, from its start until nothing new came for `quietMs`. */
function readDecisions(kafka: Kafka, topic: string, quietMs = 5_000): Promise<Decision[]> {
  return readTopic(kafka, topic, quietMs, 5_000);
}

/** The instance as a child process; resolves once it listens (it has joined its group by then). */
async function startInstance(configPath: string): Promise<{ child: ChildProcess; url: string }> {
  const env: Record<string, string | undefined> = { ...process.env, VIGIL_PORT: '0', KAFKA_BROKERS: BROKERS.join(','), SOAK_WEBHOOK_TOKEN: FLOOD_TOKEN };
  delete env['REDIS_URL'];
  const child = spawn(process.execPath, [CLI, 'run', '--config', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  // The console channel prints every notification: read and dropped, so that the pipe never fills.
  child.stdout?.setEncoding('utf8').on('data', (t: string) => { if (out.length < 100_000) out += t; });
  child.stderr?.setEncoding('utf8').on('data', (t: string) => { err = (err + t).slice(-20_000); });
  const deadline = Date.now() + 120_000;
  while (!/listening on http/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`vigil run did not start listening:\n${err.slice(-2_000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url: /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? '' };
}

/** The 95th percentile of some numbers. */
function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))] ?? 0;
}

/** What the flood did. */
interface Flood {
  sent: number;
  accepted: number;
  alerts: number;
  refusedQueueFull: number;
  refusedRateLimit: number;
  other: Map<number, number>;
  failures: number;
}

/** Posts Generic alerts at `rate` requests/s until `stop()`; a 429 is sent again after its Retry-After. */
async function flood(url: string, rate: number, stop: () => boolean, stats: Flood): Promise<void> {
  const started = performance.now();
  for (let i = 0; !stop(); i++) {
    const dueMs = (i * 1000) / rate - (performance.now() - started);
    if (dueMs > 0) await new Promise((r) => setTimeout(r, dueMs));
    const body = JSON.stringify({
      alerts: [{ title: `SoakFlood${i % FLOOD_NAMES}`, status: 'firing', severity: 'warning', service: FLOOD_SERVICE, summary: `flood alert ${i}`, labels: { service: FLOOD_SERVICE, shard: String(i % FLOOD_NAMES) } }],
    });
    for (let attempt = 0; attempt < 50; attempt++) {
      stats.sent++;
      let res: Response;
      try {
        res = await fetch(`${url}/v1/webhooks/generic`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${FLOOD_TOKEN}` }, body });
      } catch {
        stats.failures++;
        break;
      }
      const text = await res.text();
      if (res.status === 202) {
        stats.accepted++;
        stats.alerts += (JSON.parse(text) as { accepted: number }).accepted;
        break;
      }
      if (res.status === 429) {
        if (text.includes('ingest queue full')) stats.refusedQueueFull++;
        else stats.refusedRateLimit++;
        await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
        continue;
      }
      stats.other.set(res.status, (stats.other.get(res.status) ?? 0) + 1);
      break;
    }
  }
}

/** Pages of scenario services, as `service versions`, sorted. */
function scenarioPages(decisions: readonly Decision[]): string[] {
  return decisions.flatMap((d) => (d.type === 'page' && d.service !== FLOOD_SERVICE ? [`${d.service} ${d.versions.join(',')}`] : [])).sort();
}

function lastVerdicts(decisions: readonly Decision[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of decisions) if (d.type === 'verdict') out.set(`${d.service}/${d.version}`, d.verdict);
  return out;
}

/** What is in `a` and not in `b`, as multisets. */
function missing(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

async function main(): Promise<void> {
  let flags: { minutes: number; rate: number; 'webhook-rate': number; 'warmup-seconds': number; 'sample-seconds': number };
  try {
    flags = positiveIntFlags(process.argv.slice(2), { minutes: 10, rate: 2_000, 'webhook-rate': 20, 'warmup-seconds': 60, 'sample-seconds': 5 }, USAGE);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const seconds = flags.minutes * 60;
  const total = flags.rate * seconds;
  const kafka = new Kafka({ clientId: 'vigil-soak', brokers: [...BROKERS], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await admin.connect();
    await producer.connect();
  } catch (err) {
    throw new Error(`no Kafka broker at ${BROKERS.join(',')}: start one with \`node scripts/services.mjs up --kafka\` (${(err as Error).message})`, { cause: err });
  }
  const id = randomUUID().slice(0, 8);
  const topics = { events: `soak-${id}.events`, verdicts: `soak-${id}.verdicts`, incidents: `soak-${id}.incidents`, dlq: `soak-${id}.dlq` };
  const groupId = `vigil-soak-${id}`;
  const dir = await mkdtemp(join(tmpdir(), 'vigil-soak-'));
  const configPath = join(dir, 'vigil.yaml');
  await writeFile(configPath, [
    'server:',
    // Event time follows the produced stream alone: the comparison engine has no quiet-stream clock.
    '  quietAfterMs: 3600000',
    'log:',
    '  level: warn',
    'kafka:',
    `  clientId: vigil-soak-${id}`,
    `  groupId: ${groupId}`,
    `  partitions: ${PARTITIONS}`,
    '  topics:',
    ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
    'webhooks:',
    '  sources:',
    '    generic:',
    '      auth: { kind: bearer, token: "env:SOAK_WEBHOOK_TOKEN" }',
    // The flood measures the queue, not the per-source rate limit.
    '      rateLimit: { requests: 1000000, perMs: 60000 }',
    '',
  ].join('\n'));

  let child: ChildProcess | undefined;
  try {
    process.stderr.write(`generating ${count(total)} events...\n`);
    const { lines, scenarios } = buildStream(total);
    const instance = await startInstance(configPath);
    child = instance.child;
    const pid = child.pid ?? 0;
    process.stderr.write(`vigil run at ${instance.url} (pid ${pid}), topics soak-${id}.*; ${flags.rate} events/s and ${flags['webhook-rate']} webhooks/s for ${flags.minutes} min\n`);

    const startMs = Date.now();
    const startPerf = performance.now();
    let sent = 0;
    let producing = true;
    const floodStats: Flood = { sent: 0, accepted: 0, alerts: 0, refusedQueueFull: 0, refusedRateLimit: 0, other: new Map(), failures: 0 };
    const flooding = flood(instance.url, flags['webhook-rate'], () => !producing, floodStats);
    const samples: { atS: number; rss: number; lag: number; accepted: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, flags['sample-seconds'] * 1000));
        if (!sampling) break;
        const [lag, accepted] = await Promise.all([groupLag(admin, groupId, topics.events), metric(instance.url, 'vigil_events_accepted_total')]);
        const s = { atS: (performance.now() - startPerf) / 1000, rss: rssOf(pid), lag, accepted };
        samples.push(s);
        process.stderr.write(`  ${s.atS.toFixed(0)} s: rss ${mib(s.rss)}, lag ${count(lag)}, judged ${count(accepted)}, produced ${count(sent)}, webhooks ${floodStats.accepted}\n`);
      }
    })();
    // What is due by the wall clock is sent at every tick, so that a slow send is caught up on.
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - startPerf) / 1000) * flags.rate));
      while (due > sent) {
        const upTo = Math.min(due, sent + PRODUCE_BATCH);
        const messages = [];
        for (let i = sent; i < upTo; i++) {
          const line = lines[i] as Line;
          messages.push({ key: line.key, value: valueOf(line, i, startMs, flags.rate) });
        }
        await producer.send({ topic: topics.events, acks: -1, messages });
        sent = upTo;
      }
      await new Promise((r) => setTimeout(r, PRODUCE_TICK_MS));
    }
    const producedS = (performance.now() - startPerf) / 1000;
    producing = false;
    await flooding;
    const drainStarted = performance.now();
    let drainMs: number | undefined;
    while (performance.now() - drainStarted < DRAIN_LIMIT_MS) {
      if ((await groupLag(admin, groupId, topics.events)) === 0) {
        drainMs = performance.now() - drainStarted;
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    sampling = false;
    await sampler;
    const endRss = rssOf(pid);
    const judged = await metric(instance.url, 'vigil_events_accepted_total');
    const refused429 = await metric(instance.url, 'vigil_ingest_refused_total');
    const late = await metric(instance.url, 'vigil_events_late_total');
    const rejected = floodStats.other;

    process.stderr.write('reading the output topics...\n');
    const incidents = await readDecisions(kafka, topics.incidents);
    const verdicts = await readDecisions(kafka, topics.verdicts);
    process.stderr.write('judging the same stream in this process...\n');
    const expected: Decision[] = [];
    const engine = createEngine(DEFAULT_RULES, (d) => expected.push(d));
    for (let i = 0; i < sent; i++) {
      const r = decodeLine(valueOf(lines[i] as Line, i, startMs, flags.rate));
      if (r.ok) engine.push(r.event);
    }
    const want = scenarioPages(expected), got = scenarioPages(incidents);
    const perIncident = new Map<string, number>();
    for (const d of incidents) if (d.type === 'page') perIncident.set(d.incident, (perIncident.get(d.incident) ?? 0) + 1);
    const doubled = [...perIncident.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
    const floodPages = incidents.filter((d) => d.type === 'page' && d.service === FLOOD_SERVICE).length;
    const wantVerdicts = lastVerdicts(expected), gotVerdicts = lastVerdicts(verdicts);
    const verdictsDiffering = [...wantVerdicts].filter(([k, v]) => gotVerdicts.get(k) !== v).length + [...gotVerdicts.keys()].filter((k) => !wantVerdicts.has(k)).length;

    const warm = samples.find((s) => s.atS >= flags['warmup-seconds']) ?? samples[0];
    const warmRss = warm?.rss ?? NaN;
    const growth = endRss - warmRss;
    const lags = samples.map((s) => s.lag);
    const maxRss = Math.max(...samples.map((s) => s.rss), endRss);
    const expectedJudged = sent + floodStats.accepted;
    const lost = missing(want, got), extra = missing(got, want);
    const rows: Row[] = [
      ['machine', `${describeMachine(machineInfo())}; shared with other work while it ran (figures under load)`],
      ['stream', `${count(sent)} events in ${producedS.toFixed(0)} s (${count(sent / producedS)} events/s for ${count(flags.rate)} asked), ${scenarios.length} scenario copies merged (${scenarios.join(', ')}), ${PARTITIONS} partitions keyed by service`],
      ['webhook flood', `${count(floodStats.accepted)} Generic webhooks answered 202 (${count(floodStats.alerts)} alerts) at ${flags['webhook-rate']}/s asked; ${floodStats.refusedQueueFull} answered 429 queue full, ${floodStats.refusedRateLimit} 429 rate limit (sent again); other answers ${JSON.stringify(Object.fromEntries(rejected))}; ${floodStats.failures} connection failures`],
      ['429 (vigil_ingest_refused_total)', `${count(refused429)}`],
      ['RSS', `after the ${flags['warmup-seconds']} s warm-up ${mib(warmRss)} (at ${warm?.atS.toFixed(0) ?? '?'} s), at the end ${mib(endRss)}, max ${mib(maxRss)}; growth ${mib(growth)} (${((growth / warmRss) * 100).toFixed(1)} %): ${growth <= GROWTH_BOUND * warmRss ? 'flat' : 'NOT flat'} (bound ${GROWTH_BOUND * 100} % of the warm-up figure)`],
      ['RSS samples', samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 12)) === 0).map((s) => `${s.atS.toFixed(0)}s ${mib(s.rss)}`).join(', ')],
      ['consumer lag', `max ${count(Math.max(0, ...lags))}, p95 ${count(p95(lags))} messages over ${samples.length} samples every ${flags['sample-seconds']} s; ${drainMs === undefined ? `NOT back to 0 within ${DRAIN_LIMIT_MS / 1000} s` : `0 again ${(drainMs / 1000).toFixed(1)} s after producing stopped`}`],
      ['events judged', `${count(judged)} (vigil_events_accepted_total) of ${count(expectedJudged)} produced + webhooks taken: ${judged === expectedJudged ? 'all, once' : `DIFFERENT by ${judged - expectedJudged}`}; ${count(late)} counted late`],
      ['pages', `${got.length} of scenario services on the incidents topic, expected ${want.length} (one engine in this process over the same stream); lost ${lost.length}, extra ${extra.length}${lost.length + extra.length > 0 ? ` (${[...lost.map((p) => `-${p}`), ...extra.map((p) => `+${p}`)].slice(0, 6).join('; ')})` : ''}; flood incidents paged ${floodPages}`],
      ['decisions doubled', `${doubled} (incidents paged more than once); verdicts differing from the expected: ${verdictsDiffering} of ${wantVerdicts.size}`],
    ];
    process.stdout.write(table(`vigil soak, ${flags.minutes} min`, rows));
    const ok = judged === expectedJudged && lost.length === 0 && doubled === 0 && drainMs !== undefined;
    if (!ok) process.exitCode = 1;
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('close', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    await producer.disconnect();
    const mine = new Set(Object.values(topics));
    const existing = (await admin.listTopics()).filter((t) => mine.has(t));
    if (existing.length > 0) await admin.deleteTopics({ topics: existing }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
