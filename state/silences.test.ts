/**
 * One contract for every silence store: the memory one of embedded mode and the Redis one
 * instances share (a real Redis on 127.0.0.1:6379, or REDIS_URL).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Silence, SilenceStore } from '../rules/silences.js';
import { parseMatcher } from '../rules/matchers.js';
import { MemorySilenceStore, RedisSilenceStore } from './silences.js';

const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
afterAll(async () => {
  await redis.quit();
});

const stores: Record<string, () => Promise<SilenceStore>> = {
  memory: () => Promise.resolve(new MemorySilenceStore()),
  redis: async () => {
    if (redis.status === 'wait') await redis.connect();
    return new RedisSilenceStore(redis, `vigil-test:${randomUUID()}:`);
  },
};

const NOW = Date.parse('2026-11-18T11:00:00.000Z');

function silence(id: string, endsAt: number, matcher = 'service="checkout"'): Silence {
  return { id, matchers: [parseMatcher(matcher)], startsAt: NOW - 1_000, endsAt, createdBy: 'ops', comment: `why ${id}` };
}

describe.each(Object.keys(stores))('the %s silence store', (kind) => {
  const make = stores[kind] as () => Promise<SilenceStore>;

  it('lists what was put, by id, with its matchers as given', async () => {
    const store = await make();
    await store.put(silence('b', NOW + 60_000, 'alertname=~"High.*"'));
    await store.put(silence('a', NOW + 60_000));
    expect(await store.list(NOW)).toEqual([silence('a', NOW + 60_000), silence('b', NOW + 60_000, 'alertname=~"High.*"')]);
  });

  it('replaces a silence put again under the same id', async () => {
    const store = await make();
    await store.put(silence('a', NOW + 60_000));
    await store.put(silence('a', NOW + 120_000, 'service="search"'));
    expect(await store.list(NOW)).toEqual([silence('a', NOW + 120_000, 'service="search"')]);
  });

  it('forgets a silence once it has expired', async () => {
    const store = await make();
    await store.put(silence('short', NOW + 1_000));
    await store.put(silence('long', NOW + 60_000));
    expect((await store.list(NOW)).map((s) => s.id)).toEqual(['long', 'short']);
    expect((await store.list(NOW + 1_000)).map((s) => s.id)).toEqual(['long']);
    expect((await store.list(NOW)).map((s) => s.id)).toEqual(['long']);
  });

  it('removes by id, and says when there was none', async () => {
    const store = await make();
    await store.put(silence('a', NOW + 60_000));
    expect(await store.remove('a')).toBe(true);
    expect(await store.remove('a')).toBe(false);
    expect(await store.list(NOW)).toEqual([]);
  });
});

describe('the Redis silence store, shared', () => {
  it('shows one instance\'s silences to another with the same prefix', async () => {
    if (redis.status === 'wait') await redis.connect();
    const prefix = `vigil-test:${randomUUID()}:`;
    await new RedisSilenceStore(redis, prefix).put(silence('x', NOW + 60_000));
    expect((await new RedisSilenceStore(redis, prefix).list(NOW)).map((s) => s.id)).toEqual(['x']);
  });
});
