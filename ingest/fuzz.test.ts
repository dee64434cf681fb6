/**
 * Every event decoder against hostile input: malformed JSON, wrong types, huge strings and
 * arrays, deep nesting, `__proto__` and `constructor` keys, invalid UTF-8. Each must answer
 * with an event or a clear rejection (a non-empty reason), never throw, never touch
 * Object.prototype, and keep what it returns within the size limits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS, decodeLine, decodeValue } from './decode.js';
import { LineSplitter } from './lines.js';
import { decodeMessage } from './kafka.js';
import type { DecodeResult } from './decode.js';
import type { VigilEvent } from '../rules/events.js';

const RUNS = 300;

/** Field names the decoders know, and a few that attack objects. */
const keys = fc.constantFrom('type', 'ts', 'service', 'version', 'instance', 'route', 'status', 'latency_ms', 'ok', 'region', 'labels', 'message', 'level',
  'name', 'value', 'unit', 'role', 'action', 'instances', 'release', 'source', 'payload', 'error_type', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');
const types = fc.constantFrom('request', 'log', 'metric', 'deploy', 'webhook', 'bogus', '', '__proto__');
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.constantFrom('2026-12-07T12:00:00Z', 1796662273894, -1, 8.64e15 + 1, '1e400', 'NaN', ''),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 6 }),
  ),
})).value;
const hostileEvent = fc.record({ type: types, ts: hostileValue, service: hostileValue }).chain((base) => fc.dictionary(keys, hostileValue, { maxKeys: 10 }).map((rest) => ({ ...rest, ...base })));

/** The decoder's answer must be an event or a reason; nothing else. */
function expectClear(r: DecodeResult): void {
  if (r.ok) expect(typeof r.event.type).toBe('string');
  else {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
    expect(r.reason.length).toBeLessThan(1_000);
  }
}

function expectBounded(event: VigilEvent): void {
  if (event.type === 'webhook') return;
  const e = event;
  const ids = [e.service, 'version' in e ? e.version : undefined, 'instance' in e ? e.instance : undefined, 'route' in e ? e.route : undefined];
  for (const id of ids) if (typeof id === 'string') expect(id.length).toBeLessThanOrEqual(LIMITS.maxIdChars);
  if (e.type === 'log') expect(e.message.length).toBeLessThanOrEqual(LIMITS.maxMessageChars + 1);
  if (e.labels) {
    expect(Object.keys(e.labels).length).toBeLessThanOrEqual(LIMITS.maxLabels);
    for (const [k, v] of Object.entries(e.labels)) {
      expect(k.length).toBeLessThanOrEqual(LIMITS.maxLabelKeyChars);
      expect(String(v).length).toBeLessThanOrEqual(LIMITS.maxLabelValueChars + 1);
    }
  }
  if (e.type === 'deploy' && e.instances) expect(e.instances.length).toBeLessThanOrEqual(LIMITS.maxInstances);
}

function expectNoPollution(): void {
  const probe: Record<string, unknown> = {};
  for (const k of ['polluted', 'type', 'ts', 'service', 'isAdmin']) expect(probe[k], `Object.prototype.${k}`).toBeUndefined();
}

describe('decodeLine and decodeValue on hostile input', () => {
  it('arbitrary text: a clear answer, never a throw', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.json(), fc.constantFrom('{', '[]', 'null', '"x"', '{"type":', '\u0000', '{"a":1}{"b":2}')), (text) => {
      expectClear(decodeLine(text));
    }), { numRuns: RUNS });
  });

  it('objects with wrong types and attack keys: a clear answer, bounded, no prototype pollution', () => {
    fc.assert(fc.property(hostileEvent, (value) => {
      const r = decodeValue(value);
      expectClear(r);
      if (r.ok) expectBounded(r.event);
      const line = decodeLine(JSON.stringify(value));
      expectClear(line);
      if (line.ok) expectBounded(line.event);
      expectNoPollution();
    }), { numRuns: RUNS * 3 });
  });

  it('`__proto__` and `constructor` as JSON keys (own properties after JSON.parse) pollute nothing', () => {
    for (const text of [
      '{"type":"request","ts":1796662273894,"service":"shop","__proto__":{"polluted":"yes","isAdmin":true}}',
      '{"type":"request","ts":1796662273894,"service":"shop","labels":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}',
      '{"type":"deploy","ts":1796662273894,"service":"shop","version":"v2","role":"canary","action":"start","__proto__":{"type":"x"},"constructor":"y"}',
      '{"type":"log","ts":1796662273894,"service":"shop","message":"m","labels":{"__proto__":"x","toString":"y"}}',
    ]) {
      const r = decodeLine(text);
      expectClear(r);
      if (r.ok) {
        expectBounded(r.event);
        // A label named __proto__ is data, kept as an own property or dropped, never the object's prototype.
        const labels = r.event.type === 'webhook' ? undefined : r.event.labels;
        if (labels) expect(Object.getPrototypeOf(labels) === Object.prototype || Object.getPrototypeOf(labels) === null).toBe(true);
      }
      expectNoPollution();
    }
  });

  it('huge strings and arrays: rejected or cut, within the limits', () => {
    const big = 'x'.repeat(LIMITS.maxLineChars + 10);
    expect(decodeLine(`{"type":"log","message":"${big}"}`)).toEqual({ ok: false, reason: expect.stringMatching(/^line longer than/) });
    const cases: unknown[] = [
      { type: 'log', ts: 1796662273894, service: 'shop', message: 'm'.repeat(500_000) },
      { type: 'request', ts: 1796662273894, service: 's'.repeat(100_000) },
      { type: 'request', ts: 1796662273894, service: 'shop', labels: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'.repeat(5_000)])) },
      { type: 'deploy', ts: 1796662273894, service: 'shop', version: 'v2', role: 'canary', action: 'start', instances: Array.from({ length: 200_000 }, (_, i) => `i-${i}`) },
      { type: 'request', ts: 1796662273894, service: 'shop', route: Array.from({ length: 100_000 }, () => 'r') },
    ];
    for (const c of cases) {
      const r = decodeValue(c);
      expectClear(r);
      if (r.ok) expectBounded(r.event);
    }
  });

  it('deep nesting: a clear answer, no stack overflow escaping', () => {
    for (const depth of [1_000, 100_000]) {
      expectClear(decodeLine('['.repeat(depth) + ']'.repeat(depth)));
      expectClear(decodeLine(`{"type":"request","ts":1796662273894,"service":"shop","labels":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`));
      let nested: unknown = 1;
      for (let i = 0; i < depth; i++) nested = { a: nested };
      expectClear(decodeValue({ type: 'webhook', ts: 1796662273894, source: 'alertmanager', payload: nested }));
      expectClear(decodeValue({ type: 'request', ts: 1796662273894, service: 'shop', labels: nested }));
    }
  });
});

describe('the Kafka message decoder on arbitrary bytes', () => {
  it('invalid UTF-8 is a clear rejection, not replacement characters', () => {
    const good = Buffer.from('{"type":"request","ts":1796662273894,"service":"shop","route":"/caf\u00e9"}');
    expect(decodeMessage(good).ok).toBe(true);
    for (const bad of [Buffer.from([0xff]), Buffer.concat([good.subarray(0, 70), Buffer.from([0xc3]), good.subarray(70)]), Buffer.from([0xed, 0xa0, 0x80])]) {
      expect(decodeMessage(bad)).toEqual({ ok: false, reason: 'not valid UTF-8' });
    }
    expect(decodeMessage(null)).toEqual({ ok: false, reason: 'empty message (no value)' });
  });

  it('random bytes: a clear answer, never a throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
      const r = decodeMessage(Buffer.from(bytes));
      expectClear(r);
      if (!Buffer.from(bytes).equals(Buffer.from(Buffer.from(bytes).toString('utf8')))) expect(r).toEqual({ ok: false, reason: 'not valid UTF-8' });
    }), { numRuns: RUNS });
  });
});

describe('the line splitter on arbitrary bytes', () => {
  it('every line comes out once: kept, overlong, or refused as invalid UTF-8, whatever the chunking', () => {
    const line = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => Buffer.from(s.replace(/[\r\n]/g, ''))), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b.filter((x) => x !== 0x0a && x !== 0x0d))));
    fc.assert(fc.property(fc.array(line, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }), (lines, cuts) => {
      // A leading BOM is the splitter's to drop: keep the first line from starting with one.
      const body = Buffer.concat(lines.flatMap((l, i) => [i === 0 && l[0] === 0xef ? Buffer.concat([Buffer.from('a'), l]) : l, Buffer.from('\n')]));
      const splitter = new LineSplitter(64);
      const kept: number[] = [], refused: number[] = [], overlong: number[] = [];
      let at = 0, c = 0;
      const take = (b: ReturnType<LineSplitter['push']>): void => {
        if (!b) return;
        kept.push(...b.lineNumbers);
        refused.push(...(b.notUtf8 ?? []).map((x) => x.lineNumber));
        overlong.push(...b.overlong.map((x) => x.lineNumber));
      };
      while (at < body.length) {
        const n = cuts[c++ % cuts.length]!;
        take(splitter.push(body.subarray(at, at + n)));
        at += n;
      }
      take(splitter.end());
      const numbered = lines.map((l, i) => ({ n: i + 1, l: i === 0 && l[0] === 0xef ? Buffer.concat([Buffer.from('a'), l]) : l }));
      const expectedRefused = numbered.filter(({ l }) => l.length > 0 && l.length <= 64 && !l.equals(Buffer.from(l.toString('utf8')))).map(({ n }) => n);
      expect(refused).toEqual(expectedRefused);
      const all = [...kept, ...refused, ...overlong].sort((a, b) => a - b);
      expect(all).toEqual(numbered.filter(({ l }) => l.length > 0).map(({ n }) => n));
    }), { numRuns: RUNS });
  });
});
