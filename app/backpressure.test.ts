/**
 * Backpressure through the real HTTP server: a bus that does not confirm (a stalled broker)
 * fills the ingest queue; every ingest route then answers 429 with Retry-After and the reason,
 * takes nothing, and answers 2xx again once the bus drains. Events answered with 2xx all
 * reach the bus exactly once, whatever the interleaving of senders that retry their 429s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { BoundedBus, type EventBus } from '../ingest/bus.js';
import type { VigilEvent } from '../rules/events.js';
import { MemoryDecisions } from '../state/decisions.js';
import { buildApi } from './http.js';
import { registerWebhooks, webhooksSchema } from './webhooks.js';
import { registerReleaseTools } from './release-tools.js';
import { DEFAULT_CONFIG } from './config-file.js';

const silent = pino({ level: 'silent' });

/** A bus that holds every publish until it is let go, and records what it confirmed. */
class StalledBus implements EventBus {
  readonly confirmed: VigilEvent[] = [];
  private waiting: (() => void)[] = [];
  stalled = true;

  publish(events: readonly VigilEvent[]): Promise<void> {
    if (!this.stalled) {
      this.confirmed.push(...events);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => {
      this.confirmed.push(...events);
      resolve();
    }));
  }

  pending(): number {
    return this.waiting.length;
  }

  release(): void {
    this.stalled = false;
    for (const w of this.waiting.splice(0)) w();
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function serve(inner: EventBus, limitEvents: number): Promise<{ app: FastifyInstance; queue: BoundedBus }> {
  const queue = new BoundedBus(inner, limitEvents, 2);
  const app = buildApi({
    bus: queue, queue, decisions: new MemoryDecisions(), series: () => undefined,
    delivery: { stats: () => ({ byChannel: {} }) as never, failures: () => [] },
    logger: silent, bodyLimitBytes: 1024 * 1024, accepting: () => true,
  });
  registerReleaseTools(app, { decisions: new MemoryDecisions(), bus: queue, config: DEFAULT_CONFIG.releaseTools, now: () => 1_000 });
  registerWebhooks(app, {
    config: webhooksSchema.parse({ sources: { generic: { auth: { kind: 'bearer', token: 't' } } } }),
    bus: queue, logger: silent, env: {}, now: () => Date.parse('2026-12-07T12:00:00Z'),
  });
  await app.ready();
  apps.push(app);
  return { app, queue };
}

const requests = (service: string, n: number, from = 0): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'request', ts: 1_000 + from + i, service, status: 200, latency_ms: 5 })).join('\n');

const postEvents = (app: FastifyInstance, body: string) =>
  app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/x-ndjson' }, payload: body });

/** Waits until the stalled bus holds `n` publishes (the handlers run on later turns). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('ingest under backpressure', () => {
  it('answers 429 with Retry-After on every ingest route while the queue is full, and 2xx once it drains', async () => {
    const bus = new StalledBus();
    const { app, queue } = await serve(bus, 10);

    const first = postEvents(app, requests('a', 6));
    await until(() => bus.pending() === 1);
    // 6 waiting + 6 more would pass 10: refused whole, at publish time.
    const over = await postEvents(app, requests('b', 6));
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('2');
    expect(over.json<{ error: string }>().error).toMatch(/ingest queue full \(6 events waiting.*limit 10.*retry after 2 s/);

    const second = postEvents(app, requests('c', 4));
    await until(() => bus.pending() === 2);
    expect(queue.full()).toBe(true);
    // Full: refused before the body is read, on every route that takes events.
    const refused = await Promise.all([
      postEvents(app, requests('d', 1)),
      app.inject({ method: 'POST', url: '/v1/deployments', headers: { 'content-type': 'application/json' }, payload: { ts: 1_000, service: 'a', version: 'v2', role: 'canary', action: 'start' } }),
      app.inject({ method: 'POST', url: '/v1/webhooks/generic', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, payload: { title: 'Down', status: 'firing' } }),
      app.inject({ method: 'POST', url: '/v1/flagger/event', headers: { 'content-type': 'application/json' }, payload: { name: 'a', namespace: 'prod', phase: 'Progressing' } }),
    ]);
    for (const r of refused) {
      expect(r.statusCode, r.body).toBe(429);
      expect(r.headers['retry-after']).toBe('2');
      expect(r.json<{ error: string }>().error).toContain('ingest queue full');
    }
    // Reading is not ingest: it goes on.
    expect((await app.inject({ method: 'GET', url: '/v1/verdicts' })).statusCode).toBe(200);
    expect(queue.stats()).toEqual({ queuedEvents: 10, refusedRequests: 5, refusedEvents: 6 });

    bus.release();
    expect((await first).statusCode).toBe(202);
    expect((await second).statusCode).toBe(202);
    expect(queue.stats().queuedEvents).toBe(0);
    const again = await postEvents(app, requests('b', 6));
    expect(again.statusCode).toBe(202);
    const hook = await app.inject({ method: 'POST', url: '/v1/webhooks/generic', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, payload: { title: 'Down', status: 'firing' } });
    expect(hook.statusCode).toBe(202);
    // What was taken is what was answered 2xx: a, c, then b, and the webhook; nothing of the refused ones.
    expect(bus.confirmed.map((e) => e.type === 'webhook' ? 'webhook' : e.service).join('')).toBe(`${'a'.repeat(6)}${'c'.repeat(4)}${'b'.repeat(6)}webhook`);
  });

  it('takes a request larger than the limit when nothing waits, so it is not refused forever', async () => {
    const bus = new StalledBus();
    bus.stalled = false;
    const { app } = await serve(bus, 10);
    const r = await postEvents(app, requests('big', 25));
    expect(r.statusCode).toBe(202);
    expect(bus.confirmed).toHaveLength(25);
  });

  it('loses and doubles no event answered 2xx, whatever senders and bus delays interleave', async () => {
    let totalRefusals = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 }),
      async (sizes, delays) => {
        let turn = 0;
        const confirmed: number[] = [];
        // A broker that confirms after a varying number of timer turns.
        const slow: EventBus = {
          publish: async (events) => {
            const wait = delays[turn++ % delays.length] ?? 0;
            for (let i = 0; i < wait; i++) await new Promise((r) => setTimeout(r, 1));
            for (const e of events) confirmed.push(e.ts);
          },
        };
        const { app } = await serve(slow, 10);
        let refusals = 0;
        const sent: number[] = [];
        await Promise.all(sizes.map(async (n, sender) => {
          const from = sender * 100;
          for (let attempt = 0; attempt < 500; attempt++) {
            const r = await postEvents(app, requests(`s${sender}`, n, from));
            if (r.statusCode === 202) {
              for (let i = 0; i < n; i++) sent.push(1_000 + from + i);
              return;
            }
            expect(r.statusCode).toBe(429);
            expect(r.headers['retry-after']).toBeDefined();
            refusals++;
            await new Promise((res) => setTimeout(res, 1));
          }
          throw new Error(`sender ${sender} was refused 500 times`);
        }));
        expect([...confirmed].sort((a, b) => a - b)).toEqual([...sent].sort((a, b) => a - b));
        expect(confirmed).toHaveLength(sizes.reduce((a, b) => a + b, 0));
        totalRefusals += refusals;
      },
    ), { numRuns: 25 });
    // The runs did exercise refusals, not only a queue that never filled.
    expect(totalRefusals).toBeGreaterThan(0);
  });
});
