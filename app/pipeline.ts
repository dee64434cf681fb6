/**
 * The service's pipeline from accepted events to decisions, in one of two shapes:
 * embedded (one engine, fed in process) and scaled out on Kafka (ingest publishes to the
 * events topic; a consumer group feeds one engine per partition held; decisions also go
 * to the output topics before offsets are committed). Either way, event time drives the
 * engines, and the wall clock moves it on only where the stream has gone quiet.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Decision } from '../rules/decisions.js';
import type { VigilEvent } from '../rules/events.js';
import { type Engine, type EnginePorts, type EngineStats, type ReleaseSeries, createEngine } from '../rules/engine.js';
import type { RulesConfig } from '../rules/config.js';
import { type EventBus, MemoryBus } from '../ingest/bus.js';
import { randomUUID } from 'node:crypto';
import { type CheckpointStore, type KafkaTopics, KafkaBus, KafkaDecisionPublisher, KafkaDecisionView, KafkaEventSource } from '../ingest/kafka.js';
import { type NotificationLog, decisionId } from '../notifiers/delivery.js';

/** What the service needs of its pipeline. */
export interface Pipeline {
  readonly mode: 'embedded' | 'kafka';
  /** Where ingest hands accepted events. */
  readonly bus: EventBus;
  stats(): EngineStats;
  live(): ReturnType<Engine['live']>;
  series(service: string, version: string, route?: string): ReleaseSeries | undefined;
  /** Consumer lag per partition held (empty when embedded). */
  lag(): ReadonlyMap<number, number>;
  /** Decisions made and held because they could not be handed on yet (always 0 embedded). */
  held(): number;
  /** The quiet-stream clock: moves event time on where no event came for `quietAfterMs`. */
  tick(wallMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Tracks, per stream (the whole, or a partition), the newest event time and when it was seen. */
class QuietClock {
  private readonly newest = new Map<number, { ts: number; atWall: number; lastWall: number }>();

  constructor(private readonly quietAfterMs: number) {}

  note(stream: number, events: readonly VigilEvent[], wallMs: number): void {
    let n = this.newest.get(stream);
    if (!n) this.newest.set(stream, (n = { ts: -Infinity, atWall: wallMs, lastWall: wallMs }));
    n.lastWall = wallMs;
    for (const e of events) {
      if (e.ts > n.ts) {
        n.ts = e.ts;
        n.atWall = wallMs;
      }
    }
  }

  /** The event time a quiet stream has reached by now, or undefined while it is not quiet. */
  estimate(stream: number, wallMs: number): number | undefined {
    const n = this.newest.get(stream);
    if (!n || n.ts === -Infinity || wallMs - n.lastWall < this.quietAfterMs) return undefined;
    return n.ts + (wallMs - n.atWall);
  }
}

/** What both pipelines hand their decisions to. */
export type DecisionHandler = (decisions: readonly Decision[]) => void;

/**
 * Where the decisions of a Kafka pipeline go: the ones this instance made (to notify, and
 * its suppressions to remember), and what every instance published on the output topics
 * (to remember, for an API that answers for all of them).
 */
export interface KafkaDecisionHandlers {
  readonly made: DecisionHandler;
  readonly published: DecisionHandler;
}

/** One engine in this process. */
export function embeddedPipeline(config: RulesConfig, quietAfterMs: number, now: () => number, handle: DecisionHandler, ports?: EnginePorts): Pipeline {
  const engine = createEngine(config, (d) => handle([d]), undefined, ports);
  const clock = new QuietClock(quietAfterMs);
  const bus = new MemoryBus((e) => engine.push(e));
  return {
    mode: 'embedded',
    bus: {
      publish: async (events) => {
        await bus.publish(events);
        clock.note(0, events, now());
      },
    },
    stats: () => engine.stats(),
    live: () => engine.live(),
    series: (service, version, route) => engine.series(service, version, route),
    lag: () => new Map(),
    held: () => 0,
    tick: (wallMs) => {
      const t = clock.estimate(0, wallMs);
      if (t !== undefined) engine.advanceTo(t);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

/** Settings of the Kafka pipeline. */
export interface KafkaPipelineSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topics: KafkaTopics;
  /** Partitions of the events topic when Vigil creates it. */
  readonly partitions: number;
  /** How long the group waits for a silent member before moving its partitions. */
  readonly sessionTimeoutMs?: number;
}

/** Largest message the events and dead-letter topics take (a poison message must fit the dead-letter topic). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** A consumer of the events topic in a group, one engine per partition held. */
export async function kafkaPipeline(
  config: RulesConfig, settings: KafkaPipelineSettings, quietAfterMs: number, now: () => number, handle: KafkaDecisionHandlers, logger: Logger,
  log?: NotificationLog, checkpoints?: CheckpointStore, ports?: EnginePorts,
): Promise<Pipeline> {
  const kafka = new Kafka({
    clientId: settings.clientId, brokers: [...settings.brokers], logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, log }) => logger.error({ kafka: namespace, error: log.error ?? log.message }, 'kafka client'),
  });
  await ensureTopics(kafka, settings);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const publisher = new KafkaDecisionPublisher(producer, settings.topics);
  const clock = new QuietClock(quietAfterMs);
  /** Output keys this instance claimed and has not settled yet, and those it published but could not settle. */
  const claimed = new Set<string>(), published = new Set<string>();
  const source = new KafkaEventSource({
    kafka, groupId: settings.groupId, topics: settings.topics, producer, logger, sessionTimeoutMs: settings.sessionTimeoutMs,
    createEngine: (_partition, sink, from) => createEngine(config, sink, from, ports),
    checkpoints,
    onDecisions: async (decisions) => {
      // A decision made again (a batch repeated after a crash) goes to the output topics once:
      // the shared log says which were published already. A failure part way (Redis down)
      // makes the source hold the decisions and try again: what this instance claimed or
      // published already is remembered here, so the retry neither loses nor repeats it.
      const fresh: Decision[] = [];
      for (const d of decisions) {
        const key = `outputs|${decisionId(d)}`;
        if (!log) fresh.push(d);
        else if (published.has(key)) continue;
        else if (claimed.has(key) || (await log.claim(key))) {
          claimed.add(key);
          fresh.push(d);
        }
      }
      try {
        await publisher.publish(fresh);
      } catch (err) {
        if (log) {
          for (const d of fresh) {
            const key = `outputs|${decisionId(d)}`;
            await log.settle(key, 'failed').then(() => claimed.delete(key), () => undefined);
          }
        }
        throw err;
      }
      if (log) {
        for (const d of fresh) published.add(`outputs|${decisionId(d)}`);
        for (const key of [...published]) {
          await log.settle(key, 'delivered');
          published.delete(key);
          claimed.delete(key);
        }
      }
      handle.made(decisions);
    },
    onEvents: (partition, events) => clock.note(partition, events, now()),
  });
  const view = new KafkaDecisionView(kafka, settings.topics, `${settings.groupId}-${randomUUID()}`, handle.published, logger);
  // Two groups to join: at once, since neither needs the other.
  await Promise.all([view.start(), source.start()]);
  const engines = (): Engine[] => [...source.enginesHeld().values()];
  return {
    mode: 'kafka',
    bus: new KafkaBus(producer, settings.topics.events),
    stats: () => sumStats(engines().map((e) => e.stats())),
    live: () => engines().map((e) => e.live()).reduce((a, b) => ({ services: a.services + b.services, series: a.series + b.series, judgments: a.judgments + b.judgments }), { services: 0, series: 0, judgments: 0 }),
    series: (service, version, route) => {
      for (const e of engines()) {
        const s = e.series(service, version, route);
        if (s) return s;
      }
      return undefined;
    },
    lag: () => source.lag(),
    held: () => source.held(),
    tick: (wallMs) => source.advance((p) => clock.estimate(p, wallMs)),
    close: async () => {
      await source.stop();
      await view.stop();
      await producer.disconnect();
    },
  };
}

/** Creates the topics that are missing (the events topic with the configured partitions). */
async function ensureTopics(kafka: Kafka, settings: KafkaPipelineSettings): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const big = [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }];
    const wanted = [
      { topic: settings.topics.events, numPartitions: settings.partitions, configEntries: big },
      { topic: settings.topics.dlq, numPartitions: 1, configEntries: big },
      { topic: settings.topics.verdicts, numPartitions: settings.partitions },
      { topic: settings.topics.incidents, numPartitions: settings.partitions },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

function sumStats(all: readonly EngineStats[]): EngineStats {
  const decisions: Record<string, number> = {};
  let accepted = 0, late = 0, windowed = 0, deploys = 0, unknownVersion = 0, overflowSeries = 0, webhooks = 0, tooFarAhead = 0;
  for (const s of all) {
    accepted += s.accepted; late += s.late; windowed += s.windowed; deploys += s.deploys;
    unknownVersion += s.unknownVersion; overflowSeries += s.overflowSeries; webhooks += s.webhooks; tooFarAhead += s.tooFarAhead;
    for (const [k, v] of Object.entries(s.decisions)) decisions[k] = (decisions[k] ?? 0) + v;
  }
  return { accepted, late, windowed, deploys, unknownVersion, overflowSeries, webhooks, tooFarAhead, decisions };
}
