/**
 * Every source's normaliser against hostile bodies: recorded payloads with parts replaced by
 * wrong types, huge strings and arrays, deep nesting and `__proto__` / `constructor` /
 * `prototype` keys, and arbitrary JSON. Each must answer alerts within the limits or a short
 * reason, never throw, and never touch Object.prototype. The HTTP side is app/webhooks-fuzz.test.ts.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_SOURCES, type WebhookSource } from '../../rules/events.js';
import { DEFAULT_RULES } from '../../rules/config.js';
import { toAlert } from '../../rules/alerts.js';
import { normaliseWebhook, type Normalised } from './index.js';
import { MAX_ALERTS_PER_PAYLOAD, MAX_ALERT_LABELS, MAX_ALERT_NAME_CHARS, MAX_BODY_DEPTH, MAX_LABEL_VALUE_CHARS, MAX_SUMMARY_CHARS } from './payload.js';

const RUNS = 400;

/** The recorded payloads of each source, the starting points of the mutations. */
export const FIXTURES: Readonly<Record<WebhookSource, readonly string[]>> = {
  alertmanager: ['alertmanager-firing', 'alertmanager-resolved'],
  grafana: ['grafana-firing', 'grafana-resolved'],
  datadog: ['datadog-firing', 'datadog-resolved'],
  cloudwatch: ['cloudwatch-firing', 'cloudwatch-resolved', 'cloudwatch-subscription'],
  sentry: ['sentry-firing'],
  generic: ['generic-firing', 'generic-resolved'],
};

/** A recorded payload as parsed JSON. */
export function fixtureBody(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/webhooks/${name}.json`, import.meta.url), 'utf8'));
}

/** Objects carrying attack keys as own properties, the way JSON.parse makes them. */
const ATTACKS: readonly unknown[] = [
  JSON.parse('{"__proto__":{"polluted":"yes","alertname":"x"}}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  JSON.parse('{"prototype":{"polluted":"yes"},"__proto__":[1,2]}'),
  JSON.parse('{"labels":{"__proto__":{"polluted":"yes"},"constructor":"c","alertname":"A"},"status":"firing","title":"T"}'),
];

/** A value too big or too deep for any payload. */
const extreme = fc.constantFrom<() => unknown>(
  () => 'x'.repeat(200_000),
  () => Array.from({ length: 5_000 }, (_, i) => ({ status: 'firing', labels: { alertname: `a${i}` }, title: `a${i}` })),
  () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${'y'.repeat(i % 50)}${i}`, 'v'.repeat(3_000)])),
  () => { let v: unknown = 1; for (let i = 0; i < 10_000; i++) v = [v]; return v; },
  () => { let v: unknown = 'deep'; for (let i = 0; i < 10_000; i++) v = { a: v }; return v; },
  () => ({ ['k'.repeat(100_000)]: 'v' }),
).map((make) => make());

/** Hostile values: wrong types, odd numbers and texts, attack keys, nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.constantFrom('firing', 'resolved', 'ALARM', 'OK', 'Notification', '4', '0001-01-01T00:00:00Z', '', '__proto__', 'constructor', '\u0000', '\ud800'),
    fc.constantFrom(...ATTACKS),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('status', 'labels', 'alerts', 'title', 'alertname', 'Message', 'Type', '__proto__', 'constructor', 'prototype', 'toString', 'data', 'event', 'tags'), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Every path to a value inside a JSON value. */
function pathsOf(value: unknown, at: readonly (string | number)[] = [], out: (readonly (string | number)[])[] = []): (readonly (string | number)[])[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  return out;
}

/** A copy of `value` with the value at `path` replaced (own properties only, so attack keys stay data). */
function replaced(value: unknown, path: readonly (string | number)[], by: unknown): unknown {
  if (path.length === 0) return by;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaced(v, rest, by) : v));
  // An earlier edit replaced this part by a scalar: the later one has nothing to go into.
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) Object.defineProperty(copy, k, { value: k === head ? replaced(v, rest, by) : v, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A recorded payload of `source` with one to three of its values replaced by hostile or extreme ones. */
export function mutatedBody(source: WebhookSource): fc.Arbitrary<unknown> {
  return fc.constantFrom(...FIXTURES[source]).chain((name) => {
    const base = fixtureBody(name);
    const paths = pathsOf(base);
    const edit = fc.tuple(fc.constantFrom(...paths), fc.oneof({ weight: 6, arbitrary: hostileValue }, { weight: 1, arbitrary: extreme }));
    return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((b, [p, v]) => replaced(b, p, v), base));
  });
}

/** Object.prototype's own keys before any input was read. */
export const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Fails when any input reached Object.prototype. */
export function expectNoPollution(): void {
  const probe: Record<string, unknown> = {};
  for (const k of ['polluted', 'alertname', 'status', 'isAdmin']) expect(probe[k], `Object.prototype.${k}`).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
}

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
