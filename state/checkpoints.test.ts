/**
 * One contract for every checkpoint store: the memory one and the Redis one that instances
 * share (a real Redis on 127.0.0.1:6379, or REDIS_URL).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createEngine } from '../rules/engine.js';
import { DEFAULT_RULES } from '../rules/config.js';
import type { EngineCheckpoint } from '../rules/checkpoint.js';
import type { CheckpointStore } from '../ingest/kafka.js';
import { decodeLine } from '../ingest/decode.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import { MemoryCheckpointStore, RedisCheckpointStore, parseCheckpoint } from './checkpoints.js';

const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
afterAll(async () => {
  await redis.quit();
});

/** A real checkpoint: a failed canary, its open incident, the registry of a service. */
function checkpointOf(kind: string, share: number): EngineCheckpoint {
  const engine = createEngine(DEFAULT_RULES, () => {});
  const lines = renderScenario(catalogEntry(kind)!, 1).ndjson.split('\n').filter((l) => l !== '');
  for (const line of lines.slice(0, Math.floor(lines.length * share))) {
    const r = decodeLine(line);
    if (r.ok) engine.push(r.event);
  }
  return engine.checkpoint();
}

const stores: Record<string, () => Promise<{ store: CheckpointStore; prefix?: string }>> = {
  memory: () => Promise.resolve({ store: new MemoryCheckpointStore() }),
  redis: async () => {
    if (redis.status === 'wait') await redis.connect();
    const prefix = `vigil-test:${randomUUID()}:`;
    return { store: new RedisCheckpointStore(redis, prefix), prefix };
  },
};

describe.each(Object.keys(stores))('the %s checkpoint store', (name) => {
  const make = stores[name] as () => Promise<{ store: CheckpointStore; prefix?: string }>;
  const failed = checkpointOf('parallel-canaries-one-bad', 0.8);
  const earlier = checkpointOf('parallel-canaries-one-bad', 0.3);

  it('gives back what was saved, per topic and partition, and nothing for the others', async () => {
    const { store } = await make();
    expect(failed.incidents).toHaveLength(1);
    expect(failed.judgments.some((j) => j.verdict === 'FAIL')).toBe(true);
    expect(await store.save('events', 2, 1234n, failed)).toBe(true);
    expect(await store.load('events', 2)).toEqual({ offset: 1234n, checkpoint: failed });
    expect(await store.load('events', 1)).toBeUndefined();
    expect(await store.load('other', 2)).toBeUndefined();
  });

  it('keeps the one further along: an older save arriving late changes nothing', async () => {
    const { store } = await make();
    expect(await store.save('events', 0, 5_000n, failed)).toBe(true);
    expect(await store.save('events', 0, 4_000n, earlier)).toBe(false);
    expect(await store.load('events', 0)).toEqual({ offset: 5_000n, checkpoint: failed });
    expect(await store.save('events', 0, 6_000n, earlier)).toBe(true);
    expect((await store.load('events', 0))?.offset).toBe(6_000n);
  });

  it('ends concurrent saves with the highest offset, whatever order they land in', async () => {
    const { store } = await make();
    const offsets = [7n, 3n, 9n, 1n, 8n, 2n, 6n];
    await Promise.all(offsets.map((o) => store.save('events', 4, o, o === 9n ? failed : earlier)));
    expect(await store.load('events', 4)).toEqual({ offset: 9n, checkpoint: failed });
  });
});

describe('a stored checkpoint that is not one', () => {
  it('is refused with what is wrong, not taken half-read', async () => {
    expect(() => parseCheckpoint('{"format":1,')).toThrow(/not JSON/);
    expect(() => parseCheckpoint(JSON.stringify({ ...checkpointOf('error-regression', 0.5), format: 99 }))).toThrow(/format/);
    const bad = { ...checkpointOf('error-regression', 0.5), incidents: [{ id: 'x' }] };
    expect(() => parseCheckpoint(JSON.stringify(bad))).toThrow(/incidents\.0\.service/);
    if (redis.status === 'wait') await redis.connect();
    const prefix = `vigil-test:${randomUUID()}:`;
    await redis.hset(`${prefix}checkpoint:events:0`, 'offset', '10', 'checkpoint', '[]');
    await expect(new RedisCheckpointStore(redis, prefix).load('events', 0)).rejects.toThrow(/checkpoint refused/);
  });
});
