/**
 * Kafka, when Vigil scales out (contract section 4). The events topic is keyed by service,
 * so every event of a service lands in one partition and one consumer of the group owns
 * that service's windows. Each partition this instance holds gets an engine of its own:
 * event time is per partition, so a partition read ahead of another never makes the
 * other's events late.
 *
 * Delivery: a batch's offsets are committed only after the decisions it led to have been
 * handed on (published to the output topics and the local sinks), so a crash repeats a
 * batch rather than losing one; repeated decisions are told once by the notification log.
 * Messages that do not decode go to the dead-letter topic with the reason in a header,
 * and the stream goes on.
 */
import { type Consumer, type EachBatchPayload, type Kafka, type Producer, CompressionTypes } from 'kafkajs';
import { isUtf8 } from 'node:buffer';
import type { Decision } from '../rules/decisions.js';
import type { Engine } from '../rules/engine.js';
import type { EngineCheckpoint } from '../rules/checkpoint.js';
import type { VigilEvent } from '../rules/events.js';
import type { EventBus } from './bus.js';
import { type DecodeResult, cutText, decodeLine } from './decode.js';
import { encodeEvent, eventKey } from './encode.js';

/** Decodes one message of the events topic: its value must be a UTF-8 NDJSON event. */
export function decodeMessage(value: Buffer | null): DecodeResult {
  if (value === null) return { ok: false, reason: 'empty message (no value)' };
  if (!isUtf8(value)) return { ok: false, reason: 'not valid UTF-8' };
  return decodeLine(value.toString('utf8'));
}

/** Topic names (defaults as the contract gives them). */
export interface KafkaTopics {
  readonly events: string;
  readonly verdicts: string;
  readonly incidents: string;
  readonly dlq: string;
}

/** The contract's default topic names. */
export const DEFAULT_TOPICS: KafkaTopics = { events: 'vigil.events', verdicts: 'vigil.verdicts', incidents: 'vigil.incidents', dlq: 'vigil.events.dlq' };

/** Publishes accepted events to the events topic, keyed by service. */
export class KafkaBus implements EventBus {
  constructor(private readonly producer: Producer, private readonly topic: string) {}

  async publish(events: readonly VigilEvent[]): Promise<void> {
    if (events.length === 0) return;
    // acks=-1: a 2xx to the sender means every in-sync replica has the events.
    await this.producer.send({
      topic: this.topic, acks: -1, compression: CompressionTypes.None,
      messages: events.map((e) => ({ key: eventKey(e), value: encodeEvent(e) })),
    });
  }
}

/** Puts decisions on the output topics: verdicts by service/version, incident records by incident. */
export class KafkaDecisionPublisher {
  constructor(private readonly producer: Producer, private readonly topics: KafkaTopics) {}

  async publish(decisions: readonly Decision[]): Promise<void> {
    const verdicts: { key: string; value: string }[] = [];
    const incidents: { key: string; value: string }[] = [];
    for (const d of decisions) {
      if (d.type === 'verdict') verdicts.push({ key: `${d.service}/${d.version}`, value: JSON.stringify(d) });
      else if (d.type === 'page' || d.type === 'update' || d.type === 'resolve') incidents.push({ key: d.incident, value: JSON.stringify(d) });
    }
    const topicMessages = [
      ...(verdicts.length > 0 ? [{ topic: this.topics.verdicts, messages: verdicts }] : []),
      ...(incidents.length > 0 ? [{ topic: this.topics.incidents, messages: incidents }] : []),
    ];
    if (topicMessages.length > 0) await this.producer.sendBatch({ topicMessages, acks: -1 });
  }
}

/** A checkpoint as saved: it reflects every event of its partition before `offset`. */
export interface SavedCheckpoint {
  readonly offset: bigint;
  readonly checkpoint: EngineCheckpoint;
}

/**
 * Where partitions' checkpoints are kept (state/checkpoints.ts): what a rebuilt engine
 * needs beyond the events the topic still retains. `save` keeps the newer of two saves.
 */
export interface CheckpointStore {
  load(topic: string, partition: number): Promise<SavedCheckpoint | undefined>;
  /** False when a checkpoint further along was there already. */
  save(topic: string, partition: number, offset: bigint, checkpoint: EngineCheckpoint): Promise<boolean>;
}

/**
 * Every instance's view of what all of them decided: the output topics read from their
 * start by a consumer of this instance alone (its own group, nothing committed), so that
 * the API of any instance answers for every service (a release tool polling verdicts
 * behind a load balancer reaches any of them). Records that do not parse are skipped
 * with a warning: the view is a reader, not an owner, of the topics.
 */
export class KafkaDecisionView {
  private readonly consumer: Consumer;
  private seen = 0;

  constructor(
    kafka: Kafka, private readonly topics: KafkaTopics, instanceId: string, private readonly onDecisions: (decisions: readonly Decision[]) => void,
    private readonly logger: SourceLogger,
  ) {
    this.consumer = kafka.consumer({ groupId: `vigil-view-${instanceId}`, allowAutoTopicCreation: false });
  }

  /** Decisions taken into the view so far. */
  count(): number {
    return this.seen;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topics.verdicts, this.topics.incidents], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const decisions: Decision[] = [];
        for (const m of batch.messages) {
          try {
            decisions.push(JSON.parse(m.value?.toString('utf8') ?? '') as Decision);
          } catch (err) {
            this.logger.warn({ topic: batch.topic, partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'a decision record that does not parse; left out of the view');
          }
        }
        this.seen += decisions.length;
        this.onDecisions(decisions);
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** Something to log to (a pino logger fits). */
export interface SourceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the source is made of. */
export interface KafkaSourceOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: KafkaTopics;
  /** A new engine for a partition, started from a checkpoint when there is one; its decisions go to the given sink. */
  readonly createEngine: (partition: number, sink: (d: Decision) => void, from?: EngineCheckpoint) => Engine;
  /** Checkpoints of the partitions' engines, for the next owner of a partition (none: rebuilt from retained events alone). */
  readonly checkpoints?: CheckpointStore;
  /** Least wall time between two checkpoints of a partition when nothing durable changed (default 5 s). */
  readonly checkpointEveryMs?: number;
  /** Hands a batch's decisions on; offsets are committed once it resolves. */
  readonly onDecisions: (decisions: readonly Decision[]) => Promise<void>;
  /** Hears of every event taken (for counters and the quiet-stream clock). */
  readonly onEvents?: (partition: number, events: readonly VigilEvent[]) => void;
  /** The producer for dead letters (shared with the rest of the service). */
  readonly producer: Producer;
  readonly logger: SourceLogger;
  /** Start from the earliest offset when the group has none committed (default true). */
  readonly fromBeginning?: boolean;
  /** How long the group waits for a silent member before moving its partitions (default 30 s). */
  readonly sessionTimeoutMs?: number;
}

/**
 * A partition this instance just took over: its engine is rebuilt from the start of what
 * the topic retains, and decisions are handed on only from the first offset the group had
 * not committed (the earlier ones were handed on by the previous owner, from the same
 * events in the same order, so the rebuilt engine makes them again exactly).
 */
interface Takeover {
  /** Set once the partition's start and first new offset are known. */
  rewound: boolean;
  /** Wall time of the last seek to the start (seeks made too early are lost: repeat them). */
  seekedAt: number;
  /** First offset whose decisions are new. */
  liveFrom: bigint;
  /** The previous owner's last checkpoint, which the rebuilt engine starts from. */
  from?: EngineCheckpoint;
  /** Settles once the start and first new offset are known, or the takeover was given up. */
  ready: Promise<void>;
}

/** Largest fetch of one partition and of one request: a batch of several thousand events. */
const FETCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;
const FETCH_BYTES = 24 * 1024 * 1024;
/** Batches of this many partitions are handled at once. */
const PARTITIONS_CONCURRENTLY = 4;

/** Counters of the source. */
export interface KafkaSourceStats {
  messages: number;
  accepted: number;
  deadLettered: number;
  batches: number;
}

/** Consumes the events topic in a consumer group, one engine per partition held. */
export class KafkaEventSource {
  private readonly consumer: Consumer;
  private readonly engines = new Map<number, Engine>();
  /** Decisions made and not yet handed on, in the order they were made. */
  private pending: Decision[] = [];
  /**
   * The last hand-over, which the next one waits for: batches of several partitions run at
   * once, and a batch may commit only when every decision made before its hand-over was
   * handed on, including those another partition's hand-over in flight had taken.
   */
  private handingOn: Promise<boolean> = Promise.resolve(true);
  private readonly counters: KafkaSourceStats = { messages: 0, accepted: 0, deadLettered: 0, batches: 0 };
  /** Messages behind the end of each partition held, as of its last batch. */
  private readonly lagByPartition = new Map<number, number>();
  private readonly takeovers = new Map<number, Takeover>();
  /**
   * Per partition with an engine, the offset of the next message it has not seen: a batch
   * delivered again (after a commit lost to a rebalance) must not feed it twice, and one
   * that starts past it (fetched before a rewind) must not feed it at all.
   */
  private readonly nextOffset = new Map<number, bigint>();
  /** While true, the engine being fed replays what a previous owner already decided. */
  private replaying = false;
  /** Per partition, the last checkpoint saved (its JSON) and when, so that an unchanged one is not written again. */
  private readonly lastCheckpoint = new Map<number, { json: string; atMs: number }>();

  constructor(private readonly options: KafkaSourceOptions) {
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId, allowAutoTopicCreation: false, sessionTimeout, heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      // Fewer, larger fetches: each batch costs a commit round trip however small it is.
      maxBytesPerPartition: FETCH_BYTES_PER_PARTITION, maxBytes: FETCH_BYTES,
    });
    // A revoked partition's windows belong to its next owner now.
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const held = new Set((e.payload.memberAssignment[options.topics.events] ?? []) as number[]);
      for (const p of [...this.engines.keys()]) if (!held.has(p)) { this.engines.delete(p); this.nextOffset.delete(p); }
      for (const p of [...this.lagByPartition.keys()]) if (!held.has(p)) this.lagByPartition.delete(p);
      for (const p of [...this.takeovers.keys()]) if (!held.has(p)) this.takeovers.delete(p);
      const taken = [...held].filter((p) => !this.engines.has(p) && !this.takeovers.has(p));
      options.logger.info({ partitions: [...held].sort((a, b) => a - b), takenOver: taken }, 'joined the consumer group');
      if (taken.length > 0) void this.takeOver(taken);
    });
  }

  /** Joins the group and starts consuming (resolves once running). */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topics.events, fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Each partition has its engine: one partition's commit and hand-over wait while another's batch is decoded.
      partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
      eachBatch: (payload) => this.batch(payload),
    });
  }

  /** Leaves the group (committed offsets stay, and each partition's checkpoint as of them) and disconnects. */
  async stop(): Promise<void> {
    await this.consumer.stop();
    // A checkpoint past decisions still held would tell the next owner they were made.
    if (this.pending.length > 0 && !(await this.flush())) {
      this.options.logger.error({ held: this.pending.length }, 'stopping with decisions held; the next owner makes them again from the committed offset');
      await this.consumer.disconnect();
      return;
    }
    for (const [p, engine] of this.engines) {
      const next = this.nextOffset.get(p);
      if (next !== undefined && !this.takeovers.has(p)) await this.saveCheckpoint(p, engine, next, true);
    }
    await this.consumer.disconnect();
  }

  /** The engine of a partition this instance holds (for queries and the quiet-stream clock). */
  enginesHeld(): ReadonlyMap<number, Engine> {
    return this.engines;
  }

  stats(): Readonly<KafkaSourceStats> {
    return { ...this.counters };
  }

  /** Consumer lag per partition held: messages between what was processed and the partition's end. */
  lag(): ReadonlyMap<number, number> {
    return this.lagByPartition;
  }

  /** Decisions made and not yet handed on (held while what hands them on fails, e.g. Redis is down). */
  held(): number {
    return this.pending.length;
  }

  /** Moves event time on in every partition held (see Engine.advanceTo), handing on what that decides. */
  async advance(eventTimeOf: (partition: number) => number | undefined): Promise<void> {
    for (const [p, engine] of this.engines) {
      const t = eventTimeOf(p);
      if (t !== undefined) engine.advanceTo(t);
    }
    await this.flush();
  }

  /** Rewinds newly held partitions to their start, to rebuild their windows (see Takeover). */
  private takeOver(partitions: readonly number[]): Promise<void> {
    const held = partitions.map((p) => {
      const t: Takeover = { rewound: false, liveFrom: 0n, seekedAt: 0, ready: Promise.resolve() };
      this.takeovers.set(p, t);
      return t;
    });
    // Never rejects: a takeover that fails is given up (logged), and its batches go on from the committed offset.
    const ready = this.rewind(partitions).catch((err: unknown) => {
      this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'closing the connection of a takeover failed');
    });
    for (const t of held) t.ready = ready;
    return ready;
  }

  /** Finds where each partition taken over starts and where its new decisions begin (see Takeover). */
  private async rewind(partitions: readonly number[]): Promise<void> {
    const topic = this.options.topics.events;
    const admin = this.options.kafka.admin();
    try {
      await admin.connect();
      const [committed] = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
      const bounds = await admin.fetchTopicOffsets(topic);
      for (const p of partitions) {
        const t = this.takeovers.get(p);
        if (!t) continue;
        const done = committed?.partitions.find((x) => x.partition === p)?.offset ?? '-1';
        const low = bounds.find((x) => x.partition === p)?.low ?? '0';
        t.liveFrom = BigInt(done === '-1' ? low : done);
        t.from = await this.loadCheckpoint(p);
        this.engines.delete(p);
        this.nextOffset.set(p, BigInt(low));
        // The seek itself is made from the batch handler: one made while the group is still
        // settling can be overridden by the committed offset.
        t.rewound = true;
        this.options.logger.info({ partition: p, from: low, liveFrom: t.liveFrom.toString() }, 'rebuilding a partition taken over');
      }
    } catch (err) {
      this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'taking partitions over failed; they start from the committed offset');
      for (const p of partitions) this.takeovers.delete(p);
    } finally {
      await admin.disconnect();
    }
  }

  private engineFor(partition: number): Engine {
    let engine = this.engines.get(partition);
    if (!engine) {
      engine = this.options.createEngine(partition, (d) => {
        if (!this.replaying) this.pending.push(d);
      }, this.takeovers.get(partition)?.from);
      this.engines.set(partition, engine);
    }
    return engine;
  }

  /** The partition's last checkpoint; none (with a warning) when the store cannot give one. */
  private async loadCheckpoint(partition: number): Promise<EngineCheckpoint | undefined> {
    const store = this.options.checkpoints;
    if (!store) return undefined;
    try {
      const saved = await store.load(this.options.topics.events, partition);
      if (saved) this.options.logger.info({ partition, offset: saved.offset.toString() }, 'starting a rebuilt partition from its checkpoint');
      return saved?.checkpoint;
    } catch (err) {
      this.options.logger.warn({ partition, err: err instanceof Error ? err.message : String(err) }, 'no checkpoint to start from; rebuilding from retained events alone');
      return undefined;
    }
  }

  /**
   * Saves a partition's checkpoint as of `offset`, when it changed and either something
   * durable happened (`now`) or the last one is old. A failure costs only the next owner's
   * knowledge of what the topic no longer retains: it is logged, and the stream goes on.
   */
  private async saveCheckpoint(partition: number, engine: Engine, offset: bigint, now: boolean): Promise<void> {
    const store = this.options.checkpoints;
    if (!store) return;
    const last = this.lastCheckpoint.get(partition);
    const wallMs = Date.now();
    if (!now && last !== undefined && wallMs - last.atMs < (this.options.checkpointEveryMs ?? 5_000)) return;
    const checkpoint = engine.checkpoint();
    const json = JSON.stringify(checkpoint);
    if (last?.json === json) return;
    try {
      await store.save(this.options.topics.events, partition, offset, checkpoint);
      this.lastCheckpoint.set(partition, { json, atMs: wallMs });
    } catch (err) {
      this.options.logger.warn({ partition, err: err instanceof Error ? err.message : String(err) }, 'saving a checkpoint failed; the next one tries again');
    }
  }

  /**
   * Hands on the decisions made so far; true when nothing is left held. A failure (the
   * notification log's Redis down, the output topics unreachable) keeps them, in order, for
   * the next try, and the stream goes on being judged meanwhile: offsets are not committed
   * past them until they are handed on (see `uncommitted`).
   */
  private flush(): Promise<boolean> {
    const next = this.handingOn.then(() => this.handOn(), () => this.handOn());
    this.handingOn = next;
    return next;
  }

  private async handOn(): Promise<boolean> {
    // Every offset seen so far has its decisions in `pending` now: once they are handed on,
    // the commits held back for them are safe, but not those of offsets seen meanwhile.
    const held = this.heldOffsets();
    const decisions = this.pending;
    this.pending = [];
    try {
      if (decisions.length > 0) await this.options.onDecisions(decisions);
    } catch (err) {
      this.pending = [...decisions, ...this.pending];
      const now = Date.now();
      if (now - this.lastHoldWarningMs > 5_000) {
        this.lastHoldWarningMs = now;
        this.options.logger.warn({ held: this.pending.length, err: err instanceof Error ? err.message : String(err) }, 'decisions held: handing them on failed; trying again with the next batch');
      }
      return false;
    }
    if (held.length > 0) {
      for (const o of held) this.uncommitted.delete(o.partition);
      await this.consumer.commitOffsets(held);
    }
    return true;
  }

  private lastHoldWarningMs = 0;
  /** Partitions whose commits wait for held decisions, with the first offset not committed. */
  private readonly uncommitted = new Map<number, bigint>();

  /** The offsets to commit for partitions whose commits were held back while decisions were held. */
  private heldOffsets(): { topic: string; partition: number; offset: string }[] {
    return [...this.uncommitted.keys()].flatMap((partition) => {
      const next = this.nextOffset.get(partition);
      return this.engines.has(partition) && next !== undefined ? [{ topic: this.options.topics.events, partition, offset: next.toString() }] : [];
    });
  }

  private async batch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    let takeover = this.takeovers.get(batch.partition);
    if (takeover && !takeover.rewound) {
      // Waited for rather than skipped: a skipped batch is fetched again, and for a partition
      // whose start is where the group reads from anyway (a new group), no seek is needed.
      await takeover.ready;
      takeover = this.takeovers.get(batch.partition);
    }
    // Until the rewind is in place, a batch from the committed offset would feed a fresh
    // engine the wrong history: skip it (nothing resolved, so nothing is lost; the rewound
    // fetch brings it again in its turn).
    const first = batch.messages[0]?.offset;
    const expected = this.nextOffset.get(batch.partition);
    if ((takeover && !takeover.rewound) || (first !== undefined && expected !== undefined && BigInt(first) > expected)) {
      if (takeover?.rewound && expected !== undefined && Date.now() - takeover.seekedAt > 1_000) {
        takeover.seekedAt = Date.now();
        this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: expected.toString() });
      }
      await heartbeat();
      return;
    }
    const engine = this.engineFor(batch.partition);
    const taken: VigilEvent[] = [];
    const dead: { key: Buffer | null; value: Buffer | null; reason: string; offset: string }[] = [];
    // Only what was looked at is resolved: a batch cut short (shutdown, rebalance) resumes there.
    // Both can change only while the handler waits, never within the loop below, which does not.
    const messages = isRunning() && !isStale() ? batch.messages : [];
    // Offsets rise within a batch: only one that starts before `expected` holds messages seen already.
    const seenBelow = expected !== undefined && first !== undefined && BigInt(first) < expected ? expected : undefined;
    let lastSeen: string | undefined;
    for (const message of messages) {
      lastSeen = message.offset;
      if (seenBelow !== undefined && BigInt(message.offset) < seenBelow) continue;
      this.counters.messages++;
      const result = decodeMessage(message.value);
      if (!result.ok) {
        // A previous owner dead-lettered what a rebuild reads again.
        if (takeover !== undefined && BigInt(message.offset) < takeover.liveFrom) continue;
        dead.push({ key: message.key, value: message.value, reason: result.reason, offset: message.offset });
      } else {
        const replay = takeover !== undefined && BigInt(message.offset) < takeover.liveFrom;
        this.replaying = replay;
        const admission = engine.push(result.event);
        this.replaying = false;
        if (admission.kind === 'taken') taken.push(result.event);
        else if (!replay) dead.push({ key: message.key, value: message.value, reason: admission.reason, offset: message.offset });
      }
    }
    if (dead.length > 0) {
      await this.options.producer.send({
        topic: this.options.topics.dlq, acks: -1,
        messages: dead.map((d) => ({
          key: d.key, value: d.value,
          headers: {
            'vigil-reason': cutText(d.reason, 500),
            'vigil-source': `${batch.topic}/${batch.partition}@${d.offset}`,
          },
        })),
      });
      this.counters.deadLettered += dead.length;
      this.options.logger.warn({ partition: batch.partition, count: dead.length, first: dead[0]?.reason }, 'messages dead-lettered');
    }
    this.counters.accepted += taken.length;
    this.counters.batches++;
    if (taken.length > 0) this.options.onEvents?.(batch.partition, taken);
    // Decisions first, offsets after: what was committed has had its effects.
    const durable = taken.some((e) => e.type === 'deploy') || this.pending.some((d) => d.type !== 'suppressed');
    // The engine has seen these offsets whether or not its decisions can be handed on now:
    // a batch fetched again must not feed it twice.
    if (lastSeen !== undefined) {
      const next = BigInt(lastSeen) + 1n;
      if (expected === undefined || next > expected) this.nextOffset.set(batch.partition, next);
      if (takeover && next >= takeover.liveFrom) this.takeovers.delete(batch.partition);
    }
    const handedOn = await this.flush();
    if (lastSeen !== undefined) {
      resolveOffset(lastSeen);
      const next = BigInt(lastSeen) + 1n;
      if (!handedOn) {
        // Held decisions: nothing is committed past them, so a crash now replays them.
        if (!this.uncommitted.has(batch.partition)) this.uncommitted.set(batch.partition, BigInt(batch.messages[0]?.offset ?? lastSeen));
        this.lagByPartition.set(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(lastSeen) - 1));
        await heartbeat();
        return;
      }
      this.uncommitted.delete(batch.partition);
      // Explicitly: with autoCommit off, commitOffsetsIfNecessary commits nothing.
      await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next.toString() }]);
      // The high watermark is the offset the next message will get.
      this.lagByPartition.set(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(lastSeen) - 1));
      if (!this.takeovers.has(batch.partition)) {
        await this.saveCheckpoint(batch.partition, engine, BigInt(lastSeen) + 1n, durable);
      }
    }
    await heartbeat();
  }
}
