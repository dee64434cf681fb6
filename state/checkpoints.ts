/**
 * Where engines' checkpoints are kept (see rules/checkpoint.ts): in memory for one process,
 * in Redis for instances that share partitions. A checkpoint is saved with the offset of
 * the first event it does not reflect; a save never replaces a newer one, so an instance
 * that lost its partition and has not noticed yet cannot set its new owner back.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CHECKPOINT_FORMAT, type EngineCheckpoint } from '../rules/checkpoint.js';
import type { CheckpointStore, SavedCheckpoint } from '../ingest/kafka.js';
import { WEBHOOK_SOURCES } from '../rules/events.js';

const role = z.enum(['canary', 'baseline', 'stable']);
const text = z.string();
const alertStatus = z.enum(['firing', 'resolved']);

const alertSchema = z.strictObject({
  source: z.enum(WEBHOOK_SOURCES), name: text, service: text, version: text.optional(), instance: text.optional(),
  severity: z.enum(['critical', 'warning', 'info']), status: alertStatus, fingerprint: text, problem: text,
  labels: z.record(text, text), startsAt: z.number(), endsAt: z.number().optional(), summary: text,
});

const alertBookSchema = z.strictObject({
  groups: z.array(z.strictObject({
    key: text, service: text, alerts: z.array(z.strictObject({ alert: alertSchema, lastSeenTs: z.number() })), firstTs: z.number(), nextFlushTs: z.number(),
    incident: text.optional(), shared: z.boolean(), lastNotifiedTs: z.number().optional(),
    toldProblems: z.array(text), toldAlerts: z.array(text), quietTold: z.array(text), versions: z.array(text),
  })),
  flaps: z.array(z.strictObject({ fingerprint: text, changes: z.array(z.number()), lastStatus: alertStatus, heldSinceTs: z.number().optional(), paged: z.boolean() })),
  usedIds: z.array(text),
});

/** The checkpoint as it is read back: anything else in the store is refused with the reason. */
export const checkpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  versions: z.array(z.strictObject({
    service: text, version: text, role, inferred: z.boolean(), release: text.optional(), startTs: z.number(),
    state: z.enum(['active', 'promoted', 'rolled-back', 'finished', 'superseded']), changedTs: z.number(),
    replaced: text.optional(), hasBaseline: z.boolean(), baselineActive: z.boolean(),
  })),
  placements: z.array(z.strictObject({ service: text, instance: text, version: text, flavor: z.enum(['main', 'baseline']) })),
  judgments: z.array(z.strictObject({
    service: text, version: text, kind: z.enum(['canary', 'rollout']), startTs: z.number(), release: text.optional(),
    verdict: z.enum(['PASS', 'FAIL', 'NONE']).optional(), reasons: z.array(text), ended: z.boolean(), comparedWith: text,
  })),
  incidents: z.array(z.strictObject({
    id: text, service: text, group: text, versions: z.array(text),
    signals: z.array(z.enum(['errors', 'latency', 'latency-tail', 'new-error', 'metric'])), told: z.array(text),
    severity: z.enum(['critical', 'warning', 'info']), openedTs: z.number(), lastActiveTs: z.number(),
  })),
  lifecycle: z.array(z.strictObject({ ts: z.number(), service: text, version: text, action: z.enum(['start', 'promote', 'rollback', 'finish']), role })),
  alerts: alertBookSchema.optional(),
});

/** Reads a stored checkpoint; a damaged or foreign one is an error naming what is wrong. */
export function parseCheckpoint(json: string): EngineCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`checkpoint is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = checkpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`checkpoint refused: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data as EngineCheckpoint;
}

/** Checkpoints of one process (embedded tests, and Kafka without Redis: lost with the process). */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly saved = new Map<string, { offset: bigint; json: string }>();

  load(topic: string, partition: number): Promise<SavedCheckpoint | undefined> {
    const s = this.saved.get(`${topic}:${partition}`);
    return Promise.resolve(s === undefined ? undefined : { offset: s.offset, checkpoint: parseCheckpoint(s.json) });
  }

  save(topic: string, partition: number, offset: bigint, checkpoint: EngineCheckpoint): Promise<boolean> {
    const key = `${topic}:${partition}`;
    const held = this.saved.get(key);
    if (held !== undefined && held.offset > offset) return Promise.resolve(false);
    this.saved.set(key, { offset, json: JSON.stringify(checkpoint) });
    return Promise.resolve(true);
  }
}

/** How long a checkpoint is kept without being saved again. */
const CHECKPOINT_TTL_S = 30 * 24 * 3600;

/**
 * Compare-and-set on the offset, in one step on the server: of two instances saving the
 * same partition's checkpoint, the one that has read further wins, whatever the order the
 * writes arrive in.
 */
const SAVE_IF_NEWER = `
local held = redis.call('HGET', KEYS[1], 'offset')
if held and tonumber(held) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'offset', ARGV[1], 'checkpoint', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** Checkpoints in Redis, shared by every instance using the same prefix. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(private readonly redis: Redis, private readonly prefix = 'vigil:') {}

  private key(topic: string, partition: number): string {
    return `${this.prefix}checkpoint:${topic}:${partition}`;
  }

  async load(topic: string, partition: number): Promise<SavedCheckpoint | undefined> {
    const [offset = null, json = null] = await this.redis.hmget(this.key(topic, partition), 'offset', 'checkpoint');
    if (offset === null || json === null) return undefined;
    return { offset: BigInt(offset), checkpoint: parseCheckpoint(json) };
  }

  async save(topic: string, partition: number, offset: bigint, checkpoint: EngineCheckpoint): Promise<boolean> {
    // Offsets stay far below 2^53, so Lua's numbers compare them exactly.
    const saved = await this.redis.eval(SAVE_IF_NEWER, 1, this.key(topic, partition), offset.toString(), JSON.stringify(checkpoint), String(CHECKPOINT_TTL_S));
    return saved === 1;
  }
}
