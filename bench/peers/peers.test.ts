import { describe, expect, it } from 'vitest';
import type { Decision } from '../../rules/decisions.js';
import type { VigilEvent } from '../../rules/events.js';
import { CanaryTestJudge, mannWhitneyP, twoProportionP } from './canary-test.js';
import { quantileOf, ThresholdJudge } from './threshold.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

interface Plan {
  /** Requests per second of each version, from its start minute. */
  readonly versions: readonly { readonly version: string; readonly instance: string; readonly role: 'stable' | 'canary'; readonly fromMin: number; readonly perSecond: number; readonly error: (minute: number, i: number) => boolean; readonly latencyMs: (minute: number, i: number) => number; readonly tagged: boolean }[];
  readonly minutes: number;
}

/** A small deterministic stream: deploys, then requests second by second. */
function stream(plan: Plan): VigilEvent[] {
  const out: VigilEvent[] = [];
  for (const v of plan.versions) out.push({ type: 'deploy', ts: T0 + v.fromMin * MIN, service: 'shop', version: v.version, role: v.role, action: 'start', instances: [v.instance] });
  for (let s = 0; s < plan.minutes * 60; s++) {
    const ts = T0 + s * 1000;
    const minute = Math.floor(s / 60);
    for (const v of plan.versions) {
      if (minute < v.fromMin) continue;
      for (let k = 0; k < v.perSecond; k++) {
        const i = s * v.perSecond + k;
        out.push({ type: 'request', ts: ts + k, service: 'shop', instance: v.instance, ...(v.tagged ? { version: v.version } : {}), route: '/', status: v.error(minute, i) ? 500 : 200, latencyMs: v.latencyMs(minute, i) });
      }
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

function run(judge: { push(e: VigilEvent): void; finish(): void }, events: readonly VigilEvent[]): void {
  for (const e of events) judge.push(e);
  judge.finish();
}

const steady = (i: number): number => 50 + (i % 10);
const stable = { version: 'v1', instance: 'shop-1', role: 'stable' as const, fromMin: 0, perSecond: 10, error: (_m: number, i: number) => i % 400 === 0, latencyMs: (_m: number, i: number) => steady(i), tagged: true };

describe('ThresholdJudge', () => {
  it('pages the canary once when its 5m error ratio passes 1%, fails it, and resolves when the ratio falls back', () => {
    const decisions: Decision[] = [];
    const canary = { version: 'v2', instance: 'shop-2', role: 'canary' as const, fromMin: 1, perSecond: 2, error: (m: number, i: number) => m >= 4 && m < 8 && i % 10 === 0, latencyMs: (_m: number, i: number) => steady(i), tagged: false };
    run(new ThresholdJudge((d) => decisions.push(d)), stream({ versions: [stable, canary], minutes: 20 }));
    const pages = decisions.filter((d) => d.type === 'page');
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({ service: 'shop', versions: ['v2'], signals: ['errors'] });
    // Minute 4 has 10% errors: the 5m window ending at minute 5 holds 12 errors in 600 requests (2%).
    expect(pages[0]?.ts).toBe(new Date(T0 + 5 * MIN).toISOString());
    const verdicts = decisions.filter((d) => d.type === 'verdict').map((d) => (d.type === 'verdict' ? d.verdict : ''));
    expect(verdicts).toEqual(['FAIL']);
    expect(decisions.filter((d) => d.type === 'resolve')).toHaveLength(1);
  });

  it('passes a clean canary after five minutes of evaluations and pages nothing', () => {
    const decisions: Decision[] = [];
    const canary = { ...stable, version: 'v2', instance: 'shop-2', role: 'canary' as const, fromMin: 1, perSecond: 2 };
    run(new ThresholdJudge((d) => decisions.push(d)), stream({ versions: [stable, canary], minutes: 10 }));
    expect(decisions.filter((d) => d.type === 'page')).toHaveLength(0);
    expect(decisions.filter((d) => d.type === 'verdict')).toMatchObject([{ version: 'v2', verdict: 'PASS', ts: new Date(T0 + 7 * MIN).toISOString() }]);
  });

  it('fires on a p99 above 1.5x the fleet p99', () => {
    const decisions: Decision[] = [];
    const canary = { ...stable, version: 'v2', instance: 'shop-2', role: 'canary' as const, fromMin: 1, perSecond: 2, error: () => false, latencyMs: (m: number, i: number) => (m >= 3 ? 300 : steady(i)) };
    run(new ThresholdJudge((d) => decisions.push(d)), stream({ versions: [stable, canary], minutes: 8 }));
    expect(decisions.filter((d) => d.type === 'page')).toMatchObject([{ versions: ['v2'], signals: ['latency'] }]);
  });
});

describe('CanaryTestJudge', () => {
  it('fails and pages the canary on the first minute its errors are significantly higher, once', () => {
    const decisions: Decision[] = [];
    const canary = { version: 'v2', instance: 'shop-2', role: 'canary' as const, fromMin: 1, perSecond: 2, error: (m: number, i: number) => m >= 3 && i % 5 === 0, latencyMs: (_m: number, i: number) => steady(i), tagged: true };
    run(new CanaryTestJudge((d) => decisions.push(d)), stream({ versions: [stable, canary], minutes: 10 }));
    expect(decisions.filter((d) => d.type === 'page')).toMatchObject([{ versions: ['v2'], signals: ['errors'], ts: new Date(T0 + 4 * MIN).toISOString() }]);
    expect(decisions.filter((d) => d.type === 'verdict')).toMatchObject([{ version: 'v2', verdict: 'FAIL' }]);
  });

  it('passes a canary identical to the stable fleet after five tested minutes', () => {
    const decisions: Decision[] = [];
    const canary = { ...stable, version: 'v2', instance: 'shop-2', role: 'canary' as const, fromMin: 1, perSecond: 10, error: () => false };
    run(new CanaryTestJudge((d) => decisions.push(d)), stream({ versions: [stable, canary], minutes: 8 }));
    expect(decisions).toMatchObject([{ type: 'verdict', version: 'v2', verdict: 'PASS' }]);
  });
});

describe('the peers statistics', () => {
  it.each([
    [10, 100, 10, 100, 0.4999, 0.5001],
    [20, 100, 5, 100, 0.0005, 0.001],
    [5, 100, 20, 100, 0.999, 1],
    [0, 100, 0, 100, 1, 1],
  ])('two-proportion p of %i/%i vs %i/%i is in [%f, %f]', (e1, n1, e2, n2, lo, hi) => {
    const p = twoProportionP(e1, n1, e2, n2);
    expect(p).toBeGreaterThanOrEqual(lo);
    expect(p).toBeLessThanOrEqual(hi);
  });

  it('Mann-Whitney p is small when the first sample is larger and large when it is smaller', () => {
    // U = 9 of 9: z = (9 - 4.5) / sqrt(9 * 7 / 12) = 1.964, p = 0.0248.
    expect(mannWhitneyP([10, 11, 12], [1, 2, 3])).toBeCloseTo(0.0248, 3);
    expect(mannWhitneyP([1, 2, 3], [10, 11, 12])).toBeCloseTo(1 - 0.0248, 3);
    expect(mannWhitneyP([], [1])).toBe(1);
  });

  it('quantileOf is the nearest-rank sample quantile', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(quantileOf(values, 0.99)).toBe(99);
    expect(quantileOf(values, 0.5)).toBe(50);
    expect(quantileOf([7], 0.99)).toBe(7);
    expect(quantileOf([], 0.99)).toBeNaN();
  });
});
