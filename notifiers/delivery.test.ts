import { describe, expect, it } from 'vitest';
import type { Decision, PageDecision, ResolveDecision, UpdateDecision, VerdictDecision } from '../rules/decisions.js';
import { routingSchema } from '../rules/routing.js';
import { Delivery, MemoryNotificationLog, type NotificationLog } from './delivery.js';
import { type Notifier, NotifyError } from './notifier.js';
import type { RetryClock } from './retry.js';

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

function delivery(channels: Record<string, Notifier>, opts: { log?: NotificationLog; clock?: RetryClock; fallback?: string[]; routes?: unknown } = {}): Delivery {
  return new Delivery({
    channels: new Map(Object.entries(channels)), routing: routingSchema.parse({ routes: opts.routes ?? [] }), fallback: opts.fallback ?? ['a'],
    log: opts.log ?? new MemoryNotificationLog(), logger: quietLogger, clock: opts.clock ?? fakeClock(),
    retry: { attempts: 4, baseMs: 100, maxWaitMs: 1_000 },
  });
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

  it('survives a notifier that throws something that is not a NotifyError (a bug): not retried, kept', async () => {
    const a = new ScriptedNotifier('x', [new TypeError('undefined is not a function')]);
    const d = delivery({ a });
    d.send(page());
    await d.drain();
    expect(a.attempts).toBe(1);
    expect(d.failures()[0]?.reason).toBe('undefined is not a function');
  });
});
