/**
 * Redis implementations of the service's ports, for instances that share the work: the
 * notification log (what was told to whom, and where each incident's page went), so that
 * a decision made again after a partition moved, or after a crash, is told once across
 * every instance. Keys carry a prefix and an expiry, so that nothing grows without end.
 */
import type { Redis } from 'ioredis';
import type { DeliveryOutcome, NotificationLog } from '../notifiers/delivery.js';

/** How long a delivery is remembered: longer than any replay or takeover would go back. */
const DELIVERED_TTL_S = 7 * 24 * 3600;
/**
 * How long a claim holds while its delivery is under way: past it, an instance that died
 * mid-delivery no longer blocks the decision (retries take at most a minute or so).
 */
const CLAIM_TTL_S = 10 * 60;

/** The notification log in Redis, shared by every instance using the same prefix. */
export class RedisNotificationLog implements NotificationLog {
  constructor(private readonly redis: Redis, private readonly prefix = 'vigil:') {}

  async claim(key: string): Promise<boolean> {
    // SET NX is atomic: of all instances claiming one key, exactly one gets OK.
    const ok = await this.redis.set(`${this.prefix}told:${key}`, 'claimed', 'EX', CLAIM_TTL_S, 'NX');
    return ok === 'OK';
  }

  async settle(key: string, outcome: DeliveryOutcome): Promise<void> {
    const k = `${this.prefix}told:${key}`;
    if (outcome === 'delivered') await this.redis.set(k, 'delivered', 'EX', DELIVERED_TTL_S);
    else await this.redis.del(k);
  }

  async setIncidentChannels(incident: string, channels: readonly string[]): Promise<void> {
    await this.redis.set(`${this.prefix}incident:${incident}:channels`, JSON.stringify(channels), 'EX', DELIVERED_TTL_S);
  }

  async incidentChannels(incident: string): Promise<readonly string[] | undefined> {
    const text = await this.redis.get(`${this.prefix}incident:${incident}:channels`);
    if (text === null) return undefined;
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((c) => typeof c === 'string') ? value : undefined;
  }
}
