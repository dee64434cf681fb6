/**
 * Hostile webhook bodies for the fuzz tests of the normalisers (ingest/webhooks/fuzz.test.ts)
 * and of the HTTP receivers (app/webhooks-fuzz.test.ts): recorded payloads with parts
 * replaced by wrong types, huge or deep values and attack keys, and the pollution check.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { WebhookSource } from '../rules/events.js';

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
  return JSON.parse(readFileSync(new URL(`./fixtures/webhooks/${name}.json`, import.meta.url), 'utf8'));
}

/** Objects carrying attack keys as own properties, the way JSON.parse makes them. */
export const ATTACKS: readonly unknown[] = [
  JSON.parse('{"__proto__":{"polluted":"yes","alertname":"x"}}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  JSON.parse('{"prototype":{"polluted":"yes"},"__proto__":[1,2]}'),
  JSON.parse('{"labels":{"__proto__":{"polluted":"yes"},"constructor":"c","alertname":"A"},"status":"firing","title":"T"}'),
];

/** A value too big or too deep for any payload. */
export const extreme = fc.constantFrom<() => unknown>(
  () => 'x'.repeat(200_000),
  () => Array.from({ length: 5_000 }, (_, i) => ({ status: 'firing', labels: { alertname: `a${i}` }, title: `a${i}` })),
  () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${'y'.repeat(i % 50)}${i}`, 'v'.repeat(3_000)])),
  () => { let v: unknown = 1; for (let i = 0; i < 1_000; i++) v = [v]; return v; },
  () => { let v: unknown = 'deep'; for (let i = 0; i < 1_000; i++) v = { a: v }; return v; },
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
