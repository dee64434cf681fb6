import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEPLOY_ACTIONS, EVENT_TYPES, ROLES, WEBHOOK_SOURCES } from '../rules/events.js';
import { LIMITS, decodeLine, decodeValue, parseIsoTime, reasonClass } from './decode.js';
import { eventSchema, eventTimeSchema } from './schema.js';
import { encodeEvent } from './encode.js';

const T0 = Date.UTC(2026, 10, 18, 11, 6, 40, 10);

function labels(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

describe('decodeLine accepts the contract and renames to the typed events', () => {
  const good: readonly { readonly name: string; readonly line: string; readonly event: object }[] = [
    {
      name: 'minimal request, epoch ms',
      line: `{"type":"request","ts":${T0},"service":"checkout"}`,
      event: { type: 'request', ts: T0, service: 'checkout' },
    },
    {
      name: 'full request: latency_ms -> latencyMs, quoted status, ok flag',
      line: '{"type":"request","ts":"2026-11-18T11:06:40.010Z","service":"checkout","version":"v42","instance":"i-1","route":"/cart","status":"503","ok":false,"latency_ms":12.5,"region":"eu"}',
      event: { type: 'request', ts: T0, service: 'checkout', version: 'v42', instance: 'i-1', route: '/cart', status: 503, ok: false, latencyMs: 12.5, region: 'eu' },
    },
    {
      name: 'time with an offset',
      line: '{"type":"request","ts":"2026-11-18T12:36:40.010+01:30","service":"a"}',
      event: { type: 'request', ts: T0, service: 'a' },
    },
    {
      name: 'time without a zone is UTC, seconds optional',
      line: '{"type":"request","ts":"2026-11-18T11:06","service":"a"}',
      event: { type: 'request', ts: Date.UTC(2026, 10, 18, 11, 6), service: 'a' },
    },
    {
      name: 'fractions beyond milliseconds are truncated',
      line: '{"type":"request","ts":"2026-11-18T11:06:40.0109999Z","service":"a"}',
      event: { type: 'request', ts: T0, service: 'a' },
    },
    {
      name: 'null and empty optional tags are absent',
      line: `{"type":"request","ts":${T0},"service":"a","version":"","instance":null,"status":null,"ok":null,"latency_ms":null,"labels":null}`,
      event: { type: 'request', ts: T0, service: 'a' },
    },
    {
      name: 'unknown fields become string labels; explicit labels win on a clash',
      line: `{"type":"request","ts":${T0},"service":"a","pod":"p-1","retries":3,"meta":{"k":[1,true]},"zone":"x","labels":{"zone":"y","cold":false,"none":null}}`,
      event: { type: 'request', ts: T0, service: 'a', labels: labels({ pod: 'p-1', retries: '3', meta: '{"k":[1,true]}', zone: 'y', cold: 'false', none: 'null' }) },
    },
    {
      name: 'a field known to another type is a label here',
      line: `{"type":"log","ts":${T0},"service":"a","level":"error","message":"boom","error_type":"Timeout","route":"/x"}`,
      event: { type: 'log', ts: T0, service: 'a', level: 'error', message: 'boom', errorType: 'Timeout', labels: labels({ route: '/x' }) },
    },
    {
      name: 'metric',
      line: `{"type":"metric","ts":${T0},"service":"a","name":"queue_depth","value":-3.5,"unit":"items"}`,
      event: { type: 'metric', ts: T0, service: 'a', name: 'queue_depth', value: -3.5, unit: 'items' },
    },
    {
      name: 'deploy with instances and release',
      line: `{"type":"deploy","ts":${T0},"service":"a","version":"v2","role":"canary","action":"start","instances":["a-1","a-2"],"release":"r42"}`,
      event: { type: 'deploy', ts: T0, service: 'a', version: 'v2', role: 'canary', action: 'start', instances: ['a-1', 'a-2'], release: 'r42' },
    },
    {
      name: 'webhook keeps its body whole, reads its alerts, and ignores other fields',
      line: `{"type":"webhook","ts":${T0},"source":"generic","body":{"title":"DiskFull","status":"firing","labels":{"service":"a"}},"extra":1}`,
      event: {
        type: 'webhook', ts: T0, source: 'generic', body: { title: 'DiskFull', status: 'firing', labels: { service: 'a' } },
        alerts: [{ name: 'DiskFull', status: 'firing', labels: { alertname: 'DiskFull', service: 'a' }, startsAt: undefined, endsAt: undefined, summary: 'DiskFull', hints: {} }],
      },
    },
  ];
  it.each(good)('$name', ({ line, event }) => {
    const result = decodeLine(line);
    expect(result).toEqual({ ok: true, event });
  });

  it('counts a label set both as a field and in `labels` once against the limit', () => {
    const fields = Object.fromEntries(Array.from({ length: LIMITS.maxLabels - 1 }, (_, i) => [`f${i}`, 'v']));
    const result = decodeValue({ type: 'request', ts: T0, service: 'a', ...fields, labels: { f0: 'w', last: 'v' } });
    expect(result.ok && result.event.type === 'request' && Object.keys(result.event.labels ?? {}).length).toBe(LIMITS.maxLabels);
  });

  it('cuts an overlong log message instead of rejecting the line', () => {
    const message = 'x'.repeat(LIMITS.maxMessageChars + 10);
    const result = decodeLine(JSON.stringify({ type: 'log', ts: T0, service: 'a', level: 'error', message }));
    expect(result.ok && result.event.type === 'log' && result.event.message.length).toBe(LIMITS.maxMessageChars);
  });

  it('cuts an overlong label value without splitting a surrogate pair', () => {
    const value = `${'x'.repeat(LIMITS.maxLabelValueChars - 1)}😀tail`;
    const result = decodeLine(JSON.stringify({ type: 'request', ts: T0, service: 'a', note: value }));
    expect(result.ok && result.event.type === 'request' && result.event.labels?.note).toBe('x'.repeat(LIMITS.maxLabelValueChars - 1));
  });
});

describe('decodeLine rejects bad input with a reason naming the field', () => {
  const base = { type: 'request', ts: T0, service: 'a' };
  const deploy = { type: 'deploy', ts: T0, service: 'a', version: 'v2', role: 'canary', action: 'start' };
  const line = (o: object): string => JSON.stringify(o);
  const manyFields = Object.fromEntries(Array.from({ length: LIMITS.maxLabels + 1 }, (_, i) => [`f${i}`, i]));
  const bad: readonly (readonly [name: string, line: string, reason: string | RegExp])[] = [
    ['not JSON', 'not json', /^not JSON: Unexpected token/],
    ['truncated JSON', '{"type":"request"', /^not JSON: /],
    ['an array', '[1,2]', 'expected a JSON object, got array'],
    ['a string', '"request"', 'expected a JSON object, got string'],
    ['null', 'null', 'expected a JSON object, got null'],
    ['no type', line({ ts: T0, service: 'a' }), 'missing field "type"'],
    ['unknown type', line({ ...base, type: 'foo' }), 'unknown type "foo" (expected request, log, metric, deploy, webhook)'],
    ['type not a string', line({ ...base, type: 7 }), 'unknown type 7 (expected request, log, metric, deploy, webhook)'],
    ['no ts', line({ type: 'request', service: 'a' }), 'missing field "ts"'],
    ['ts not a time', line({ ...base, ts: 'yesterday' }), 'field "ts" is not a valid time'],
    ['ts on a day that does not exist', line({ ...base, ts: '2026-02-29T00:00:00Z' }), 'field "ts" is not a valid time'],
    ['ts with a zone but no seconds', line({ ...base, ts: '2026-11-18T11:06Z' }), 'field "ts" is not a valid time'],
    ['ts out of the representable range', line({ ...base, ts: 1e300 }), 'field "ts" is not a valid time'],
    ['ts a boolean', line({ ...base, ts: true }), 'field "ts" is not a valid time'],
    ['no service', line({ type: 'request', ts: T0 }), 'missing field "service"'],
    ['empty service', line({ ...base, service: '' }), 'field "service" must be a non-empty string'],
    ['service a number', line({ ...base, service: 1 }), 'field "service" must be a non-empty string'],
    ['service too long', line({ ...base, service: 's'.repeat(257) }), 'field "service" is longer than 256 characters'],
    ['route too long', line({ ...base, route: '/'.repeat(257) }), 'field "route" is longer than 256 characters'],
    ['version not a string', line({ ...base, version: 42 }), 'field "version" must be a string'],
    ['negative latency', line({ ...base, latency_ms: -1 }), 'field "latency_ms" must be a number >= 0'],
    ['quoted latency', line({ ...base, latency_ms: '12' }), 'field "latency_ms" must be a number >= 0'],
    ['status out of range', line({ ...base, status: 1000 }), 'field "status" must be an integer from 0 to 999'],
    ['status a word', line({ ...base, status: '5xx' }), 'field "status" must be an integer from 0 to 999'],
    ['status a fraction', line({ ...base, status: 200.5 }), 'field "status" must be an integer from 0 to 999'],
    ['ok a string', line({ ...base, ok: 'yes' }), 'field "ok" must be true or false'],
    ['labels a list', line({ ...base, labels: ['a'] }), 'field "labels" must be an object'],
    ['too many labels', line({ ...base, ...manyFields }), `too many labels (${LIMITS.maxLabels + 1}, at most ${LIMITS.maxLabels})`],
    ['label name too long', line({ ...base, ['k'.repeat(257)]: 'v' }), 'label name longer than 256 characters'],
    ['log without message', line({ type: 'log', ts: T0, service: 'a', level: 'info' }), 'missing field "message"'],
    ['log without level', line({ type: 'log', ts: T0, service: 'a', message: 'm' }), 'missing field "level"'],
    ['metric value quoted', line({ type: 'metric', ts: T0, service: 'a', name: 'n', value: '1' }), 'field "value" must be a finite number'],
    ['metric without name', line({ type: 'metric', ts: T0, service: 'a', value: 1 }), 'missing field "name"'],
    ['deploy role unknown', line({ ...deploy, role: 'blue' }), 'field "role" must be one of canary, baseline, stable, got "blue"'],
    ['deploy without action', line({ ...deploy, action: undefined }), 'missing field "action"'],
    ['deploy without version', line({ ...deploy, version: undefined }), 'missing field "version"'],
    ['deploy instances not a list', line({ ...deploy, instances: 'a-1' }), 'field "instances" must be an array of strings'],
    ['deploy instances with a number', line({ ...deploy, instances: ['a-1', 2] }), 'field "instances" must be an array of non-empty strings'],
    ['webhook source unknown', line({ type: 'webhook', ts: T0, source: 'nagios', body: {} }), /^field "source" must be one of alertmanager, grafana, datadog, cloudwatch, sentry, generic, got "nagios"$/],
    ['webhook without body', line({ type: 'webhook', ts: T0, source: 'generic' }), 'missing field "body"'],
    ['webhook body its source cannot read', line({ type: 'webhook', ts: T0, source: 'alertmanager', body: null }), /^field "body": not a alertmanager payload: body: /],
    ['line too long', `{"type":"log","message":"${'x'.repeat(LIMITS.maxLineChars)}"}`, `line longer than ${LIMITS.maxLineChars} characters`],
  ];
  it.each(bad)('%s', (_name, input, reason) => {
    const result = decodeLine(input);
    if (result.ok) throw new Error(`accepted: ${input.slice(0, 80)}`);
    expect(result.reason).toMatch(typeof reason === 'string' ? new RegExp(`^${escapeRegExp(reason)}$`) : reason);
    // The reference agrees that the line is bad (when it is JSON at all).
    if (!result.reason.startsWith('not JSON') && !result.reason.startsWith('line longer')) {
      expect(eventSchema.safeParse(JSON.parse(input)).success).toBe(false);
    }
  });

  it('rejects numbers that JSON cannot carry but a caller of decodeValue might pass', () => {
    expect(decodeValue({ ...base, latency_ms: NaN }).ok).toBe(false);
    expect(decodeValue({ ...base, ts: Infinity }).ok).toBe(false);
    expect(decodeValue({ type: 'metric', ts: T0, service: 'a', name: 'n', value: -Infinity }).ok).toBe(false);
  });

  it('skips label values that have no JSON text instead of throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const result = decodeValue({ ...base, big: 10n, cyclic, fn: () => 1, kept: 'yes' });
    expect(result).toEqual({ ok: true, event: { type: 'request', ts: T0, service: 'a', labels: labels({ kept: 'yes' }) } });
  });
});

describe('reasonClass', () => {
  it.each([
    ['not JSON: Unexpected token o in JSON at position 1', 'not JSON'],
    ['unknown type "foo" (expected request, log)', 'unknown type'],
    ['too many labels (70, at most 64)', 'too many labels'],
    ['missing field "service"', 'missing field "service"'],
    ['field "role" must be one of canary, baseline, stable, got "x"', 'field "role" must be one of canary, baseline, stable'],
  ])('%s -> %s', (reason, kind) => {
    expect(reasonClass(reason)).toBe(kind);
  });
});

// ---- Agreement with the zod reference, on arbitrary input built from the contract's fields.

const anyJson = fc.jsonValue({ maxDepth: 2 });
const id = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('checkout', 'v41', 'v42', 'i-1', '/cart', 'eu', 'r42', 'error', 'latency') },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(256), 'x'.repeat(257)) },
);
const loose = <T>(typical: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: typical }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: anyJson });

function isoText(p: { y: number; mo: number; d: number; h: number; mi: number; s: number | null; frac: string | null; zone: string }): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const seconds = p.s === null ? '' : `:${pad(p.s)}${p.frac === null ? '' : `.${p.frac}`}`;
  return `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}${seconds}${p.zone}`;
}
const timeText = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc
    .record({
      y: fc.integer({ min: 0, max: 9999 }),
      mo: fc.integer({ min: 0, max: 13 }),
      d: fc.integer({ min: 0, max: 32 }),
      h: fc.integer({ min: 0, max: 24 }),
      mi: fc.integer({ min: 0, max: 60 }),
      s: fc.option(fc.integer({ min: 0, max: 60 })),
      frac: fc.option(fc.stringMatching(/^[0-9]{0,7}$/)),
      zone: fc.constantFrom('', 'Z', '+01:00', '-05:30', '+23:59', '+24:00', '-00:60', '+0100', 'z', '+1:00', 'ZZ', ' '),
    })
    .map(isoText),
  fc.constantFrom('2024-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2000-02-29T12:00:00.5+14:00', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999-23:59'),
  fc.string({ maxLength: 30 }),
);
const tsValue = fc.oneof(
  { weight: 4, arbitrary: timeText },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(8.64e15, 8.64e15 + 1, -8.64e15, 1e300) },
  { weight: 1, arbitrary: anyJson },
);
const labelKey = fc.oneof(
  fc.constantFrom('pod', 'zone', 'route', 'version', 'level', 'name', 'source', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'k'.repeat(257), '0', '10'),
  fc.string({ maxLength: 5 }),
);
const fieldValues: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  type: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...EVENT_TYPES) }, { weight: 1, arbitrary: fc.constantFrom('foo', 'Request') }, { weight: 1, arbitrary: anyJson }),
  ts: tsValue,
  service: loose(id),
  version: loose(id),
  instance: loose(id),
  route: loose(id),
  region: loose(id),
  release: loose(id),
  unit: loose(id),
  name: loose(id),
  level: loose(id),
  error_type: loose(id),
  message: loose(fc.oneof(fc.string(), fc.constant('m'.repeat(LIMITS.maxMessageChars + 3)))),
  status: loose(fc.oneof(fc.integer({ min: -2, max: 1001 }), fc.double(), fc.stringMatching(/^[0-9]{0,4}$/), fc.constantFrom('5xx', ' 500', '+50'))),
  ok: loose(fc.boolean()),
  latency_ms: loose(fc.oneof(fc.double(), fc.integer(), fc.constantFrom('12', -0))),
  value: loose(fc.oneof(fc.double(), fc.integer())),
  role: loose(fc.constantFrom(...ROLES, 'blue')),
  action: loose(fc.constantFrom(...DEPLOY_ACTIONS, 'pause')),
  instances: loose(fc.array(fc.oneof({ weight: 5, arbitrary: id }, { weight: 1, arbitrary: anyJson }), { maxLength: 4 })),
  source: loose(fc.constantFrom(...WEBHOOK_SOURCES, 'nagios')),
  // Readable generic alerts as well, or hardly any webhook would get through the normaliser.
  body: fc.oneof(anyJson, fc.record({
    title: id, status: fc.constantFrom('firing', 'resolved'), labels: fc.array(fc.tuple(labelKey, anyJson), { maxLength: 4 }).map((e) => Object.fromEntries(e)),
  }, { requiredKeys: ['status'] })),
  labels: loose(fc.array(fc.tuple(labelKey, anyJson), { maxLength: 5 }).map((entries) => Object.fromEntries(entries))),
};
const contractObject = fc
  .tuple(
    fc.record(fieldValues, { requiredKeys: ['type'] }),
    fc.oneof(
      fc.array(fc.tuple(labelKey, anyJson), { maxLength: 4 }),
      fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })), { minLength: 60, maxLength: 70 }),
    ),
  )
  .map(([fields, extra]) => {
    // Object.fromEntries defines properties, so a `__proto__` entry is an own key, as JSON.parse makes it.
    return Object.fromEntries([...extra, ...Object.entries(fields)]) as Record<string, unknown>;
  });

describe('the fast decoder agrees with the zod reference', () => {
  it('on objects built from the contract fields with random types and gaps', () => {
    fc.assert(
      fc.property(contractObject, (input) => {
        const fast = decodeValue(input);
        const reference = eventSchema.safeParse(input);
        expect(fast.ok, fast.ok ? 'fast accepted' : `fast: ${fast.reason}`).toBe(reference.success);
        if (fast.ok && reference.success) {
          expect(fast.event).toEqual(reference.data);
          expect(JSON.stringify(fast.event)).toBe(JSON.stringify(reference.data));
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('on the same objects sent as JSON text', () => {
    fc.assert(
      fc.property(contractObject, (input) => {
        const text = JSON.stringify(input);
        const fast = decodeLine(text);
        const reference = eventSchema.safeParse(JSON.parse(text));
        expect(fast.ok).toBe(reference.success);
        if (fast.ok && reference.success) expect(JSON.stringify(fast.event)).toBe(JSON.stringify(reference.data));
      }),
      { numRuns: 1_000 },
    );
  });

  it('on event times', () => {
    fc.assert(
      fc.property(tsValue, (ts) => {
        const reference = eventTimeSchema.safeParse(ts);
        const fast = typeof ts === 'string' ? parseIsoTime(ts) : NaN;
        if (typeof ts === 'string') expect(reference.success ? reference.data : NaN).toBe(fast);
        const decoded = decodeValue({ type: 'request', service: 'a', ts });
        expect(decoded.ok).toBe(reference.success);
        if (decoded.ok && reference.success) expect(decoded.event.ts).toBe(reference.data);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('encodeEvent', () => {
  it('writes what decodes back to the same event, so an event crosses the events topic unchanged', () => {
    let checked = 0;
    fc.assert(fc.property(contractObject, (o) => {
      const first = decodeValue(o);
      if (!first.ok) return;
      checked++;
      const again = decodeLine(encodeEvent(first.event));
      // -0 has no JSON form: it comes back as 0, which is the same number to every reader.
      const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));
      expect(plain(again)).toEqual(plain(first));
      expect(again.ok && again.event.type).toBe(first.event.type);
    }), { numRuns: 4_000 });
    // Most random objects are rejected; enough must get through for the law to mean something.
    expect(checked).toBeGreaterThan(100);
  });
});

describe('robustness', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json(), fc.string({ unit: 'grapheme-ascii' })), (text) => {
        const result = decodeLine(text);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 3_000 },
    );
  });

  it('never throws on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(() => decodeValue(value)).not.toThrow();
      }),
    );
  });

  it('keeps __proto__ and constructor as plain labels and pollutes no prototype', () => {
    const payload = fc.dictionary(fc.constantFrom('polluted', 'isAdmin', 'toString'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1 });
    fc.assert(
      fc.property(payload, fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.boolean(), (inner, key, inLabels) => {
        const innerText = JSON.stringify(inner);
        const extra = `"${key}":${innerText}`;
        const text = inLabels
          ? `{"type":"request","ts":1,"service":"a","labels":{${extra}}}`
          : `{"type":"request","ts":1,"service":"a",${extra}}`;
        const result = decodeLine(text);
        expect(result.ok).toBe(true);
        if (!result.ok || result.event.type !== 'request') return;
        const eventLabels = result.event.labels ?? {};
        expect(Object.hasOwn(eventLabels, key)).toBe(true);
        expect(eventLabels[key]).toBe(innerText);
        expect(Object.getPrototypeOf(eventLabels)).toBe(null);
        const fresh: Record<string, unknown> = {};
        expect(fresh.polluted).toBeUndefined();
        expect(fresh.isAdmin).toBeUndefined();
        expect(typeof fresh.toString).toBe('function');
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
