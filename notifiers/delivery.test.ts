import { describe, expect, it } from 'vitest';
import type { Decision, PageDecision, ResolveDecision, UpdateDecision, VerdictDecision } from '../rules/decisions.js';
import { routingSchema } from '../rules/routing.js';
import { Delivery, MemoryNotificationLog, type NotificationLog } from './delivery.js';
import { type Notifier, NotifyError } from './notifier.js';
import type { RetryClock, RetryPolicy } from './retry.js';

/** A notifier whose attempts fail as scripted, one entry per attempt ('ok' once the script ends). */
class ScriptedNotifier implements Notifier {
  readonly told: Decision[] = [];
  attempts = 0;
  constructor(readonly channel: string, private readonly script: (NotifyError | Error | 'ok' | number)[] = []) {}
  async notify(d: Decision): Promise<void> {
    this.attempts++;
    const step = this.script.shift() ?? 'ok';
    if (typeof step === 'number') await new Promise((r) => setTimeout(r, step));
    else if (step !== 'ok') throw step;
    this.told.push(d);
  }
}

/** Records the waits instead of waiting. */
function fakeClock(): RetryClock & { waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: (ms) => { waits.push(ms); return Promise.resolve(); }, random: () => 0.5 };
}

const quietLogger = { warn: () => {}, error: () => {} };
const page = (incident = 'inc-1', channels = ['a']): PageDecision => ({
  type: 'page', ts: '2026-11-22T12:00:00.000Z', incident, service: 'shop', versions: ['v2'], signals: ['errors'],
  severity: 'warning', summary: 'shop: error ratio regression in v2', channels,
});
const update = (incident = 'inc-1', ts = '2026-11-22T12:01:00.000Z'): UpdateDecision => ({
  type: 'update', ts, incident, service: 'shop', versions: ['v2'], signals: ['errors'], summary: 'more',
});
const resolve = (incident = 'inc-1'): ResolveDecision => ({ type: 'resolve', ts: '2026-11-22T12:05:00.000Z', incident, service: 'shop', reason: 'rolled back' });
const verdict: VerdictDecision = { type: 'verdict', ts: '2026-11-22T12:00:00.000Z', service: 'shop', version: 'v2', verdict: 'FAIL', reasons: ['5xx x8'] };

function delivery(
  channels: Record<string, Notifier>, opts: { log?: NotificationLog; clock?: RetryClock; fallback?: string[]; routes?: unknown; retry?: RetryPolicy } = {},
): Delivery {
  return new Delivery({
    channels: new Map(Object.entries(channels)), routing: routingSchema.parse({ routes: opts.routes ?? [] }), fallback: opts.fallback ?? ['a'],
    log: opts.log ?? new MemoryNotificationLog(), logger: quietLogger, clock: opts.clock ?? fakeClock(),
    retry: opts.retry ?? { attempts: 4, baseMs: 100, maxWaitMs: 1_000 },
  });
}

/**
 * A channel that is down (a 503, or a 429 asking for a minute) until its clock has moved
 * past `upAtMs`, as a fake clock moves it: each wait of the delivery stage advances it.
 */
class OutageNotifier implements Notifier {
  readonly told: Decision[] = [];
  attempts = 0;
  nowMs = 0;
  constructor(readonly channel: string, private readonly upAtMs: number) {}
  readonly clock: RetryClock = { sleep: (ms) => { this.nowMs += ms; return Promise.resolve(); }, random: () => 0.5 };
  notify(d: Decision): Promise<void> {
    this.attempts++;
    if (this.nowMs < this.upAtMs) {
      return Promise.reject(this.attempts % 2 === 0
        ? new NotifyError(this.channel, 'HTTP 429', true, { status: 429, retryAfterMs: 60_000 })
        : new NotifyError(this.channel, 'HTTP 503', true, { status: 503 }));
    }
    this.told.push(d);
    return Promise.resolve();
  }
}

describe('the delivery stage', () => {
  it('retries a retriable failure with growing, jittered waits and delivers once', async () => {
    const clock = fakeClock();
    const a = new ScriptedNotifier('slack', [new NotifyError('slack', '503', true), new NotifyError('slack', 'timeout', true)]);
    const d = delivery({ a }, { clock });
    d.send(page());
    await d.drain();
    expect(a.attempts).toBe(3);
    expect(a.told).toHaveLength(1);
    expect(clock.waits).toEqual([50, 100]);
    expect(d.stats()).toMatchObject({ delivered: 1, retried: 2, failed: 0 });
  });

  it('waits what the receiver asked for (Retry-After), within the bound', async () => {
    const clock = fakeClock();
    const a = new ScriptedNotifier('slack', [new NotifyError('slack', '429', true, { retryAfterMs: 700 }), new NotifyError('slack', '429', true, { retryAfterMs: 60_000 })]);
    const d = delivery({ a }, { clock });
    d.send(page());
    await d.drain();
    expect(clock.waits).toEqual([700, 1_000]);
  });

  it('does not retry a failure that cannot pass, and keeps it with its reason', async () => {
    const a = new ScriptedNotifier('pagerduty', [new NotifyError('pagerduty', 'HTTP 400: invalid routing key', false, { status: 400 })]);
    const d = delivery({ a });
    d.send(page());
    await d.drain();
    expect(a.attempts).toBe(1);
    expect(d.failures()).toEqual([expect.objectContaining({ channel: 'a', decision: 'page', incident: 'inc-1', attempts: 1, reason: 'pagerduty: HTTP 400: invalid routing key' })]);
    expect(d.stats().failed).toBe(1);
  });

  it('gives up after the last attempt, and a later replay of the decision tries again', async () => {
    const log = new MemoryNotificationLog();
    const failing = () => new NotifyError('email', 'connection refused', true);
    const a = new ScriptedNotifier('email', [failing(), failing(), failing(), failing()]);
    const d = delivery({ a }, { log });
    d.send(page());
    await d.drain();
    expect(a.attempts).toBe(4);
    expect(d.failures()[0]?.attempts).toBe(4);
    d.send(page());
    await d.drain();
    expect(a.told).toHaveLength(1);
  });

  it('tells each decision once per channel, however often it is sent, also across restarts sharing a log', async () => {
    const log = new MemoryNotificationLog();
    const a = new ScriptedNotifier('slack');
    const first = delivery({ a }, { log });
    for (const dec of [page(), update(), page(), update(), resolve()]) first.send(dec);
    await first.drain();
    expect(a.told.map((x) => x.type)).toEqual(['page', 'update', 'resolve']);
    expect(first.stats().duplicates).toBe(2);
    const restarted = delivery({ a }, { log });
    for (const dec of [page(), update(), resolve()]) restarted.send(dec);
    await restarted.drain();
    expect(a.told).toHaveLength(3);
    // A new update of the same incident is news.
    restarted.send(update('inc-1', '2026-11-22T12:02:00.000Z'));
    await restarted.drain();
    expect(a.told).toHaveLength(4);
  });

  it('sends updates and the resolve where the page went, in order, even behind a slow channel', async () => {
    const slow = new ScriptedNotifier('slack', [30]);
    const fast = new ScriptedNotifier('email');
    const other = new ScriptedNotifier('console');
    const d = delivery({ slow, fast, other }, { fallback: ['other'] });
    d.send(page('inc-9', ['slow', 'fast']));
    d.send(update('inc-9'));
    d.send(resolve('inc-9'));
    await d.drain();
    expect(slow.told.map((x) => x.type)).toEqual(['page', 'update', 'resolve']);
    expect(fast.told.map((x) => x.type)).toEqual(['page', 'update', 'resolve']);
    expect(other.told).toEqual([]);
  });

  it('tells no channel of a quiet update, counts it per channel where the page went, and tells the next update', async () => {
    const a = new ScriptedNotifier('a'), b = new ScriptedNotifier('b');
    const d = delivery({ a, b });
    d.send(page('inc-1', ['a', 'b']));
    d.send({ ...update(), quiet: 'corroborating' });
    d.send(update('inc-1', '2026-11-22T12:02:00.000Z'));
    await d.drain();
    for (const n of [a, b]) expect(n.told.map((x) => [x.type, x.ts])).toEqual([['page', page().ts], ['update', '2026-11-22T12:02:00.000Z']]);
    expect(d.stats()).toMatchObject({ delivered: 4, quiet: 2, byChannel: { a: { delivered: 2, quiet: 1 }, b: { delivered: 2, quiet: 1 } } });
  });

  it('routes verdicts by their service, FAIL as critical, and counts channels no notifier serves', async () => {
    const pd = new ScriptedNotifier('pagerduty');
    const c = new ScriptedNotifier('console');
    const d = delivery({ pd, console: c }, { fallback: ['console'], routes: [{ match: { service: ['shop'], severity: ['critical'] }, channels: ['pd', 'nowhere'] }] });
    d.send(verdict);
    d.send({ ...verdict, verdict: 'PASS', version: 'v3' });
    await d.drain();
    expect(pd.told.map((x) => x.type === 'verdict' && x.verdict)).toEqual(['FAIL']);
    expect(c.told.map((x) => x.type === 'verdict' && x.verdict)).toEqual(['PASS']);
    expect(d.stats().unknownChannel).toBe(1);
  });

  it('holds a channel\'s notifications through minutes of outage, then tells every one once, in order', async () => {
    const slack = new OutageNotifier('slack', 7 * 60_000);
    const d = delivery({ a: slack }, { clock: slack.clock, retry: { attempts: 5, baseMs: 500, maxWaitMs: 15_000, outageMs: 3_600_000 } });
    const sent = [page('inc-1'), page('inc-2'), update('inc-1'), update('inc-2', '2026-11-22T12:03:00.000Z'), resolve('inc-1'), verdict];
    for (const dec of sent) d.send(dec);
    await d.drain();
    expect(slack.nowMs).toBeGreaterThanOrEqual(7 * 60_000);
    expect(slack.told).toEqual(sent);
    expect(d.stats()).toMatchObject({ delivered: 6, failed: 0, pending: 0 });
    expect(d.failures()).toEqual([]);
  });

  it('gives a notification up after the outage allowance, keeps it, and tells the next ones when the channel is back', async () => {
    const mail = new OutageNotifier('email', 20 * 60_000);
    const d = delivery({ a: mail }, { clock: mail.clock, retry: { attempts: 3, baseMs: 500, maxWaitMs: 15_000, outageMs: 10 * 60_000 } });
    d.send(page('inc-1'));
    d.send(update('inc-1'));
    d.send(page('inc-2'));
    await d.drain();
    // The page waited out ten minutes, the update ten more: the channel was back for the second page.
    expect(d.failures().map((f) => `${f.decision} ${f.incident ?? ''}`)).toEqual(['page inc-1', 'update inc-1']);
    expect(mail.told.map((x) => `${x.type} ${'incident' in x ? x.incident : ''}`)).toEqual(['page inc-2']);
  });

  it('on close, lets what is under way finish within the grace, then gives up what a channel still refuses, with the reason', async () => {
    const down = new ScriptedNotifier('slack', Array.from({ length: 1_000 }, () => new NotifyError('slack', 'HTTP 503', true, { status: 503 })));
    const up = new ScriptedNotifier('email');
    // Real waits, each a few milliseconds: a channel down for good would keep its queue an hour.
    const d = new Delivery({
      channels: new Map<string, Notifier>([['down', down], ['up', up]]), routing: routingSchema.parse({}), fallback: ['down'], log: new MemoryNotificationLog(),
      logger: quietLogger, retry: { attempts: 2, baseMs: 5, maxWaitMs: 5, outageMs: 3_600_000 },
    });
    d.send(page('inc-1', ['down', 'up']));
    d.send(update('inc-1'));
    const started = Date.now();
    await d.close(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(up.told.map((x) => x.type)).toEqual(['page', 'update']);
    expect(d.failures().map((f) => f.decision)).toEqual(['page', 'update']);
    expect(d.failures()[0]?.reason).toMatch(/^not delivered before the service stopped; down was still failing: slack: HTTP 503/);
    expect(d.stats().pending).toBe(0);
  });

  it('survives a notifier that throws something that is not a NotifyError (a bug): not retried, kept', async () => {
    const a = new ScriptedNotifier('x', [new TypeError('undefined is not a function')]);
    const d = delivery({ a });
    d.send(page());
    await d.drain();
    expect(a.attempts).toBe(1);
    expect(d.failures()[0]?.reason).toBe('undefined is not a function');
  });
});
