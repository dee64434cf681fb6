import { describe, expect, it } from 'vitest';
import { decodeLine } from '../ingest/decode.js';
import type { TimedEvent } from '../simulate/generate.js';
import { BodyStream, parseBatchList, quantile, trafficLap } from './http.js';

const T0 = Date.UTC(2026, 10, 18, 11, 6, 40);

/** A three-event scenario: a deploy, then a request and a log a few seconds apart. */
const EVENTS: readonly TimedEvent[] = [
  { tsMs: 0, emitMs: 0, event: { type: 'deploy', ts: new Date(T0).toISOString(), service: 'checkout', version: 'v41', role: 'stable', action: 'start', instances: ['checkout-v41-0'] } },
  { tsMs: 1_500, emitMs: 1_500, event: { type: 'request', ts: new Date(T0 + 1_500).toISOString(), service: 'checkout', instance: 'checkout-v41-0', route: '/cart', status: 200, latency_ms: 12.5, version: 'v41' } },
  { tsMs: 4_000, emitMs: 4_000, event: { type: 'log', ts: new Date(T0 + 4_000).toISOString(), service: 'checkout', instance: 'checkout-v41-0', level: 'error', message: 'payment declined: café', version: 'v41' } },
];

function decodeBody(body: Buffer): { ts: number; service: string; instance?: string }[] {
  const text = body.toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((line) => {
    const r = decodeLine(line);
    if (!r.ok) throw new Error(`${r.reason}: ${line}`);
    if (r.event.type === 'webhook') throw new Error('no webhooks here');
    return { ts: r.event.ts, service: r.event.service, ...('instance' in r.event && r.event.instance !== undefined ? { instance: r.event.instance } : {}) };
  });
}

describe('the bodies the benchmark sends', () => {
  it('hold valid events, copies renamed apart, whose times never go back, across laps', () => {
    const lap = trafficLap(EVENTS);
    expect(lap.lapMs).toBe(60_000);
    const stream = new BodyStream(lap, 12, T0);
    const lines = [];
    // 3 events x 12 copies = 36 lines per lap; 10 bodies of 7 cross two lap boundaries mid-body.
    for (let i = 0; i < 10; i++) lines.push(...decodeBody(stream.next(7)));
    expect(lines).toHaveLength(70);
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.ts).toBeGreaterThanOrEqual(lines[i - 1]!.ts);
    expect(lines.slice(0, 12).map((l) => l.service)).toEqual(Array.from({ length: 12 }, (_, k) => `checkout-${String(k + 1).padStart(2, '0')}`));
    expect(lines[12]).toEqual({ ts: T0 + 1_500, service: 'checkout-01', instance: 'checkout-01-v41-0' });
    // The second lap is the first moved on by one lap length.
    expect(lines[36]!.ts).toBe(T0 + 60_000);
    expect(lines[36 + 25]).toEqual({ ...lines[25], ts: lines[25]!.ts + 60_000 });
    expect(stream.lastTsMs).toBe(lines[69]!.ts);
  });

  it('refuses a scenario whose event times go back, as it would be sent late', () => {
    expect(() => trafficLap([EVENTS[1]!, EVENTS[0]!])).toThrow(/goes back in time/);
  });
});

describe('parseBatchList', () => {
  it.each([
    ['100', [100]],
    ['100,1000', [100, 1000]],
    ['1,100000', [1, 100_000]],
  ])('%s', (text, batches) => expect(parseBatchList(text, 'usage')).toEqual(batches));

  it.each([undefined, '', '0', '100,', '1,,2', '-5', '1.5', 'x', '100001'])('rejects %s', (text) => {
    expect(() => parseBatchList(text, 'usage: here')).toThrow(/usage: here/);
  });
});

describe('quantile', () => {
  it.each([
    [[], 0.5, 0],
    [[7], 0.99, 7],
    [[1, 2, 3, 4], 0.5, 2],
    [[...Array.from({ length: 100 }, (_, i) => i + 1)], 0.99, 99],
    [[...Array.from({ length: 100 }, (_, i) => i + 1)], 1, 100],
  ])('%j at %d is %d', (sorted, q, value) => expect(quantile(sorted, q)).toBe(value));
});
