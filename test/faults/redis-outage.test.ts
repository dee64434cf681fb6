/**
 * Redis unavailable for 30 s: the instance reaches Redis through a TCP proxy of the test's
 * own, which is cut (every connection dropped, new ones refused) while the regression of a
 * scenario streams through Kafka, then restored. Meanwhile the engine must go on judging,
 * hold what needs Redis (the output topics' dedup claims, the notification log), say it is
 * degraded on /readyz and /metrics, and once Redis answers page exactly once.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogEntry, renderScenario } from '../../simulate/catalog.js';
import {
  type Instance, deployment, finalVerdicts, metric, pageNames, pagesPerIncident, produce, readDecisions, startInstance, testKafka, undisturbed, until,
} from './instances.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const kafka = testKafka(brokers);
const redisTarget = new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
const OUTAGE_MS = 30_000;

/** A TCP proxy to Redis that can be cut and restored. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(redisTarget.port || 6379), redisTarget.hostname);
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = (): void => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const proxy = new CuttableProxy();
let instance: Instance | undefined;
afterAll(async () => {
  instance?.child.kill('SIGKILL');
  await instance?.exited;
  await proxy.cut();
});

describe('Redis unavailable for 30 s mid-stream', () => {
  it('keeps judging, reports degraded, holds the page and sends it once Redis is back', async () => {
    const producer = kafka.producer();
    try {
      await producer.connect();
    } catch (err) {
      throw new Error(`no Kafka broker at ${brokers.join(',')}: start one with \`node scripts/services.mjs up\``, { cause: err });
    }
    await proxy.open();
    const lines = renderScenario(catalogEntry('error-regression')!, 2).ndjson.split('\n').filter((l) => l !== '');
    const live = undisturbed(lines);
    expect(pageNames(live)).toHaveLength(1);
    const d = await deployment(brokers, 1);
    instance = await startInstance(d, { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    const url = instance.url;

    // The start of the stream (deploys, the canary's first clean minutes) with Redis up.
    const before = Math.floor(lines.length * 0.25);
    await produce(producer, d.topics.events, lines.slice(0, before));
    await until('the first part judged', async () => (await metric(url, 'vigil_events_accepted_total')) === before);
    expect(await metric(url, 'vigil_dependency_up', 'dependency="redis"')).toBe(1);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });

    await proxy.cut();
    const cutAt = Date.now();
    await produce(producer, d.topics.events, lines.slice(before));
    // The engine goes on judging the whole stream, regression included, without Redis.
    await until('the rest judged with Redis down', async () => (await metric(url, 'vigil_events_accepted_total')) === lines.length, OUTAGE_MS - 5_000);
    await until('the page held', async () => ((await metric(url, 'vigil_decisions_held')) ?? 0) > 0, OUTAGE_MS - (Date.now() - cutAt));
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const readyBody = (await ready.json()) as { status: string; degraded: string[] };
    expect(readyBody.status).toBe('degraded');
    expect(readyBody.degraded).toContain('redis: unreachable');
    expect(await metric(url, 'vigil_dependency_up', 'dependency="redis"')).toBe(0);
    // Nothing on the output topics while the dedup claims cannot be made.
    expect(pageNames(await readDecisions(kafka, d.topics.incidents, 1_000))).toEqual([]);
    expect(Date.now() - cutAt).toBeLessThan(OUTAGE_MS);
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - cutAt)));

    await proxy.open();
    const backAt = Date.now();
    await until('the page on the incidents topic', async () => pageNames(await readDecisions(kafka, d.topics.incidents, 1_000)).length > 0, 90_000);
    const recoverySeconds = (Date.now() - backAt) / 1000;
    await until('nothing held any more', async () => (await metric(url, 'vigil_decisions_held')) === 0 && (await metric(url, 'vigil_notifications_held')) === 0, 60_000);
    expect(await metric(url, 'vigil_dependency_up', 'dependency="redis"')).toBe(1);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });
    // Time for a second page to show, were there one.
    await new Promise((r) => setTimeout(r, 4_000));
    const incidents = await readDecisions(kafka, d.topics.incidents);
    expect([...pagesPerIncident(incidents).values()]).toEqual([1]);
    expect(pageNames(incidents)).toEqual(pageNames(live));
    expect(finalVerdicts(await readDecisions(kafka, d.topics.verdicts))).toEqual(finalVerdicts(live));
    // The console channel told the page once.
    expect(instance.stdout().match(/PAGE {2}/g) ?? []).toHaveLength(1);
    process.stderr.write(`redis outage: ${OUTAGE_MS / 1000} s; page on the topic ${recoverySeconds.toFixed(1)} s after Redis came back\n`);
    await producer.disconnect();
  }, 300_000);
});
