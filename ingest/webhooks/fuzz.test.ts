/**
 * Every source's normaliser against hostile bodies: recorded payloads with parts replaced by
 * wrong types, huge strings and arrays, deep nesting and `__proto__` / `constructor` /
 * `prototype` keys, and arbitrary JSON. Each must answer alerts within the limits or a short
 * reason, never throw, and never touch Object.prototype. The HTTP side is app/webhooks-fuzz.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_SOURCES } from '../../rules/events.js';
import { DEFAULT_RULES } from '../../rules/config.js';
import { toAlert } from '../../rules/alerts.js';
import { normaliseWebhook, type Normalised } from './index.js';
import { FIXTURES, expectNoPollution, fixtureBody, hostileValue, mutatedBody } from '../../test/hostile-webhooks.js';
import { MAX_ALERTS_PER_PAYLOAD, MAX_ALERT_LABELS, MAX_ALERT_NAME_CHARS, MAX_BODY_DEPTH, MAX_LABEL_VALUE_CHARS, MAX_SUMMARY_CHARS } from './payload.js';

const RUNS = 400;

/** Alerts within the limits, each one the engine can take; or a short, non-empty reason. */
function expectClear(r: Normalised): void {
  if (!r.ok) {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
    expect(r.reason.length).toBeLessThan(1_000);
    return;
  }
  expect(r.alerts.length).toBeLessThanOrEqual(MAX_ALERTS_PER_PAYLOAD);
  for (const a of r.alerts) {
    expect(typeof a.name).toBe('string');
    expect(a.name.length).toBeLessThanOrEqual(MAX_ALERT_NAME_CHARS);
    expect(['firing', 'resolved']).toContain(a.status);
    // labelsOf keeps MAX_ALERT_LABELS, then the alert name may be set beside them.
    expect(Object.keys(a.labels).length).toBeLessThanOrEqual(MAX_ALERT_LABELS + 1);
    expect(Object.getPrototypeOf(a.labels)).toBe(Object.prototype);
    for (const [k, v] of Object.entries(a.labels)) {
      expect(typeof v, k).toBe('string');
      expect(v.length).toBeLessThanOrEqual(MAX_LABEL_VALUE_CHARS);
    }
    if (a.summary !== undefined) expect(a.summary.length).toBeLessThanOrEqual(MAX_SUMMARY_CHARS);
    for (const h of Object.values(a.hints)) if (h !== undefined) expect(h.length).toBeLessThanOrEqual(MAX_ALERT_NAME_CHARS);
    for (const t of [a.startsAt, a.endsAt]) if (t !== undefined) expect(Number.isFinite(t)).toBe(true);
    // The engine's next step takes it as it is.
    const alert = toAlert(a, 'generic', 1_000, DEFAULT_RULES.alerts, () => ['checkout'], () => undefined);
    expect(typeof alert.fingerprint).toBe('string');
  }
}

describe.each(WEBHOOK_SOURCES)('the %s normaliser against hostile bodies', (source) => {
  it('recorded payloads with parts replaced: alerts within the limits or a reason', () => {
    fc.assert(fc.property(mutatedBody(source), (body) => {
      expectClear(normaliseWebhook(source, body));
      expectNoPollution();
    }), { numRuns: RUNS });
  });

  it('arbitrary JSON and hostile values: alerts within the limits or a reason', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), hostileValue, fc.json()), (body) => {
      expectClear(normaliseWebhook(source, body));
      expectNoPollution();
    }), { numRuns: RUNS });
  });

  it('bodies nested deeper than the limit: a reason, without recursion', () => {
    let nested: unknown = { status: 'firing', title: 'T' };
    for (let i = 0; i < 100_000; i++) nested = { alerts: [nested] };
    for (const body of [nested, { ...(fixtureBody(FIXTURES[source][0] ?? '') as object), extra: nested }]) {
      const r = normaliseWebhook(source, body);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain(`nested deeper than ${MAX_BODY_DEPTH} levels`);
    }
  });
});

describe('limits every source keeps', () => {
  it('cuts huge names, summaries and hints to the limits', () => {
    const huge = 'n'.repeat(100_000);
    const r = normaliseWebhook('generic', { title: huge, status: 'firing', summary: huge, service: huge, version: huge, instance: huge, severity: huge });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [a] = r.alerts;
    expect(a?.name).toHaveLength(MAX_ALERT_NAME_CHARS);
    expect(a?.summary).toHaveLength(MAX_SUMMARY_CHARS);
    expect(a?.hints.service).toHaveLength(MAX_ALERT_NAME_CHARS);
  });

  it('keeps a rejection short when the offending key is huge', () => {
    const r = normaliseWebhook('alertmanager', { alerts: [{ status: 'firing', labels: { a: 'b' }, ['k'.repeat(50_000)]: 1 }], version: 'x'.repeat(50_000) });
    expect(r.ok).toBe(false);
    const r2 = normaliseWebhook('sentry', { action: 'triggered', data: { event: { tags: [['k'.repeat(50_000), { no: 1 }]] }, triggered_rule: 'r' } });
    expect(r2.ok).toBe(false);
    for (const x of [r, r2]) if (!x.ok) expect(x.reason.length).toBeLessThan(1_000);
  });
});
