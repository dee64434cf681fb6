import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normaliseWebhook } from './index.js';
import { alertmanagerSchema, amAlerts, fastAlertmanagerAlerts } from './alertmanager.js';
import { labelsOf, labelsOfRecord } from './payload.js';
import { fingerprintOf, toAlert } from '../../rules/alerts.js';
import { DEFAULT_RULES } from '../../rules/config.js';
import type { WebhookSource } from '../../rules/events.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../test/fixtures/webhooks/${name}.json`, import.meta.url), 'utf8'));

function alertsOf(source: WebhookSource, name: string) {
  const r = normaliseWebhook(source, fixture(name));
  if (!r.ok) throw new Error(r.reason);
  return r.alerts.map((a) => toAlert(a, source, 1_000, DEFAULT_RULES.alerts, () => ['checkout', 'search-api'], () => undefined));
}

describe('normalisers read every recorded payload to one alert shape', () => {
  const table: { source: WebhookSource; file: string; name: string; status: 'firing' | 'resolved'; instance?: string; version?: string; severity: string; ends: boolean }[] = [
    { source: 'alertmanager', file: 'alertmanager-firing', name: 'PaymentsGatewayDown', status: 'firing', severity: 'critical', ends: false },
    { source: 'alertmanager', file: 'alertmanager-resolved', name: 'PaymentsGatewayDown', status: 'resolved', severity: 'critical', ends: true },
    { source: 'grafana', file: 'grafana-firing', name: 'CheckoutLatencyP99', status: 'firing', severity: 'critical', ends: false },
    { source: 'grafana', file: 'grafana-resolved', name: 'CheckoutLatencyP99', status: 'resolved', severity: 'critical', ends: true },
    { source: 'datadog', file: 'datadog-firing', name: 'High error rate on checkout', status: 'firing', instance: 'checkout-v41-0', severity: 'critical', ends: false },
    { source: 'datadog', file: 'datadog-resolved', name: 'High error rate on checkout', status: 'resolved', instance: 'checkout-v41-6', severity: 'critical', ends: true },
    { source: 'cloudwatch', file: 'cloudwatch-firing', name: 'checkout-5xx-high', status: 'firing', severity: 'critical', ends: false },
    { source: 'cloudwatch', file: 'cloudwatch-resolved', name: 'checkout-5xx-high', status: 'resolved', severity: 'critical', ends: true },
    { source: 'sentry', file: 'sentry-firing', name: 'circuit-breaker-open', status: 'firing', instance: 'checkout-v41-0', version: 'v41', severity: 'critical', ends: false },
    { source: 'generic', file: 'generic-firing', name: 'SyntheticCheckFailing', status: 'firing', severity: 'critical', ends: false },
    { source: 'generic', file: 'generic-resolved', name: 'SyntheticCheckFailing', status: 'resolved', severity: 'critical', ends: true },
  ];
  it.each(table)('$file', (row) => {
    const [a, ...rest] = alertsOf(row.source, row.file);
    expect(rest).toEqual([]);
    expect(a).toBeDefined();
    if (!a) return;
    expect({ name: a.name, status: a.status, service: a.service, instance: a.instance, version: a.version, severity: a.severity })
      .toEqual({ name: row.name, status: row.status, service: 'checkout', instance: row.instance, version: row.version, severity: row.severity });
    expect(a.endsAt !== undefined).toBe(row.ends);
    // Where the alert is does not make another problem.
    for (const k of ['instance', 'host', 'server_name', 'version', 'release', 'severity']) expect(a.problem).not.toMatch(new RegExp(`(^|,)${k}=`));
    expect(a.problem).toContain(`alertname=${row.name}`);
  });

  it('firing and resolved payloads of one alert share its fingerprint', () => {
    for (const [source, name] of [['alertmanager', 'alertmanager'], ['grafana', 'grafana'], ['cloudwatch', 'cloudwatch'], ['generic', 'generic']] as const) {
      expect(alertsOf(source, `${name}-firing`)[0]?.fingerprint).toBe(alertsOf(source, `${name}-resolved`)[0]?.fingerprint);
    }
  });

  it('an SNS subscription handshake carries no alert', () => {
    expect(normaliseWebhook('cloudwatch', fixture('cloudwatch-subscription'))).toEqual({ ok: true, alerts: [] });
  });

  it('an SNS body sent as text/plain reads as the same JSON', () => {
    const body = fixture('cloudwatch-firing');
    expect(normaliseWebhook('cloudwatch', JSON.stringify(body))).toEqual(normaliseWebhook('cloudwatch', body));
  });

  it('labels win over the source\'s own fields, and the mapping says which labels count', () => {
    const body = { title: 'Down', status: 'firing', service: 'from-field', labels: { app: 'from-label', tier: 'gold' } };
    const r = normaliseWebhook('generic', body);
    if (!r.ok) throw new Error(r.reason);
    const raw = r.alerts[0];
    if (!raw) throw new Error('no alert');
    expect(toAlert(raw, 'generic', 0, DEFAULT_RULES.alerts, () => [], () => undefined).service).toBe('from-label');
    const mapping = { ...DEFAULT_RULES.alerts.mapping, service: ['tier'] };
    expect(toAlert(raw, 'generic', 0, { ...DEFAULT_RULES.alerts, mapping }, () => [], () => undefined).service).toBe('gold');
    const noLabel = { ...DEFAULT_RULES.alerts.mapping, service: ['nothing'] };
    expect(toAlert(raw, 'generic', 0, { ...DEFAULT_RULES.alerts, mapping: noLabel }, () => [], () => undefined).service).toBe('from-field');
  });

  it('an alert with no version label takes its instance\'s version from the deploy registry', () => {
    const [a] = alertsOf('datadog', 'datadog-firing');
    expect(a?.version).toBeUndefined();
    const r = normaliseWebhook('datadog', fixture('datadog-firing'));
    if (!r.ok || !r.alerts[0]) throw new Error('unreadable');
    expect(toAlert(r.alerts[0], 'datadog', 0, DEFAULT_RULES.alerts, () => ['checkout'], (s, i) => (s === 'checkout' && i === 'checkout-v41-0' ? 'v41' : undefined)).version).toBe('v41');
  });

  it.each([
    ['alertmanager', { alerts: 'x' }, /^not a alertmanager payload: alerts: /],
    ['alertmanager', { version: '3', alerts: [] }, /version "3"/],
    ['grafana', [], /^not a grafana payload: body: /],
    ['datadog', { title: 'no id' }, /^not a datadog payload: alert_id: /],
    ['cloudwatch', 'not json at all', /^not a cloudwatch \(SNS\) payload: body: /],
    ['cloudwatch', { ...(fixture('cloudwatch-firing') as object), Message: '{"nope":1}' }, /^not a cloudwatch alarm \(SNS Message\) payload: AlarmName: /],
    ['sentry', { action: 'triggered', data: {} }, /^not a sentry payload: data\.event: /],
    ['generic', { status: 'firing' }, /needs "title" or "alertname"/],
  ] as const)('%s body %j is refused with the reason', (source, body, reason) => {
    const r = normaliseWebhook(source, body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe('fingerprints', () => {
  it('do not depend on the order labels came in', () => {
    const labelSets = fc.uniqueArray(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { selector: ([k]) => k, maxLength: 12 })
      .chain((pairs) => fc.tuple(fc.constant(pairs), fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length })));
    fc.assert(fc.property(labelSets, ([pairs, shuffled]) => {
      expect(fingerprintOf(Object.fromEntries(shuffled))).toBe(fingerprintOf(Object.fromEntries(pairs)));
    }));
  });

  it('differ when a label value differs', () => {
    expect(fingerprintOf({ a: '1', b: '2' })).not.toBe(fingerprintOf({ a: '1', b: '3' }));
    expect(fingerprintOf({ a: '1b', b: '' })).not.toBe(fingerprintOf({ a: '1', bb: '' }));
  });
});

describe('the hand-written Alertmanager decoder', () => {
  // Mostly well-formed, so that bodies wrong in one place only (the ones a decoder gets wrong) come up often.
  const loose = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: arb, weight: 12 }, fc.constant(undefined), fc.constant(null), fc.integer(), fc.string({ maxLength: 4 }), fc.array(fc.string({ maxLength: 2 }), { maxLength: 2 }));
  const labelRecord = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'service', 'instance', 'severity', ''), fc.string({ maxLength: 4 })), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 6 });
  const time = fc.oneof(fc.constantFrom('2026-11-18T11:00:00Z', '0001-01-01T00:00:00Z', '2026-11-18T11:00:00+0100', '2026-11-18T11:00:00.5+01:00', 'soon'), fc.integer());
  const alert = fc.record({
    status: loose(fc.constantFrom('firing', 'resolved', 'pending')), labels: loose(labelRecord), annotations: loose(labelRecord),
    startsAt: loose(time), endsAt: loose(time), fingerprint: loose(fc.string({ maxLength: 4 })), extra: fc.jsonValue({ maxDepth: 1 }),
  }, { requiredKeys: [] });
  const body = fc.oneof(
    fc.record({
      version: loose(fc.constantFrom('4', '3')), status: loose(fc.constantFrom('firing', 'resolved')), alerts: loose(fc.array(alert, { maxLength: 4 })),
      groupLabels: loose(labelRecord), commonLabels: loose(labelRecord), receiver: fc.string({ maxLength: 4 }),
    }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  // What the normaliser gave before it had a fast path: the schema decides alone.
  const bySchema = (b: unknown): { ok: boolean; alerts?: unknown } => {
    const p = alertmanagerSchema.safeParse(b);
    if (!p.success || (p.data.version !== undefined && p.data.version !== '4')) return { ok: false };
    return { ok: true, alerts: amAlerts(p.data.alerts) };
  };

  it('reads every body as the schema does: the same alerts, or refused', () => {
    fc.assert(fc.property(body, (b) => {
      // Through JSON, as the receiver gets bodies.
      const json = JSON.parse(JSON.stringify(b) ?? 'null') as unknown;
      const r = normaliseWebhook('alertmanager', json);
      const expected = bySchema(json);
      expect(r.ok).toBe(expected.ok);
      if (r.ok) expect(r.alerts).toEqual(expected.alerts);
      if (fastAlertmanagerAlerts(json) !== undefined) expect(alertmanagerSchema.safeParse(json).success).toBe(true);
    }), { numRuns: 2_000 });
  });

  it('takes the fast path for well-formed bodies, as Alertmanager sends them', () => {
    const good = fc.array(fc.record({
      status: fc.constantFrom('firing', 'resolved'), labels: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 6 }),
      annotations: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }), startsAt: time.filter((t) => typeof t === 'string'),
    }), { maxLength: 5 });
    fc.assert(fc.property(good, (alerts) => {
      expect(fastAlertmanagerAlerts({ version: '4', status: 'firing', alerts, groupLabels: {}, commonLabels: {} })).toBeDefined();
    }));
    expect(fastAlertmanagerAlerts(fixture('alertmanager-firing'))).toBeDefined();
    const tooMany = { alerts: Array.from({ length: 1_001 }, () => ({ status: 'firing', labels: { alertname: 'A' } })) };
    expect(normaliseWebhook('alertmanager', tooMany)).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a alertmanager payload: alerts: /) });
  });

  it('labelsOfRecord gives the labels labelsOf gives', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 1_100 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 70 }), (r) => {
      expect(labelsOfRecord(r)).toEqual(labelsOf(Object.entries(r)));
    }), { numRuns: 300 });
  });
});
