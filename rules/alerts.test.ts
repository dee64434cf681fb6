import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { z } from 'zod';
import { AlertBook, type AlertContext, alertsSchema, fingerprintOf, problemKeyOf, toAlert } from './alerts.js';
import { createEngine } from './engine.js';
import { DEFAULT_RULES, rulesSchema } from './config.js';
import type { Decision } from './decisions.js';
import type { RawAlert, VigilEvent, WebhookEvent } from './events.js';
import { parseMatcher } from './matchers.js';

const T0 = Date.parse('2026-11-18T11:00:00.000Z');
const SEC = 1_000;
const MIN = 60_000;

interface RawSpec {
  readonly name?: string;
  readonly status?: 'firing' | 'resolved';
  readonly service?: string;
  readonly instance?: string;
  readonly version?: string;
  readonly severity?: string;
  readonly extra?: Readonly<Record<string, string>>;
}

function raw(s: RawSpec = {}): RawAlert {
  const name = s.name ?? 'HighErrorRate';
  return {
    name, status: s.status ?? 'firing', startsAt: undefined, endsAt: undefined, summary: `${name} summary`, hints: {},
    labels: {
      alertname: name, service: s.service ?? 'checkout', severity: s.severity ?? 'critical', ...(s.instance ? { instance: s.instance } : {}),
      ...(s.version ? { version: s.version } : {}), ...s.extra,
    },
  };
}

/** A fake clock over the pure stage: `at(t).push(...)`, then read the decisions made up to a time. */
function timeline(settings: z.input<typeof alertsSchema> = {}, ctx: Partial<AlertContext> = {}) {
  const cfg = alertsSchema.parse(settings);
  const out: Decision[] = [];
  const book = new AlertBook(cfg, {
    route: () => ['console'], releaseIncident: () => undefined, canaries: () => new Map(), silences: () => [], ...ctx,
  }, (d) => out.push(d));
  const api = {
    book, out,
    at(t: number) {
      return {
        push(...alerts: RawAlert[]) {
          book.advance(t);
          book.add(alerts.map((a) => toAlert(a, 'alertmanager', t, cfg, () => [], () => undefined)), t);
          return api;
        },
      };
    },
    until(t: number) { book.advance(t); return out; },
  };
  return api;
}

const types = (ds: readonly Decision[]): string[] => ds.map((d) => (d.type === 'suppressed' ? `suppressed:${d.why}` : d.type));

describe('grouping (Alertmanager timers)', () => {
  it('waits group_wait, pages once with what arrived meanwhile, and tells new problems at the group interval', () => {
    const t = timeline();
    t.at(T0).push(raw({ instance: 'a' }));
    t.at(T0 + 10 * SEC).push(raw({ instance: 'b' }), raw({ name: 'HighLatency', instance: 'a' }));
    expect(t.until(T0 + 29 * SEC)).toEqual([]);
    const first = t.until(T0 + 30 * SEC);
    expect(types(first)).toEqual(['page', 'suppressed:duplicate']);
    const page = first[0];
    expect(page?.type === 'page' && page.alerts?.length).toBe(3);
    t.at(T0 + MIN).push(raw({ name: 'DiskFull', instance: 'c' }), raw({ instance: 'c' }));
    expect(types(t.until(T0 + 5 * MIN + 29 * SEC)).slice(2)).toEqual([]);
    expect(types(t.until(T0 + 5 * MIN + 30 * SEC)).slice(2)).toEqual(['update', 'suppressed:duplicate']);
  });

  it('resolves at the next group interval when every alert resolved, or at once with resolveImmediately', () => {
    for (const immediately of [false, true]) {
      const t = timeline({ resolveImmediately: immediately });
      t.at(T0).push(raw({ instance: 'a' }));
      t.until(T0 + 30 * SEC);
      t.at(T0 + MIN).push(raw({ instance: 'a', status: 'resolved' }));
      const resolvedAt = t.until(T0 + 10 * MIN).find((d) => d.type === 'resolve')?.ts;
      expect(resolvedAt).toBe(new Date(immediately ? T0 + MIN : T0 + 5 * MIN + 30 * SEC).toISOString());
    }
  });

  it('a group that fired and resolved within group_wait pages nobody', () => {
    const t = timeline();
    t.at(T0).push(raw()).at(T0 + 5 * SEC).push(raw({ status: 'resolved' }));
    expect(t.until(T0 + 10 * MIN)).toEqual([]);
  });

  it('an alert not sent again for the resolve timeout counts as resolved', () => {
    const t = timeline({ resolveTimeoutMs: 2 * MIN });
    t.at(T0).push(raw());
    expect(types(t.until(T0 + 10 * MIN))).toEqual(['page', 'resolve']);
  });

  it('repeats a group still firing with nothing new after repeat_interval, as an update', () => {
    const t = timeline({ repeatIntervalMs: 10 * MIN, groupIntervalMs: MIN });
    for (let m = 0; m <= 12; m++) t.at(T0 + m * MIN).push(raw());
    expect(types(t.until(T0 + 12 * MIN))).toEqual(['page', 'update']);
  });

  it('groups by the configured labels: another service is another incident', () => {
    const t = timeline();
    t.at(T0).push(raw({ service: 'checkout' }), raw({ service: 'search' }));
    expect(types(t.until(T0 + MIN))).toEqual(['page', 'page']);
  });
});

describe('which updates reach channels (notifyUpdates)', () => {
  const quietOf = (ds: readonly Decision[]): (string | undefined)[] => ds.filter((d) => d.type === 'update').map((d) => (d.type === 'update' ? d.quiet ?? 'told' : undefined));
  const datadog = (instance: string, severity = 'critical'): RawAlert => ({ ...raw({ name: 'CheckoutErrors', instance, severity }), summary: 'High error rate on checkout' });

  it('another tool and more instances on the same kind of signal update quietly; a new kind is told', () => {
    const t = timeline();
    t.at(T0).push(raw({ instance: 'a' }));
    t.until(T0 + 30 * SEC);
    t.at(T0 + MIN).push(datadog('a'), datadog('b'), raw({ instance: 'c' }));
    const corroborated = t.until(T0 + 5 * MIN + 30 * SEC);
    expect(types(corroborated)).toEqual(['page', 'update', 'suppressed:duplicate', 'suppressed:duplicate']);
    expect(quietOf(corroborated)).toEqual(['corroborating']);
    t.at(T0 + 6 * MIN).push({ ...raw({ name: 'CheckoutSlow', instance: 'a' }), summary: 'p99 latency above 2 s' });
    expect(quietOf(t.until(T0 + 10 * MIN + 30 * SEC))).toEqual(['corroborating', 'told']);
  });

  it('an update that raises the severity is told, one that does not is quiet', () => {
    const t = timeline();
    t.at(T0).push(raw({ instance: 'a', severity: 'warning' }));
    t.at(T0 + MIN).push(datadog('a', 'warning'));
    t.at(T0 + 6 * MIN).push(raw({ name: 'HighErrorRatio', instance: 'a', severity: 'critical' }));
    t.at(T0 + 11 * MIN).push(raw({ name: 'ErrorBudgetBurn', instance: 'a', severity: 'warning' }));
    expect(quietOf(t.until(T0 + 15 * MIN + 30 * SEC))).toEqual(['corroborating', 'told', 'corroborating']);
  });

  it('with notifyUpdates: all every update is told, as Alertmanager tells every change of a group', () => {
    const t = timeline({ notifyUpdates: 'all' });
    t.at(T0).push(raw({ instance: 'a' }));
    t.at(T0 + MIN).push(datadog('a'));
    expect(quietOf(t.until(T0 + 5 * MIN + 30 * SEC))).toEqual(['told']);
  });

  it('an alert no kind pattern matches is a kind of its own', () => {
    const t = timeline({ signalKinds: { errors: ['error'] } });
    t.at(T0).push(raw({ instance: 'a' }));
    t.at(T0 + MIN).push({ ...raw({ name: 'PaymentsBacklog', instance: 'a' }), summary: 'payments backlog' });
    t.at(T0 + 6 * MIN).push({ ...raw({ name: 'PaymentsStuck', instance: 'b' }), summary: 'payments stuck' });
    t.at(T0 + 11 * MIN).push(datadog('b'));
    expect(quietOf(t.until(T0 + 15 * MIN + 30 * SEC))).toEqual(['told', 'told', 'corroborating']);
  });

  it('alerts joining a release regression are quiet when they show its signal, told when they add one', () => {
    const release = { releaseIncident: (s: string) => (s === 'checkout' ? { id: 'checkout-r42-x', versions: ['v42'], signals: ['errors'], severity: 'critical' as const } : undefined) };
    const same = timeline({}, release);
    same.at(T0).push(raw({ instance: 'a' }));
    expect(quietOf(same.until(T0 + MIN))).toEqual(['corroborating']);
    const other = timeline({}, release);
    other.at(T0).push({ ...raw({ name: 'CheckoutSlow', instance: 'a' }), summary: 'p99 latency above 2 s' });
    expect(quietOf(other.until(T0 + MIN))).toEqual(['told']);
  });

  it('repeat_interval counts from the last notification told, not from a quiet update', () => {
    const t = timeline({ repeatIntervalMs: 20 * MIN, resolveTimeoutMs: 60 * MIN });
    t.at(T0).push(raw({ instance: 'a' }));
    t.at(T0 + MIN).push(datadog('a'));
    const out = t.until(T0 + 21 * MIN);
    const updates = out.filter((d) => d.type === 'update');
    expect(updates.map((u) => [u.ts, u.type === 'update' && (u.quiet ?? 'told')])).toEqual([
      [new Date(T0 + 5.5 * MIN).toISOString(), 'corroborating'],
      [new Date(T0 + 20.5 * MIN).toISOString(), 'told'],
    ]);
  });

  it('a signal kind that is not a regular expression is refused with the reason', () => {
    const p = alertsSchema.safeParse({ signalKinds: { errors: ['(unclosed'] } });
    expect(p.success).toBe(false);
    expect(p.error?.issues[0]?.message).toMatch(/not a regular expression/);
  });
});

describe('noise control', () => {
  it('a silence from the config mutes matching alerts until it expires, with a suppressed record', () => {
    const t = timeline({ silences: [{ id: 'db-work', matchers: ['alertname="HighErrorRate"'], startsAt: T0 - MIN, endsAt: T0 + 3 * MIN, createdBy: 'ops', comment: 'db migration' }] });
    for (let m = 0; m <= 6; m++) t.at(T0 + m * MIN).push(raw());
    // The muted group is looked at again a group interval later, as Alertmanager does.
    const out = t.until(T0 + 6 * MIN);
    expect(types(out)).toEqual(['suppressed:silenced', 'page']);
    expect(out[0]?.type === 'suppressed' && out[0].detail).toBe('silence db-work: db migration');
    expect(Date.parse(out[1]?.ts ?? '')).toBeGreaterThanOrEqual(T0 + 3 * MIN);
  });

  it('a silence made through the API port mutes the same way', () => {
    const t = timeline({}, { silences: () => [{ id: 's1', matchers: [parseMatcher('service=~"check.*"')], startsAt: T0, endsAt: T0 + 60 * MIN, createdBy: '', comment: '' }] });
    t.at(T0).push(raw());
    expect(types(t.until(T0 + 10 * MIN))).toEqual(['suppressed:silenced']);
  });

  it('an inhibition rule mutes the target while the source fires, with equal labels only', () => {
    const inhibit = [{ source: ['alertname="DatacenterDown"'], target: ['severity="warning"'], equal: ['dc'] }];
    const t = timeline({ inhibit });
    t.at(T0).push(
      raw({ name: 'DatacenterDown', extra: { dc: 'eu' } }),
      raw({ name: 'SlowDisk', severity: 'warning', instance: 'a', extra: { dc: 'eu' } }),
      raw({ name: 'SlowDisk', severity: 'warning', instance: 'b', extra: { dc: 'us' } }),
    );
    const out = t.until(T0 + MIN);
    expect(types(out)).toEqual(['suppressed:inhibited', 'page']);
    const page = out.find((d) => d.type === 'page');
    expect(page?.type === 'page' && page.alerts?.map((a) => a.instance ?? a.name).sort()).toEqual(['DatacenterDown', 'b']);
  });

  it('a maintenance window mutes matching alerts inside it only', () => {
    const t = timeline({ maintenance: [{ name: 'kernel-upgrade', matchers: ['service="checkout"'], startsAt: T0, endsAt: T0 + 20 * MIN }] });
    t.at(T0).push(raw());
    expect(types(t.until(T0 + 2 * MIN))).toEqual(['suppressed:maintenance']);
    for (let m = 21; m <= 23; m++) t.at(T0 + m * MIN).push(raw());
    expect(types(t.until(T0 + 24 * MIN))).toEqual(['suppressed:maintenance', 'page']);
  });

  it('a flapping alert is held, then paged once when it goes on flapping', () => {
    const flapping = (flap: boolean) => {
      const t = timeline(flap ? {} : { flap: { transitions: 1000 } });
      // Fires for 10 s every 2 minutes for 30 minutes: each episode ends within group_wait.
      for (let m = 0; m < 30; m += 2) t.at(T0 + m * MIN).push(raw({ name: 'ProbeFlapping' })).at(T0 + m * MIN + 10 * SEC).push(raw({ name: 'ProbeFlapping', status: 'resolved' }));
      return t.until(T0 + 60 * MIN);
    };
    // Without flap control no episode lasts long enough to page: the flapping goes unseen.
    expect(flapping(false)).toEqual([]);
    const out = flapping(true);
    expect(types(out)).toEqual(['suppressed:flapping', 'page', 'resolve']);
    const held = Date.parse(out[0]?.ts ?? '');
    expect(Date.parse(out[1]?.ts ?? '') - held).toBeGreaterThanOrEqual(10 * MIN - 30 * SEC);
  });
});

describe('release regressions and canaries', () => {
  it('alerts of a service with an open release-regression incident join it as an update, never a page', () => {
    const t = timeline({}, { releaseIncident: (s) => (s === 'checkout' ? { id: 'checkout-r42-x', versions: ['v42'], signals: ['errors'] } : undefined) });
    t.at(T0).push(raw({ instance: 'a' }), raw({ instance: 'b' }));
    const out = t.until(T0 + 10 * MIN);
    expect(types(out)).toEqual(['update', 'suppressed:duplicate']);
    expect(out[0]?.type === 'update' && [out[0].incident, out[0].versions, out[0].signals]).toEqual(['checkout-r42-x', ['v42'], ['errors', 'alerts']]);
  });

  it('alerts across the fleet while a canary is judged do not blame the canary', () => {
    const canaries = () => new Map([['v42', { failed: false }]]);
    const t = timeline({}, { canaries });
    t.at(T0).push(raw({ instance: 'c1', version: 'v42' }), raw({ instance: 's1', version: 'v41' }));
    const page = t.until(T0 + 10 * MIN).find((d) => d.type === 'page');
    expect(page?.type === 'page' && page.versions).toEqual([]);
  });

  it('alerts only on a canary being judged wait for the judge, then name the canary', () => {
    const canaries = () => new Map([['v42', { failed: false }]]);
    const t = timeline({ canaryHoldMs: 2 * MIN }, { canaries });
    t.at(T0).push(raw({ instance: 'c1', version: 'v42' }));
    expect(t.until(T0 + 2 * MIN)).toEqual([]);
    for (let s = 0; s <= 150; s += 30) t.at(T0 + s * SEC).push(raw({ instance: 'c1', version: 'v42' }));
    const page = t.until(T0 + 3 * MIN).find((d) => d.type === 'page');
    expect(page?.type === 'page' && [page.ts, page.versions]).toEqual([new Date(T0 + 2.5 * MIN).toISOString(), ['v42']]);
  });
});

describe('laws', () => {
  const alertArb = fc.record({
    name: fc.constantFrom('HighErrorRate', 'HighLatency', 'DiskFull'),
    instance: fc.constantFrom('a', 'b', 'c', 'd'),
    status: fc.constantFrom<'firing' | 'resolved'>('firing', 'firing', 'resolved'),
    service: fc.constantFrom('checkout', 'search'),
  });

  it('re-sending the same alert any number of times changes nothing', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 * 60 }), alertArb), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 30, maxLength: 30 }), (items, repeats) => {
      const sorted = [...items].sort((a, b) => a[0] - b[0]);
      const once = timeline();
      const many = timeline();
      sorted.forEach(([s, a], i) => {
        once.at(T0 + s * SEC).push(raw(a));
        for (let r = 0; r < (repeats[i] ?? 1); r++) many.at(T0 + s * SEC).push(raw(a));
      });
      expect(many.until(T0 + 60 * MIN)).toEqual(once.until(T0 + 60 * MIN));
    }));
  });

  it('grouping does not depend on the order alerts arrive in within group_wait', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 29 }), alertArb.map((a) => ({ ...a, status: 'firing' as const }))), { minLength: 1, maxLength: 20 }).chain((items) =>
      fc.tuple(fc.constant(items), fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }))), ([items, shuffled]) => {
      const run = (list: typeof items): Decision[] => {
        const t = timeline();
        for (const [s, a] of list) t.book.add([toAlert(raw(a), 'alertmanager', T0 + s * SEC, alertsSchema.parse({}), () => [], () => undefined)], T0 + s * SEC);
        return t.until(T0 + 30 * MIN);
      };
      expect(run(shuffled)).toEqual(run(items));
    }));
  });
});

describe('through the engine', () => {
  const webhook = (ts: number, alerts: RawAlert[]): WebhookEvent => ({ type: 'webhook', ts, source: 'alertmanager', body: {}, alerts });

  it('500 alerts about one problem from 50 instances across 3 canaries and 2 tools over 10 minutes page exactly once, with updates', () => {
    const events: VigilEvent[] = [];
    const stable = Array.from({ length: 41 }, (_, i) => `checkout-v41-${i}`);
    const canaries = ['a', 'b', 'c'].map((c) => ({ version: `v42-${c}`, instances: Array.from({ length: 3 }, (_, i) => `checkout-v42${c}-${i}`) }));
    events.push({ type: 'deploy', ts: T0 - 30 * MIN, service: 'checkout', version: 'v41', role: 'stable', action: 'start', instances: stable });
    for (const c of canaries) events.push({ type: 'deploy', ts: T0 - MIN, service: 'checkout', version: c.version, role: 'canary', action: 'start', instances: c.instances, release: 'r42' });
    const all = [...stable, ...canaries.flatMap((c) => c.instances)];
    expect(all.length).toBe(50);
    // Tool 1 (Alertmanager) from the start, tool 2 (Datadog) from minute 3: 5 deliveries per instance each = 500 alerts.
    for (let k = 0; k < 5; k++) {
      all.forEach((instance, i) => {
        events.push(webhook(T0 + k * 2 * MIN + (i % 10) * SEC, [raw({ name: 'HighErrorRate', instance })]));
        events.push({ type: 'webhook', ts: T0 + 3 * MIN + k * 84 * SEC + (i % 10) * SEC, source: 'datadog', body: {}, alerts: [{ ...raw({ name: 'error-rate', instance }), labels: { alertname: 'error-rate', service: 'checkout', host: instance } }] });
      });
    }
    events.sort((a, b) => a.ts - b.ts);
    expect(events.filter((e) => e.type === 'webhook').length).toBe(500);
    const out: Decision[] = [];
    const engine = createEngine(DEFAULT_RULES, (d) => out.push(d));
    for (const e of events) engine.push(e);
    engine.advanceTo(T0 + 12 * MIN);
    const pages = out.filter((d) => d.type === 'page');
    expect(pages.length).toBe(1);
    expect(pages[0]?.type === 'page' && pages[0].versions).toEqual([]);
    const updates = out.filter((d) => d.type === 'update');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    // Every update only corroborates the page (more instances, the second tool on the same errors): people hear the page alone.
    expect(updates.map((u) => u.type === 'update' && u.quiet)).toEqual(updates.map(() => 'corroborating'));
    expect(out.filter((d) => d.type === 'suppressed' && d.why === 'duplicate').length).toBeGreaterThan(90);
  });

  it('keeps its alert state over a checkpoint: the engine rebuilt from it decides as the uninterrupted one', () => {
    const cfg = rulesSchema.parse({ alerts: { groupIntervalMs: 2 * MIN, flap: { transitions: 3 } } });
    const events: VigilEvent[] = [];
    for (let m = 0; m < 20; m++) {
      events.push(webhook(T0 + m * MIN, [raw({ instance: `i-${m % 4}` }), raw({ name: 'Probe', status: m % 2 === 0 ? 'firing' : 'resolved' })]));
      if (m === 6) events.push(webhook(T0 + m * MIN + SEC, [raw({ name: 'DiskFull', instance: 'i-9' })]));
    }
    const whole: Decision[] = [];
    const a = createEngine(cfg, (d) => whole.push(d));
    for (const e of events) a.push(e);
    a.finish();
    for (const cut of [3, 8, 15]) {
      const head: Decision[] = [];
      const b = createEngine(cfg, (d) => head.push(d));
      const cutIndex = events.findIndex((e) => e.ts >= T0 + cut * MIN);
      for (const e of events.slice(0, cutIndex)) b.push(e);
      const saved = JSON.parse(JSON.stringify(b.checkpoint())) as ReturnType<typeof b.checkpoint>;
      expect(saved.alerts?.groups.length).toBeGreaterThan(0);
      const tail: Decision[] = [];
      const c = createEngine(cfg, (d) => tail.push(d), saved);
      for (const e of events.slice(cutIndex)) c.push(e);
      c.finish();
      expect([...head, ...tail]).toEqual(whole);
    }
  });
});

describe('keys of an alert', () => {
  it('are those of fingerprintOf and problemKeyOf', () => {
    fc.assert(fc.property(fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'instance', 'pod', 'version', 'dc', 'a=b', '', 'a', 'ab', 'a\u0000b', 'a\u0000'), fc.string({ maxLength: 4, unit: 'binary' })), fc.string({ maxLength: 6, unit: 'binary' })), (labels) => {
      const a = toAlert({ name: 'x', status: 'firing', labels, startsAt: undefined, endsAt: undefined, summary: undefined, hints: {} }, 'generic', 0, DEFAULT_RULES.alerts, () => [], () => undefined);
      expect(a.fingerprint).toBe(fingerprintOf(a.labels));
      expect(a.problem).toBe(problemKeyOf(a.labels, DEFAULT_RULES.alerts.problemDropLabels));
    }));
  });
});
