import { describe, expect, it } from 'vitest';
import { generate, toNdjson, type TimedEvent, type WireLog, type WireRequest } from './generate.js';
import type { Deployment, Fault, ScenarioSpec } from './model.js';
import { ON_TIME } from './model.js';
import { errorShapes, quantileOf, sliceStats } from './oracle.js';
import { CHECKOUT } from './services.js';

const MIN = 60_000;
const ONSET = 8 * MIN;

function deployment(version: string, role: Deployment['role'], count: number, rate: number, fromMs: number, suffix = ''): Deployment {
  return {
    version,
    role,
    startMs: fromMs,
    ratePerInstance: rate,
    steps: [],
    instances: Array.from({ length: count }, (_, i) => ({ name: `checkout-${version}${suffix}-${i}`, fromMs })),
  };
}

/** Checkout with 6 stable instances, a baseline and a canary from minute 1, 16 minutes long. */
function spec(o: { faults?: readonly Fault[]; seed?: number; delivery?: ScenarioSpec['delivery']; emission?: 'requests' | 'metrics'; swing?: number } = {}): ScenarioSpec {
  return {
    name: 'test',
    seed: o.seed ?? 11,
    startEpochMs: Date.UTC(2026, 10, 18, 11, 6, 40),
    durationMs: 16 * MIN,
    services: [
      {
        profile: CHECKOUT,
        emission: o.emission ?? 'requests',
        load: { swing: o.swing ?? 0.08, swingPeriodMs: 45 * MIN, trendPerHour: 0 },
        deployments: [deployment('v41', 'stable', 6, 5, 0), deployment('v41', 'baseline', 1, 4, MIN, '-baseline'), deployment('v42', 'canary', 1, 4, MIN)],
      },
    ],
    faults: o.faults ?? [],
    alerts: [],
    delivery: o.delivery ?? ON_TIME,
  };
}

const CANARY = 'checkout-v42-0';
const BASELINE = 'checkout-v41-baseline-0';

function requestsOf(events: readonly TimedEvent[], instance?: string): WireRequest[] {
  const out: WireRequest[] = [];
  for (const { event } of events) if (event.type === 'request' && (instance === undefined || event.instance === instance)) out.push(event);
  return out;
}

function linesOf(events: readonly TimedEvent[], keep: (e: TimedEvent) => boolean): string[] {
  return events.filter(keep).map((e) => JSON.stringify(e.event));
}

function instanceOf(e: TimedEvent): string | undefined {
  return e.event.type === 'request' || e.event.type === 'log' || e.event.type === 'metric' ? e.event.instance : undefined;
}

const ROUTE_ERROR = new Map(CHECKOUT.routes.map((r) => [r.path, r.errorRatio]));

/** The number of errors the profile predicts for these requests, with every ratio times k. */
function expectedErrors(requests: readonly WireRequest[], k: number): number {
  return requests.reduce((s, r) => s + Math.min(1, (ROUTE_ERROR.get(r.route) ?? 0) * k), 0);
}

describe('determinism', () => {
  it('gives the same bytes for the same spec and seed', () => {
    const a = toNdjson(generate(spec()));
    const b = toNdjson(generate(spec()));
    expect(a.length).toBeGreaterThan(1_000_000);
    expect(a === b).toBe(true);
  });

  it('gives a different stream for another seed', () => {
    expect(toNdjson(generate(spec({ seed: 12 }))) === toNdjson(generate(spec({ seed: 11 })))).toBe(false);
  });
});

describe('traffic model', () => {
  const events = generate(spec({ swing: 0 }));

  it('serves close to the configured request rate per instance', () => {
    // 6 x 5 req/s for 16 min, and 2 x 4 req/s for 15 min; instances are spread by +-4%.
    const stable = requestsOf(events).filter((r) => /^checkout-v41-\d$/.test(r.instance)).length;
    const canary = requestsOf(events, CANARY).length;
    expect(stable / (6 * 5 * 16 * 60)).toBeGreaterThan(0.95);
    expect(stable / (6 * 5 * 16 * 60)).toBeLessThan(1.05);
    expect(canary / (4 * 15 * 60)).toBeGreaterThan(0.92);
    expect(canary / (4 * 15 * 60)).toBeLessThan(1.08);
  });

  it('splits traffic by route share and fails about the configured ratio', () => {
    const all = requestsOf(events);
    const total = CHECKOUT.routes.reduce((s, r) => s + r.share, 0);
    for (const route of CHECKOUT.routes) {
      const share = all.filter((r) => r.route === route.path).length / all.length;
      expect(Math.abs(share - route.share / total)).toBeLessThan(0.01);
    }
    const errors = all.filter((r) => r.status >= 500).length;
    const expected = expectedErrors(all, 1);
    expect(Math.abs(errors - expected)).toBeLessThan(4 * Math.sqrt(expected));
    const notFound = all.filter((r) => r.status === 404).length / all.length;
    expect(notFound).toBeGreaterThan(0.025);
    expect(notFound).toBeLessThan(0.035);
    expect(all.every((r) => r.route !== '/health' || r.status === 200)).toBe(true);
  });

  it('draws latencies log-normally around each route median', () => {
    for (const route of CHECKOUT.routes) {
      const lat = requestsOf(events)
        .filter((r) => r.route === route.path)
        .map((r) => r.latency_ms);
      expect(quantileOf(lat, 0.5) / route.latencyMedianMs).toBeGreaterThan(0.95);
      expect(quantileOf(lat, 0.5) / route.latencyMedianMs).toBeLessThan(1.05);
      // For a log-normal, p90 / p50 = exp(1.2816 sigma).
      expect(Math.log(quantileOf(lat, 0.9) / quantileOf(lat, 0.5)) / 1.2816).toBeCloseTo(route.latencySigma, 1);
    }
  });

  it('writes one error line per failed request, a millisecond later, on the same instance', () => {
    const failed = requestsOf(events).filter((r) => r.status >= 500);
    const logs = events.filter((e): e is TimedEvent & { event: WireLog } => e.event.type === 'log').map((e) => e.event);
    expect(logs.length).toBe(failed.length);
    const logKeys = new Set(logs.map((l) => `${l.instance}@${Date.parse(l.ts) - 1}@${/\(route=([^)]+)\)$/.exec(l.message)?.[1] ?? ''}`));
    for (const r of failed) expect(logKeys.has(`${r.instance}@${Date.parse(r.ts)}@${r.route}`)).toBe(true);
    expect(logs.every((l) => l.level === 'error')).toBe(true);
  });

  it('varies the numbers inside error messages', () => {
    const messages = events.flatMap((e) => (e.event.type === 'log' ? [e.event.message] : []));
    expect(new Set(messages).size).toBeGreaterThan(messages.length * 0.8);
  });

  it('moves the rate with the load curve', () => {
    const swinging = generate(spec({ swing: 0.3 }));
    const perMinute = new Array<number>(16).fill(0);
    for (const e of swinging) {
      if (e.event.type !== 'request' || !/^checkout-v41-\d$/.test(e.event.instance)) continue;
      const m = Math.floor(e.tsMs / MIN);
      perMinute[m] = (perMinute[m] ?? 0) + 1;
    }
    expect(Math.max(...perMinute) / Math.min(...perMinute)).toBeGreaterThan(1.2);
  });
});

describe('fault injection', () => {
  const clean = generate(spec());
  const notCanary = (e: TimedEvent): boolean => instanceOf(e) !== CANARY;
  const canaryBefore = (e: TimedEvent): boolean => instanceOf(e) === CANARY && e.tsMs < ONSET;

  it('multiplies the canary error ratio by k after the onset and leaves everything else byte-identical', () => {
    const k = 8;
    const faulty = generate(spec({ faults: [{ kind: 'errorRatio', target: { service: 'checkout', versions: ['v42'] }, startMs: ONSET, multiplier: k }] }));
    expect(linesOf(faulty, notCanary)).toEqual(linesOf(clean, notCanary));
    expect(linesOf(faulty, canaryBefore)).toEqual(linesOf(clean, canaryBefore));
    const after = requestsOf(faulty, CANARY).filter((r) => Date.parse(r.ts) >= Date.parse(new Date(Date.UTC(2026, 10, 18, 11, 6, 40) + ONSET).toISOString()));
    const errors = after.filter((r) => r.status >= 500).length;
    const expected = expectedErrors(after, k);
    expect(Math.abs(errors - expected)).toBeLessThan(4 * Math.sqrt(expected));
    // Same requests, same latencies: only outcomes changed.
    expect(after.map((r) => r.latency_ms)).toEqual(
      requestsOf(clean, CANARY)
        .filter((r) => after.length > 0 && Date.parse(r.ts) >= Date.parse(after[0]?.ts ?? ''))
        .map((r) => r.latency_ms),
    );
  });

  it('multiplies the whole canary latency distribution, and not the baseline', () => {
    const faulty = generate(spec({ faults: [{ kind: 'latency', target: { service: 'checkout', versions: ['v42'] }, startMs: ONSET, multiplier: 1.6 }] }));
    const a = sliceStats(faulty, 'checkout', new Set(['v42']), ONSET, 16 * MIN);
    const b = sliceStats(clean, 'checkout', new Set(['v42']), ONSET, 16 * MIN);
    for (const q of [0.1, 0.5, 0.9, 0.99]) expect(quantileOf(a.latencies, q) / quantileOf(b.latencies, q)).toBeCloseTo(1.6, 2);
    expect(a.errors).toBe(b.errors);
    const baseline = (e: TimedEvent): boolean => instanceOf(e) === BASELINE;
    expect(linesOf(clean, baseline).length).toBeGreaterThan(3000);
    expect(linesOf(faulty, baseline)).toEqual(linesOf(clean, baseline));
    expect(linesOf(faulty, notCanary)).toEqual(linesOf(clean, notCanary));
  });

  it('slows only the slowest share of requests for a tail fault', () => {
    const faulty = generate(spec({ faults: [{ kind: 'tailLatency', target: { service: 'checkout', versions: ['v42'] }, startMs: ONSET, tailShare: 0.05, multiplier: 3 }] }));
    const after = (events: readonly TimedEvent[]): WireRequest[] => requestsOf(events, CANARY).filter((r) => Date.parse(r.ts) >= Date.UTC(2026, 10, 18, 11, 6, 40) + ONSET);
    const a = after(faulty);
    const b = after(clean);
    const changed = a.filter((r, i) => r.latency_ms !== b[i]?.latency_ms).length / a.length;
    expect(changed).toBeGreaterThan(0.035);
    expect(changed).toBeLessThan(0.065);
    const lat = (rs: readonly WireRequest[]): number[] => rs.map((r) => r.latency_ms);
    expect(quantileOf(lat(a), 0.5)).toBe(quantileOf(lat(b), 0.5));
    expect(quantileOf(lat(a), 0.99) / quantileOf(lat(b), 0.99)).toBeGreaterThan(2);
  });

  it('breaks only the targeted route for a route fault', () => {
    const faulty = generate(spec({ faults: [{ kind: 'errorRatio', target: { service: 'checkout', versions: ['v42'], routes: ['/search'] }, startMs: ONSET, multiplier: 20 }] }));
    const offRoute = (e: TimedEvent): boolean => e.event.type === 'request' && (e.event.instance !== CANARY || e.event.route !== '/search');
    expect(linesOf(faulty, offRoute)).toEqual(linesOf(clean, offRoute));
    const onRoute = sliceStats(faulty, 'checkout', new Set(['v42']), ONSET, 16 * MIN, '/search');
    expect(onRoute.errors / onRoute.requests).toBeGreaterThan(0.07);
  });

  it('degrades every version together in a fleet-wide outage, and only during it', () => {
    const end = ONSET + 4 * MIN;
    const faulty = generate(
      spec({ faults: [{ kind: 'outage', target: { service: 'checkout' }, startMs: ONSET, durationMs: 4 * MIN, errorRatio: 0.2, latencyMultiplier: 1.5, message: 'circuit open after {int:10:50} failures', status: 503 }] }),
    );
    for (const v of ['v41', 'v42']) {
      const during = sliceStats(faulty, 'checkout', new Set([v]), ONSET, end);
      expect(during.errors / during.requests).toBeGreaterThan(0.17);
      expect(during.errors / during.requests).toBeLessThan(0.24);
    }
    const outside = (e: TimedEvent): boolean => e.event.type !== 'deploy' && (e.tsMs < ONSET || e.tsMs >= end);
    expect(linesOf(faulty, outside)).toEqual(linesOf(clean, outside));
  });

  it('logs a new message only on the canary, and never before the onset', () => {
    const faulty = generate(
      spec({ faults: [{ kind: 'newError', target: { service: 'checkout', versions: ['v42'] }, startMs: ONSET, ratio: 0.02, message: 'TypeError: x is undefined in cart {uuid}', failsRequest: false, status: 500 }] }),
    );
    const shapes = errorShapes(faulty, 'checkout', 0, 16 * MIN);
    const isNew = (s: string): boolean => s.startsWith('TypeError');
    expect([...(shapes.get('v41')?.keys() ?? [])].some(isNew)).toBe(false);
    const count = [...(shapes.get('v42')?.entries() ?? [])].filter(([s]) => isNew(s)).reduce((n, [, c]) => n + c, 0);
    const requests = sliceStats(faulty, 'checkout', new Set(['v42']), ONSET, 16 * MIN).requests;
    expect(Math.abs(count - 0.02 * requests)).toBeLessThan(4 * Math.sqrt(0.02 * requests));
    expect(errorShapes(faulty, 'checkout', 0, ONSET).get('v42')?.has('TypeError: x is undefined in cart <uuid> (route=/cart)') ?? false).toBe(false);
    // A logged-only bug does not change a single status.
    expect(requestsOf(faulty).map((r) => r.status)).toEqual(requestsOf(clean).map((r) => r.status));
  });

  it('ramps a gradual fault from nothing to full', () => {
    const faulty = generate(spec({ faults: [{ kind: 'latency', target: { service: 'checkout', versions: ['v42'] }, startMs: ONSET, rampMs: 6 * MIN, multiplier: 2 }] }));
    const ratio = (from: number, to: number): number =>
      quantileOf(sliceStats(faulty, 'checkout', new Set(['v42']), from, to).latencies, 0.5) / quantileOf(sliceStats(clean, 'checkout', new Set(['v42']), from, to).latencies, 0.5);
    expect(ratio(ONSET, ONSET + MIN)).toBeLessThan(1.2);
    expect(ratio(ONSET + 6 * MIN, 16 * MIN)).toBeCloseTo(2, 1);
  });
});

describe('delivery', () => {
  it('drops every version tag when asked, leaving deploy instance lists to resolve them', () => {
    const events = generate(spec({ delivery: { ...ON_TIME, untaggedShare: 1 } }));
    const announced = new Set<string>();
    for (const { event } of events) {
      if (event.type === 'deploy') for (const i of event.instances) announced.add(i);
      else if (event.type === 'request' || event.type === 'log') {
        expect('version' in event).toBe(false);
        expect(announced.has(event.instance)).toBe(true);
      }
    }
  });

  it('drops about the configured share of tags, only for the chosen versions', () => {
    const events = generate(spec({ delivery: { ...ON_TIME, untaggedShare: 0.5, untaggedVersions: ['v42'] } }));
    const canary = requestsOf(events, CANARY);
    const untagged = canary.filter((r) => r.version === undefined).length / canary.length;
    expect(untagged).toBeGreaterThan(0.46);
    expect(untagged).toBeLessThan(0.54);
    expect(requestsOf(events).every((r) => r.instance === CANARY || r.version === 'v41')).toBe(true);
  });

  it('emits a share of events late, in emission order, a few beyond 30 s', () => {
    const delivery = { untaggedShare: 0, lateShare: 0.1, lateMaxMs: 25_000, veryLateShare: 0.001, veryLateMinMs: 31_000, veryLateMaxMs: 120_000 };
    const events = generate(spec({ delivery }));
    let late = 0;
    let veryLate = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as TimedEvent;
      const delay = e.emitMs - e.tsMs;
      if (i > 0) expect(e.emitMs).toBeGreaterThanOrEqual((events[i - 1] as TimedEvent).emitMs);
      if (delay > 0 && delay <= 25_001) late++;
      else if (delay > 30_000) {
        veryLate++;
        expect(delay).toBeLessThanOrEqual(120_000);
      } else expect(delay).toBe(0);
    }
    const nonDeploy = events.filter((e) => e.event.type !== 'deploy').length;
    expect(late / nonDeploy).toBeGreaterThan(0.09);
    expect(late / nonDeploy).toBeLessThan(0.11);
    expect(veryLate).toBeGreaterThan(10);
    expect(veryLate).toBeLessThan(200);
    // The stream itself shows it: event times go backwards.
    let watermark = 0;
    let behind = 0;
    for (const e of events) {
      if (e.tsMs < watermark) behind = Math.max(behind, watermark - e.tsMs);
      watermark = Math.max(watermark, e.tsMs);
    }
    expect(behind).toBeGreaterThan(30_000);
  });

  it('reports the same counts through metric events as through request events', () => {
    const requests = generate(spec());
    const metrics = generate(spec({ emission: 'metrics' }));
    for (const v of ['v41', 'v42']) {
      const a = sliceStats(requests, 'checkout', new Set([v]), 0, 16 * MIN);
      const b = sliceStats(metrics, 'checkout', new Set([v]), 0, 16 * MIN);
      expect(b.requests).toBe(a.requests);
      expect(b.errors).toBe(a.errors);
      expect(b.latencies.length / a.latencies.length).toBeGreaterThan(0.2);
      expect(b.latencies.length / a.latencies.length).toBeLessThan(0.3);
    }
    expect(requestsOf(metrics).length).toBe(0);
  });
});
