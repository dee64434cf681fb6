/**
 * Kafka consumption throughput against a parse-only floor, and consumer lag under a fixed rate,
 * on a real broker (127.0.0.1:9092, or KAFKA_BROKERS; start one with `node scripts/services.mjs up --kafka`).
 *
 *   node dist/bench/kafka.js [--events N] [--rate N] [--seconds N]
 *
 * The events are production-like traffic: catalog scenarios of the simulator, each with its own
 * seed, its services renamed apart (`checkout` of the third scenario is `checkout-3`) and started
 * STAGGER_MS after the previous one (at least MIN_SCENARIOS of them), merged by emission time so
 * that event time only moves forward per service (and so per partition) apart from the scenarios'
 * own late events; the merged stream is cut after N events. Lines the decoder
 * refuses are left out, so that every message produced is one the engines must take.
 *
 * Throughput: the events are produced, keyed by service, to a fresh topic of PARTITIONS partitions
 * before anything is timed. The floor is a bare kafkajs consumer in a fresh group reading the topic
 * from the beginning and doing nothing but JSON.parse of every value; it is timed from run() to the
 * last event seen. Then one Vigil instance (app/service.ts's startService on Kafka, fresh group, its
 * own output topics) reads the same topic, timed from the start to `stats().accepted === N`. Their
 * ratio is the share of the bare consumer's rate the engine leaves standing; the target is 0.7x.
 *
 * Lag: a fresh topic and a running instance; this process produces at `--rate` events/s for
 * `--seconds` seconds and samples the group's committed offsets against the high watermarks every
 * second. Producer and instance share this process's event loop, as a caveat on the figure.
 * Every topic made here is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import pino from 'pino';
import { DEFAULT_CONFIG, type VigilConfig } from '../app/config-file.js';
import type { KafkaPipelineSettings } from '../app/pipeline.js';
import { startService, type RunningService } from '../app/service.js';
import { decodeLine } from '../ingest/decode.js';
import { scenarioCopy } from './mix.js';
import { count, describeMachine, machineInfo, positiveIntFlags, table, type Row } from './harness.js';

const USAGE = 'usage: node dist/bench/kafka.js [--events N] [--rate N] [--seconds N]';
const BROKERS: readonly string[] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const PARTITIONS = 6;
const TARGET_RATIO = 0.7;
/**
 * Scenarios in the order they enter the stream; the list repeats with the next seed when more
 * scenarios are wanted. Many services at once, canaries, regressions, metric-only traffic.
 */
const MIX: readonly string[] = [
  'multi-service',
  'parallel-canaries-one-bad',
  'two-services-two-regressions',
  'error-regression',
  'metrics-clean',
  'canary-promote-clean',
  'tail-latency-regression',
  'fleet-rollout-clean',
];
/** At least this many scenarios run at once, so that the keys spread over every partition. */
const MIN_SCENARIOS = 12;
/** Each scenario starts this long after the previous one: all of them overlap within the events taken. */
const STAGGER_MS = 10_000;
const BASE_EPOCH_MS = Date.UTC(2026, 0, 12, 9, 0, 0);
const PRODUCE_BATCH = 10_000;
const POLL_MS = 50;
/** A pass that sees no progress for this long has stalled: the benchmark fails rather than hang. */
const STALL_MS = 60_000;
/** The rate producer sends what is due this often. */
const PRODUCE_TICK_MS = 100;
const LAG_SAMPLE_MS = 1_000;
/** After the fixed-rate run, how long the instance is given to catch up before the drain is reported as unfinished. */
const DRAIN_LIMIT_MS = 60_000;

/** One message of the events topic. */
interface EventMessage {
  readonly key: string;
  readonly value: string;
}

/** What was produced for the benchmark, and what was left out of it. */
interface EventSet {
  readonly messages: readonly EventMessage[];
  readonly scenarios: readonly string[];
  readonly services: number;
  readonly refused: number;
}

/** One timed read of the topic. */
interface Pass {
  readonly events: number;
  readonly wallMs: number;
  /** From the start to the first event seen: joining the group and the first fetch. */
  readonly firstMs: number;
}

/** At least `events` messages of staggered scenarios merged by emission time, cut to `events`. */
function buildEvents(events: number): EventSet {
  const timed: { emitMs: number; message: EventMessage }[] = [];
  const scenarios: string[] = [];
  const services = new Set<string>();
  let refused = 0;
  for (let index = 0; timed.length < events || index < MIN_SCENARIOS; index++) {
    const copy = scenarioCopy(MIX, index, STAGGER_MS, BASE_EPOCH_MS);
    scenarios.push(copy.id);
    for (const { emitMs, event } of copy.events) {
      const value = JSON.stringify(event);
      // The instance would dead-letter it rather than count it: waiting for it would never end.
      if (!decodeLine(value).ok) {
        refused++;
        continue;
      }
      const key = event.type === 'webhook' ? 'none' : event.service;
      services.add(key);
      timed.push({ emitMs, message: { key, value } });
    }
  }
  // Stable: each scenario keeps its own order on equal emission times.
  timed.sort((a, b) => a.emitMs - b.emitMs);
  return { messages: timed.slice(0, events).map((t) => t.message), scenarios, services: services.size, refused };
}

/** Names of a fresh set of topics and a fresh group, so that runs never see each other's data. */
function freshSettings(): KafkaPipelineSettings {
  const id = randomUUID().slice(0, 8);
  return {
    brokers: BROKERS, clientId: `vigil-bench-${id}`, groupId: `vigil-bench-${id}`, partitions: PARTITIONS,
    topics: { events: `bench-${id}.events`, verdicts: `bench-${id}.verdicts`, incidents: `bench-${id}.incidents`, dlq: `bench-${id}.dlq` },
  };
}

async function createEventsTopic(admin: Admin, topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
}

async function produceAll(producer: Producer, topic: string, messages: readonly EventMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += PRODUCE_BATCH) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + PRODUCE_BATCH) });
  }
}

/** Waits until `done()` holds, polling; fails when `progress()` has not moved for STALL_MS. */
async function until(what: string, done: () => boolean, progress: () => number): Promise<void> {
  let last = progress();
  let lastMovedAt = performance.now();
  while (!done()) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const now = progress();
    if (now !== last) {
      last = now;
      lastMovedAt = performance.now();
    } else if (performance.now() - lastMovedAt > STALL_MS) {
      throw new Error(`${what}: stalled at ${count(now)} for ${STALL_MS / 1000} s`);
    }
  }
}

/** The floor: a bare consumer that JSON.parses every value and resolves its offset, nothing else. */
async function floorPass(kafka: Kafka, topic: string, events: number): Promise<Pass> {
  const consumer = kafka.consumer({ groupId: `vigil-bench-floor-${randomUUID().slice(0, 8)}`, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let objects = 0;
  let firstAt = 0;
  const started = performance.now();
  try {
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (firstAt === 0) firstAt = performance.now();
        for (const message of batch.messages) {
          const value: unknown = JSON.parse(message.value?.toString('utf8') ?? 'null');
          // Looked at, so that no part of the parse can be skipped as unused.
          if (typeof value === 'object' && value !== null) objects++;
          resolveOffset(message.offset);
        }
        seen += batch.messages.length;
        await heartbeat();
      },
    });
    await until('floor', () => seen >= events, () => seen);
    const wallMs = performance.now() - started;
    if (objects !== seen) throw new Error(`floor pass: ${seen - objects} values were not JSON objects`);
    return { events: seen, wallMs, firstMs: firstAt - started };
  } finally {
    await consumer.disconnect();
  }
}

function serviceConfig(): VigilConfig {
  return { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, host: '127.0.0.1', port: 0 } };
}

async function startInstance(settings: KafkaPipelineSettings): Promise<RunningService> {
  return startService({ config: serviceConfig(), logger: pino({ level: 'silent' }), channels: new Map(), kafka: settings });
}

/** One Vigil instance on the topic, timed from its start to every event taken by its engines. */
async function vigilPass(settings: KafkaPipelineSettings, events: number): Promise<Pass & { late: number; decisions: number }> {
  const started = performance.now();
  const service = await startInstance(settings);
  try {
    let firstAt = 0;
    await until('vigil', () => {
      const accepted = service.stats().accepted;
      if (firstAt === 0 && accepted > 0) firstAt = performance.now();
      return accepted >= events;
    }, () => service.stats().accepted);
    const wallMs = performance.now() - started;
    const s = service.stats();
    const decisions = Object.values(s.decisions).reduce((a, b) => a + b, 0);
    return { events: s.accepted, wallMs, firstMs: firstAt - started, late: s.late, decisions };
  } finally {
    await service.close();
  }
}

/** Messages the group has not committed yet, over all partitions (no commit yet counts from the partition's start). */
async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const bounds = await admin.fetchTopicOffsets(topic);
  let lag = 0;
  for (const b of bounds) {
    const c = committed?.partitions.find((p) => p.partition === b.partition)?.offset ?? '-1';
    const from = c === '-1' ? Number(b.low) : Number(c);
    lag += Math.max(0, Number(b.high) - from);
  }
  return lag;
}

/** What the fixed-rate run showed. */
interface LagRun {
  readonly produced: number;
  readonly producedMs: number;
  readonly samples: readonly number[];
  readonly maxLag: number;
  readonly finalLag: number;
  /** From the end of producing to a lag of zero, or undefined when it did not get there within DRAIN_LIMIT_MS. */
  readonly drainMs: number | undefined;
  readonly accepted: number;
}

/** Produces at a fixed rate to a running instance and samples its group's lag every second. */
async function lagRun(
  admin: Admin, producer: Producer, messages: readonly EventMessage[], rate: number, seconds: number, made: KafkaPipelineSettings[],
): Promise<LagRun> {
  const settings = freshSettings();
  made.push(settings);
  const topic = settings.topics.events;
  await createEventsTopic(admin, topic);
  const service = await startInstance(settings);
  try {
    const total = Math.min(messages.length, rate * seconds);
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, LAG_SAMPLE_MS));
        if (sampling) samples.push(await groupLag(admin, settings.groupId, topic));
      }
    })();
    // Sends what is due by the wall clock at every tick, so that a slow send is caught up on
    // rather than stretching the run (the achieved rate is printed beside the asked one).
    const started = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      // In sends of at most PRODUCE_BATCH: a slow tick's backlog in one request can pass the broker's message size limit.
      while (due > sent) {
        const upTo = Math.min(due, sent + PRODUCE_BATCH);
        await producer.send({ topic, acks: -1, messages: messages.slice(sent, upTo) });
        sent = upTo;
      }
      await new Promise((r) => setTimeout(r, PRODUCE_TICK_MS));
    }
    const producedMs = performance.now() - started;
    sampling = false;
    await sampler;
    const finalLag = await groupLag(admin, settings.groupId, topic);
    const drainStarted = performance.now();
    let drainMs: number | undefined;
    for (let lag = finalLag; ; lag = await groupLag(admin, settings.groupId, topic)) {
      if (lag === 0) {
        drainMs = performance.now() - drainStarted;
        break;
      }
      if (performance.now() - drainStarted > DRAIN_LIMIT_MS) break;
      await new Promise((r) => setTimeout(r, POLL_MS * 4));
    }
    return {
      produced: sent, producedMs, samples, maxLag: Math.max(finalLag, ...samples), finalLag, drainMs, accepted: service.stats().accepted,
    };
  } finally {
    await service.close();
  }
}

/**
 * Deletes the topics of every run, once all clients are done with them: a client that still
 * knows a deleted topic fails its next metadata refresh.
 */
async function deleteTopics(admin: Admin, made: readonly KafkaPipelineSettings[]): Promise<void> {
  const mine = new Set(made.flatMap((s) => Object.values(s.topics)));
  const existing = (await admin.listTopics()).filter((t) => mine.has(t));
  // Left behind, they would only cost disk on a test broker: a failed delete does not fail the run.
  if (existing.length > 0) await admin.deleteTopics({ topics: existing }).catch(() => undefined);
}

function rate(p: Pass): number {
  return p.events / (p.wallMs / 1000);
}

/** The rate from the first event seen to the last: what the consumer does once it holds its partitions. */
function steadyRate(p: Pass): number {
  return p.events / ((p.wallMs - p.firstMs) / 1000);
}

function passLine(p: Pass): string {
  return `${count(rate(p))} events/s  (${(p.wallMs / 1000).toFixed(2)} s for ${count(p.events)} events, first event after ${(p.firstMs / 1000).toFixed(2)} s)`;
}

async function main(): Promise<void> {
  let flags: { events: number; rate: number; seconds: number };
  try {
    flags = positiveIntFlags(process.argv.slice(2), { events: 300_000, rate: 20_000, seconds: 15 }, USAGE);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const machine = machineInfo();
  const kafka = new Kafka({ clientId: 'vigil-bench', brokers: [...BROKERS], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await admin.connect();
    await producer.connect();
  } catch (err) {
    throw new Error(`no Kafka broker at ${BROKERS.join(',')}: start one with \`node scripts/services.mjs up --kafka\` (${(err as Error).message})`, { cause: err });
  }
  const made: KafkaPipelineSettings[] = [];
  try {
    const lagEvents = flags.rate * flags.seconds;
    process.stderr.write(`generating ${count(Math.max(flags.events, lagEvents))} events...\n`);
    const set = buildEvents(Math.max(flags.events, lagEvents));
    const measured = set.messages.slice(0, flags.events);
    const bytes = measured.reduce((a, m) => a + m.value.length, 0);

    const settings = freshSettings();
    made.push(settings);
    await createEventsTopic(admin, settings.topics.events);
    process.stderr.write(`producing ${count(measured.length)} events to ${settings.topics.events}...\n`);
    const producedAt = performance.now();
    await produceAll(producer, settings.topics.events, measured);
    const produceMs = performance.now() - producedAt;
    process.stderr.write(`produced in ${(produceMs / 1000).toFixed(1)} s; floor`);
    const floor = await floorPass(kafka, settings.topics.events, measured.length);
    process.stderr.write(', vigil');
    const vigil = await vigilPass(settings, measured.length);
    // Shown now as well: the fixed-rate run that follows can fail on its own.
    process.stderr.write(`\nfloor ${passLine(floor)}\nvigil ${passLine(vigil)}, ${(rate(vigil) / rate(floor)).toFixed(2)}x\n`);

    process.stderr.write(`fixed rate: ${count(flags.rate)} events/s for ${flags.seconds} s...\n`);
    const lag = await lagRun(admin, producer, set.messages, flags.rate, flags.seconds, made);

    const ratio = rate(vigil) / rate(floor);
    const rows: Row[] = [
      ['machine', describeMachine(machine)],
      ['broker', `${BROKERS.join(',')}, topic of ${PARTITIONS} partitions keyed by service, produced before timing`],
      ['events', `${count(measured.length)}, ${(bytes / measured.length).toFixed(0)} bytes per event, ${set.services} keys; ${set.refused} generated lines refused by the decoder and left out`],
      ['scenarios', `${set.scenarios.length}, started ${STAGGER_MS / 1000} s apart, merged by emission time: ${set.scenarios.join(', ')}`],
      ['method', 'one pass each in this process, fresh consumer group each; floor = kafkajs eachBatch with JSON.parse only, timed from run(); vigil = startService on Kafka, timed from start to stats().accepted === N (polled every 50 ms)'],
      ['floor', passLine(floor)],
      ['vigil', `${passLine(vigil)}; ${count(vigil.late)} late, ${count(vigil.decisions)} decisions`],
      ['vigil/floor', `${ratio.toFixed(2)}x (after the first event, which leaves out startup and joining the group: ${count(steadyRate(vigil))} vs ${count(steadyRate(floor))} events/s, ${(steadyRate(vigil) / steadyRate(floor)).toFixed(2)}x)`],
      ['target', `${TARGET_RATIO.toFixed(2)}x of the floor (${count(TARGET_RATIO * rate(floor))} events/s here): ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`],
      ['fixed rate', `${count(flags.rate)} events/s asked for ${flags.seconds} s; ${count(lag.produced)} produced in ${(lag.producedMs / 1000).toFixed(1)} s (${count(lag.produced / (lag.producedMs / 1000))} events/s achieved), producer in this process`],
      ['lag', `max ${count(lag.maxLag)}, final ${count(lag.finalLag)} messages (committed offsets vs high watermarks, sampled every ${LAG_SAMPLE_MS / 1000} s: ${lag.samples.map(count).join(', ')})`],
      ['drain', lag.drainMs === undefined ? `lag not back to 0 within ${DRAIN_LIMIT_MS / 1000} s after producing stopped` : `lag 0 ${(lag.drainMs / 1000).toFixed(1)} s after producing stopped; ${count(lag.accepted)} accepted`],
    ];
    process.stdout.write(table('vigil kafka throughput', rows));
  } finally {
    await producer.disconnect();
    await deleteTopics(admin, made);
    await admin.disconnect();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`kafka benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
