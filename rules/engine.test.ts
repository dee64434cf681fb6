import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEngine } from './engine.js';
import { DEFAULT_RULES, rulesSchema } from './config.js';
import type { Decision, PageDecision, VerdictDecision } from './decisions.js';
import type { DeployEvent, LogEvent, RequestEvent, VigilEvent } from './events.js';

const T0 = Date.parse('2026-11-18T11:00:00.000Z');
const MIN = 60_000;

/** A small seeded generator so timelines are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Traffic {
  readonly version?: string;
  readonly instance: string;
  readonly fromMin: number;
  readonly toMin: number;
  readonly rps: number;
  /** Error ratio at a time (minutes since T0) on a route. */
  readonly errorRatio?: (min: number, route: string) => number;
  /** Latency at a time, given a uniform draw (for tails). */
  readonly latency?: (min: number, u: number, route: string) => number;
  readonly routes?: readonly [string, number][];
  readonly service?: string;
  readonly seed?: number;
}

const ROUTES: readonly [string, number][] = [['/cart', 0.4], ['/search', 0.3], ['/checkout', 0.25], ['/settings', 0.05]];

/** Requests at a steady rate with random errors and log-normal-ish latency. */
function traffic(t: Traffic): RequestEvent[] {
  const r = rng(t.seed ?? hash(t.instance));
  const out: RequestEvent[] = [];
  const routes = t.routes ?? ROUTES;
  const step = 1000 / t.rps;
  for (let ts = T0 + t.fromMin * MIN + r() * step; ts < T0 + t.toMin * MIN; ts += step * (0.5 + r())) {
    const min = (ts - T0) / MIN;
    let u = r(), route = routes[0]?.[0] ?? '/';
    for (const [name, share] of routes) { if (u < share) { route = name; break; } u -= share; }
    const err = r() < (t.errorRatio?.(min, route) ?? 0.005);
    const lu = r();
    const latency = t.latency ? t.latency(min, lu, route) : 40 * Math.exp(0.5 * normal(lu));
    out.push({
      type: 'request', ts: Math.round(ts), service: t.service ?? 'checkout', instance: t.instance, route,
      status: err ? 503 : 200, latencyMs: Math.round(latency * 100) / 100,
      ...(t.version !== undefined ? { version: t.version } : {}),
    });
  }
  return out;
}

function normal(u: number): number {
  // Inverse of the logistic approximation of the normal CDF: good enough for test traffic.
  const c = Math.min(Math.max(u, 1e-6), 1 - 1e-6);
  return Math.log(c / (1 - c)) / 1.702;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function deploy(min: number, version: string, role: DeployEvent['role'], instances: string[], extra: Partial<DeployEvent> = {}): DeployEvent {
  return { type: 'deploy', ts: T0 + min * MIN, service: 'checkout', version, role, action: 'start', instances, ...extra };
}

/** The usual setup: stable v41 on 8 instances, canary v42 on one from minute 2, 30 minutes long. */
function fleet(opts: { stable?: Partial<Traffic>; canary?: Partial<Traffic>; tagged?: boolean } = {}): VigilEvent[] {
  const tagged = opts.tagged ?? true;
  const events: VigilEvent[] = [deploy(0, 'v41', 'stable', Array.from({ length: 8 }, (_, i) => `v41-${i}`))];
  events.push(deploy(2, 'v42', 'canary', ['v42-0']));
  for (let i = 0; i < 8; i++) {
    events.push(...traffic({ instance: `v41-${i}`, fromMin: 0, toMin: 30, rps: 5, ...(tagged ? { version: 'v41' } : {}), ...opts.stable }));
  }
  events.push(...traffic({ instance: 'v42-0', fromMin: 2, toMin: 30, rps: 5, ...(tagged ? { version: 'v42' } : {}), ...opts.canary }));
  return sortByTs(events);
}

function sortByTs(events: VigilEvent[]): VigilEvent[] {
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i).map((x) => x.e);
}

function run(events: readonly VigilEvent[], config = DEFAULT_RULES): { decisions: Decision[]; stats: ReturnType<ReturnType<typeof createEngine>['stats']> } {
  const decisions: Decision[] = [];
  const engine = createEngine(config, (d) => decisions.push(d));
  for (const e of events) engine.push(e);
  engine.finish();
  return { decisions, stats: engine.stats() };
}

const pages = (ds: Decision[]): PageDecision[] => ds.filter((d): d is PageDecision => d.type === 'page');
const verdicts = (ds: Decision[], version: string): VerdictDecision[] =>
  ds.filter((d): d is VerdictDecision => d.type === 'verdict' && d.version === version);
const finalVerdict = (ds: Decision[], version: string): string | undefined => verdicts(ds, version).at(-1)?.verdict;
const minutesAfter = (iso: string, min: number): number => (Date.parse(iso) - (T0 + min * MIN)) / MIN;

describe('canary judging, timeline by timeline', () => {
  it('passes a clean canary and never pages', () => {
    const { decisions } = run(fleet());
    expect(pages(decisions)).toEqual([]);
    expect(finalVerdict(decisions, 'v42')).toBe('PASS');
    expect(verdicts(decisions, 'v42').some((v) => v.verdict === 'FAIL')).toBe(false);
  });

  it('fails an error regression within five minutes of its onset, with one page and readable numbers', () => {
    const { decisions } = run(fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } }));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.versions).toEqual(['v42']);
    expect(p[0]?.signals).toContain('errors');
    const delay = minutesAfter(p[0]?.ts ?? '', 10);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThan(5);
    const fail = verdicts(decisions, 'v42').find((v) => v.verdict === 'FAIL');
    expect(minutesAfter(fail?.ts ?? '', 10)).toBeGreaterThan(0);
    expect(fail?.reasons.join(' ')).toMatch(/5xx ratio \d+(\.\d+)?% vs \d+(\.\d+)?% on v41 \(x\d/);
    expect(finalVerdict(decisions, 'v42')).toBe('FAIL');
  });

  it('does not blame the canary for a fleet-wide outage', () => {
    const outage = (m: number): number => (m >= 12 && m < 16 ? 0.3 : 0.005);
    const { decisions } = run(fleet({ stable: { errorRatio: outage }, canary: { errorRatio: outage } }));
    expect(pages(decisions)).toEqual([]);
    expect(decisions.filter((d) => d.type === 'suppressed' && d.why === 'fleet-wide')).toHaveLength(1);
    expect(verdicts(decisions, 'v42').some((v) => v.verdict === 'FAIL')).toBe(false);
    expect(finalVerdict(decisions, 'v42')).toBe('PASS');
  });

  it('does not blame the canary for a fleet-wide latency surge', () => {
    const surge = (m: number, u: number): number => 40 * Math.exp(0.5 * normal(u)) * (m >= 12 && m < 15 ? 4 : 1);
    const { decisions } = run(fleet({ stable: { latency: surge }, canary: { latency: surge } }));
    expect(pages(decisions)).toEqual([]);
    expect(finalVerdict(decisions, 'v42')).toBe('PASS');
  });

  it('stays quiet on a short burst of canary errors', () => {
    const blip = (m: number): number => (m >= 12 && m < 12 + 20 / 60 ? 0.5 : 0.005);
    const { decisions } = run(fleet({ canary: { errorRatio: blip } }));
    expect(pages(decisions)).toEqual([]);
    expect(verdicts(decisions, 'v42').some((v) => v.verdict === 'FAIL')).toBe(false);
  });

  it('catches errors on one small route that the service-wide ratio would average away', () => {
    const { decisions } = run(fleet({ canary: { errorRatio: (m, route) => (m >= 10 && route === '/settings' ? 0.3 : 0.005) } }));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.reasons?.join(' ')).toContain('/settings');
    expect(minutesAfter(p[0]?.ts ?? '', 10)).toBeLessThan(5);
  });

  it('catches a regression of the whole latency distribution', () => {
    const lat = (m: number, u: number): number => 40 * Math.exp(0.5 * normal(u)) * (m >= 10 ? 1.5 : 1);
    const { decisions } = run(fleet({ canary: { latency: lat } }));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.signals).toContain('latency');
    expect(minutesAfter(p[0]?.ts ?? '', 10)).toBeLessThan(5);
  });

  it('catches a tail-only latency regression that leaves the median alone', () => {
    const lat = (m: number, u: number): number => 40 * Math.exp(0.5 * normal(u)) * (m >= 10 && u > 0.95 ? 4 : 1);
    const { decisions } = run(fleet({ canary: { latency: lat } }));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.signals).toContain('latency-tail');
    expect(p[0]?.signals).not.toContain('latency');
    expect(minutesAfter(p[0]?.ts ?? '', 10)).toBeLessThan(5);
  });

  it('fails a canary that logs an error the fleet never logs', () => {
    const events = fleet();
    for (let s = 10 * 60; s < 30 * 60; s += 4) {
      const log: LogEvent = {
        type: 'log', ts: T0 + s * 1000, service: 'checkout', version: 'v42', instance: 'v42-0', level: 'error',
        message: `NullPointerException in PriceFormatter.format for order ${1000 + s}`,
      };
      events.push(log);
    }
    for (let s = 0; s < 30 * 60; s += 9) {
      events.push({ type: 'log', ts: T0 + s * 1000, service: 'checkout', version: 'v41', instance: 'v41-1', level: 'error', message: `deadlock detected on cart ${s}` });
    }
    const { decisions } = run(sortByTs(events));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.signals).toEqual(['new-error']);
    expect(p[0]?.reasons?.join(' ')).toContain('NullPointerException in PriceFormatter.format for order <n>');
  });

  it('tags untagged events from the deploy registry', () => {
    const { decisions, stats } = run(fleet({ tagged: false, canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } }));
    expect(stats.unknownVersion).toBe(0);
    expect(pages(decisions)).toHaveLength(1);
    expect(finalVerdict(decisions, 'v42')).toBe('FAIL');
  });

  it('never blames traffic whose version stays unknown', () => {
    const events = fleet();
    events.push(...traffic({ instance: 'mystery-1', fromMin: 2, toMin: 30, rps: 5, errorRatio: () => 0.5 }));
    const { decisions, stats } = run(sortByTs(events));
    expect(stats.unknownVersion).toBeGreaterThan(1000);
    expect(pages(decisions)).toEqual([]);
    expect(decisions.filter((d) => d.type === 'verdict' && d.version === 'unknown')).toEqual([]);
  });

  it('pages once for parallel canaries of one release sharing a bug, naming them as they fail', () => {
    const events: VigilEvent[] = [deploy(0, 'v41', 'stable', Array.from({ length: 8 }, (_, i) => `v41-${i}`))];
    for (const v of ['v42-a', 'v42-b', 'v42-c']) {
      events.push(deploy(2, v, 'canary', [`${v}-0`], { release: 'r42' }));
      events.push(...traffic({ instance: `${v}-0`, version: v, fromMin: 2, toMin: 30, rps: 5, errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) }));
    }
    for (let i = 0; i < 8; i++) events.push(...traffic({ instance: `v41-${i}`, version: 'v41', fromMin: 0, toMin: 30, rps: 5 }));
    const { decisions } = run(sortByTs(events));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    expect(p[0]?.release).toBe('r42');
    const named = new Set([...(p[0]?.versions ?? []), ...decisions.filter((d) => d.type === 'update').flatMap((d) => (d.type === 'update' ? d.versions : []))]);
    expect([...named].sort()).toEqual(['v42-a', 'v42-b', 'v42-c']);
    for (const v of ['v42-a', 'v42-b', 'v42-c']) expect(finalVerdict(decisions, v)).toBe('FAIL');
  });

  it('compares with the baseline instances when there are some, not with the stable fleet', () => {
    const events = fleet({ canary: { latency: (m, u) => 40 * Math.exp(0.5 * normal(u)) * (m >= 10 ? 1.6 : 1) } });
    events.push(deploy(2, 'v41', 'baseline', ['v41-b0']));
    events.push(...traffic({ instance: 'v41-b0', version: 'v41', fromMin: 2, toMin: 30, rps: 5 }));
    const { decisions } = run(sortByTs(events));
    const fail = verdicts(decisions, 'v42').find((v) => v.verdict === 'FAIL');
    expect(fail?.evidence?.comparedWith).toBe('v41 baseline');
    expect(pages(decisions)).toHaveLength(1);
  });

  it('resolves the incident when the canary is rolled back', () => {
    const events = fleet({ canary: { toMin: 20, errorRatio: (m) => (m >= 10 ? 0.06 : 0.005) } });
    events.push({ ...deploy(20, 'v42', 'canary', ['v42-0']), action: 'rollback' });
    const { decisions } = run(sortByTs(events));
    const p = pages(decisions);
    expect(p).toHaveLength(1);
    const resolve = decisions.find((d) => d.type === 'resolve');
    expect(resolve).toMatchObject({ incident: p[0]?.incident });
    expect(resolve?.type === 'resolve' && resolve.reason).toMatch(/rolled back v42/);
    expect(Date.parse(resolve?.ts ?? '')).toBeGreaterThanOrEqual(T0 + 20 * MIN);
  });

  it('judges a version rolled out fleet-wide with no canary against the version before it', () => {
    const events: VigilEvent[] = [deploy(0, 'v41', 'stable', Array.from({ length: 8 }, (_, i) => `n-${i}`))];
    for (let i = 0; i < 8; i++) {
      events.push(...traffic({ instance: `n-${i}`, fromMin: 0, toMin: 12, rps: 5, version: 'v41' }));
      events.push(...traffic({ instance: `n-${i}`, fromMin: 12, toMin: 30, rps: 5, version: 'v43', errorRatio: () => 0.05, seed: i + 99 }));
    }
    events.push(deploy(12, 'v43', 'stable', Array.from({ length: 8 }, (_, i) => `n-${i}`)));
    const { decisions } = run(sortByTs(events));
    expect(finalVerdict(decisions, 'v43')).toBe('FAIL');
    expect(pages(decisions)).toHaveLength(1);
    expect(pages(decisions)[0]?.versions).toEqual(['v43']);
  });

  it('counts events later than the allowed lateness as dropped, and keeps the rest', () => {
    const events = fleet();
    const last = events.at(-1) as VigilEvent;
    const late: RequestEvent = { type: 'request', ts: last.ts - 5 * MIN, service: 'checkout', version: 'v41', instance: 'v41-0', status: 200 };
    const slightlyLate: RequestEvent = { ...late, ts: last.ts - 10_000 };
    const { stats } = run([...events, late, slightlyLate]);
    expect(stats.late).toBe(1);
    expect(stats.accepted).toBe(events.length + 2);
  });

  it('gives the same decisions, byte for byte, on the same input', () => {
    const events = fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } });
    expect(JSON.stringify(run(events).decisions)).toBe(JSON.stringify(run(events).decisions));
  });

  it('does not depend on arrival order within the allowed lateness', () => {
    const base = fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } });
    const want = JSON.stringify(run(base).decisions);
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
      // Each event is delayed by up to 25 s; arrival order is by delayed time.
      const r = rng(seed);
      const shuffled = base.map((e, i) => ({ e, at: e.ts + (e.type === 'deploy' ? 0 : r() * 25_000), i }))
        .sort((a, b) => a.at - b.at || a.i - b.i).map((x) => x.e);
      expect(JSON.stringify(run(shuffled).decisions)).toBe(want);
    }), { numRuns: 5 });
  });

  it('applies a configuration: a looser persistence and change bound fail sooner', () => {
    const events = fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } });
    const slow = rulesSchema.parse({ judge: { persistMs: 4 * MIN, changeAlpha: 1e-30 } });
    const failAt = (ds: Decision[]): number => Date.parse(verdicts(ds, 'v42').find((v) => v.verdict === 'FAIL')?.ts ?? '');
    expect(failAt(run(events, slow).decisions)).toBeGreaterThan(failAt(run(events).decisions));
  });
});

describe('routing', () => {
  it('names in the page the channels its route gives, and the default channels when none matches', () => {
    const events = fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.04 : 0.005) } });
    const routed = rulesSchema.parse({ routing: { routes: [{ match: { team: ['shop'] }, channels: ['shop-slack', 'pagerduty'] }], teams: { shop: ['checkout'] } } });
    expect(pages(run(events, routed).decisions).map((p) => p.channels)).toEqual([['shop-slack', 'pagerduty']]);
    const elsewhere = rulesSchema.parse({ routing: { routes: [{ match: { service: ['search'] }, channels: ['search-slack'] }] }, incidents: { channels: ['console', 'mail'] } });
    expect(pages(run(events, elsewhere).decisions).map((p) => p.channels)).toEqual([['console', 'mail']]);
  });
});

describe('event time without events (a quiet stream)', () => {
  it('closes windows and recovers an incident when the driver moves event time on, never backwards', () => {
    // The canary fails from minute 10, the stream goes quiet at minute 16 with the incident open.
    const events = fleet({ canary: { errorRatio: (m) => (m >= 10 ? 0.08 : 0.005) } }).filter((e) => e.ts < T0 + 16 * MIN);
    const decisions: Decision[] = [];
    const engine = createEngine(DEFAULT_RULES, (d) => decisions.push(d));
    engine.advanceTo(T0 + 60 * MIN);  // before the first event: nothing to close, nothing happens
    for (const e of sortByTs(events)) engine.push(e);
    expect(pages(decisions)).toHaveLength(1);
    expect(decisions.filter((d) => d.type === 'resolve')).toHaveLength(0);
    const countBefore = decisions.length;
    engine.advanceTo(T0 + 15 * MIN);  // behind the newest event: ignored
    expect(decisions.length).toBe(countBefore);
    // With no data, the canary is no longer seen worse; ten quiet minutes later the incident recovers.
    engine.advanceTo(T0 + 40 * MIN);
    expect(decisions.filter((d) => d.type === 'resolve')).toHaveLength(1);
    expect(finalVerdict(decisions, 'v42')).toBe('FAIL');
    expect(engine.stats().late).toBe(0);
  });
});
