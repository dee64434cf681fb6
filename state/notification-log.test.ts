/**
 * One contract for every notification log: the memory one of embedded mode and the Redis
 * one instances share (a real Redis on 127.0.0.1:6379, or REDIS_URL).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryNotificationLog, type NotificationLog } from '../notifiers/delivery.js';
import { RedisNotificationLog } from './redis.js';

const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
afterAll(async () => {
  await redis.quit();
});

const logs: Record<string, () => Promise<NotificationLog>> = {
  memory: () => Promise.resolve(new MemoryNotificationLog()),
  redis: async () => {
    if (redis.status === 'wait') await redis.connect();
    return new RedisNotificationLog(redis, `vigil-test:${randomUUID()}:`);
  },
};

describe.each(Object.keys(logs))('the %s notification log', (name) => {
  const make = logs[name] as () => Promise<NotificationLog>;

  it('lets one claim of a key win until it is settled: delivered stays taken, failed is released', async () => {
    const log = await make();
    expect(await log.claim('slack|a')).toBe(true);
    expect(await log.claim('slack|a')).toBe(false);
    await log.settle('slack|a', 'delivered');
    expect(await log.claim('slack|a')).toBe(false);
    expect(await log.claim('slack|b')).toBe(true);
    await log.settle('slack|b', 'failed');
    expect(await log.claim('slack|b')).toBe(true);
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const log = await make();
    const wins = (await Promise.all(Array.from({ length: 20 }, () => log.claim('pd|x')))).filter(Boolean);
    expect(wins).toHaveLength(1);
  });

  it('remembers where an incident went', async () => {
    const log = await make();
    expect(await log.incidentChannels('inc-1')).toBeUndefined();
    await log.setIncidentChannels('inc-1', ['slack', 'pagerduty']);
    expect(await log.incidentChannels('inc-1')).toEqual(['slack', 'pagerduty']);
  });
});

describe('the Redis notification log, shared', () => {
  it('is one log for two instances: what one told, the other does not tell again', async () => {
    if (redis.status === 'wait') await redis.connect();
    const prefix = `vigil-test:${randomUUID()}:`;
    const a = new RedisNotificationLog(redis, prefix), b = new RedisNotificationLog(redis, prefix);
    expect(await a.claim('email|page-1')).toBe(true);
    await a.settle('email|page-1', 'delivered');
    expect(await b.claim('email|page-1')).toBe(false);
    const keys = await redis.keys(`${prefix}*`);
    for (const k of keys) expect(await redis.ttl(k)).toBeGreaterThan(0);
  });
});
