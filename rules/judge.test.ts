import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { COUNT_FIELDS, addCountStratum } from './stats.js';
import { type ChangeStart, Cumulative, changeLogStatistic, changeStarts, changeTerms } from './judge.js';

/** A small seeded generator, so that the simulated streams are the same on every run. */
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

function poisson(mean: number, next: () => number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = next(); p > limit; p *= next()) k++;
  return k;
}

/** Per-slice terms of a one-field detector, given directly. */
function termsOf(values: readonly number[], first = 0): Cumulative {
  const c = new Cumulative(1, 200);
  values.forEach((v, i) => c.append(first + i, [v]));
  return c;
}

/** A count series' detector terms for slices of canary/comparison requests and errors. */
function countTerms(slices: readonly { n1: number; x1: number; n0: number; x0: number }[]): Cumulative {
  const out = new Float64Array(7);
  const c = new Cumulative(out.length, 400);
  slices.forEach((s, t) => {
    const v = new Float64Array(COUNT_FIELDS);
    addCountStratum(v, s);
    c.append(t, changeTerms('e', v, out));
  });
  return c;
}

describe('prefix sums in a ring', () => {
  it('sum and per-slice reads match a plain recount of the slices the ring still holds, however long it runs', () => {
    fc.assert(fc.property(
      fc.integer({ min: 3, max: 12 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: -5, max: 80 }), fc.integer({ min: 0, max: 80 }),
      (size, steps, from, span) => {
        const ring = new Cumulative(1, size);
        const values = new Map<number, number>();
        let slot = 0;
        for (const [gap, v] of steps) {
          slot += gap;
          ring.append(slot, [v]);
          values.set(slot, v);
        }
        // Held: the last size - 1 slices (each read needs the prefix sum before it).
        const held = (t: number): boolean => t > slot - size + 1 && t <= slot;
        let expected = 0;
        for (const [t, v] of values) if (t >= from && t <= from + span && held(t)) expected += v;
        expect(ring.sum(from, from + span, new Float64Array(1))[0]).toBe(expected);
        for (let t = slot - size - 2; t <= slot; t++) expect(ring.at(t, new Float64Array(1))[0]).toBe(held(t) ? (values.get(t) ?? 0) : 0);
      }));
  });
});

const ONE_START: readonly ChangeStart[] = [{ slot: 0, logWeight: 0 }];

describe('the change detector', () => {
  it('weighs the change points of a judgment at most 1 in all, one a minute', () => {
    const starts = changeStarts(100, 100 + 6 * 40, 6, 1_000);
    expect(starts.map((s) => s.slot).slice(0, 3)).toEqual([100, 106, 112]);
    expect(starts.reduce((a, s) => a + Math.exp(s.logWeight), 0)).toBeLessThan(1);
    // Change points whose data the terms no longer hold are dropped.
    expect(changeStarts(0, 100, 6, 30).every((s) => s.slot > 71)).toBe(true);
  });

  it('leaves out the strongest run of burstSlots + 1 slices of what it adds up', () => {
    // 20 slices of one nat each: 4 of them (a burst of 3 slices, however aligned) are left out.
    expect(changeLogStatistic(termsOf(Array(20).fill(1)), ONE_START, 19, 3)).toBeCloseTo(16, 10);
  });

  it('never gets past its bound on one burst, however strong', () => {
    const values = Array(30).fill(-0.1);
    for (let t = 12; t < 16; t++) values[t] = 80;
    const starts = changeStarts(0, 29, 6, 200);
    expect(changeLogStatistic(termsOf(values), starts, 29, 3)).toBeLessThan(0);
    // The same evidence spread out is a change.
    const spread = Array(30).fill(0);
    for (let t = 0; t < 30; t += 3) spread[t] = 32;
    expect(changeLogStatistic(termsOf(spread), starts, 29, 3)).toBeGreaterThan(100);
  });

  it('finds a sustained rise in the canary error ratio from the data after it starts', () => {
    const next = rng(7);
    const slices = Array.from({ length: 60 }, (_, t) => ({ n1: 100, x1: poisson(t >= 24 ? 3 : 0.5, next), n0: 400, x0: poisson(2, next) }));
    const terms = countTerms(slices);
    const bound = Math.log(1e4);
    const starts = (to: number) => changeStarts(0, to, 6, 400);
    expect(changeLogStatistic(terms, starts(23), 23, 3)).toBeLessThan(bound);
    expect(changeLogStatistic(terms, starts(59), 59, 3)).toBeGreaterThan(bound);
  });

  it.each([[5, 45, 3], [50, 150, 12], [1, 999, 4]])('has per-slice ratios of mean 1 under no difference (%i vs %i requests, %i errors)', (n1, n0, m) => {
    // Given the slice's m errors, the canary's count is Binomial(m, its share of requests).
    const share = n1 / (n1 + n0);
    const means = new Float64Array(7);
    let choose = 1;
    for (let x = 0; x <= m; x++) {
      if (x > 0) choose = (choose * (m - x + 1)) / x;
      const v = new Float64Array(COUNT_FIELDS);
      addCountStratum(v, { n1, x1: x, n0, x0: m - x });
      const t = changeTerms('e', v, new Float64Array(7));
      const pmf = choose * share ** x * (1 - share) ** (m - x);
      for (let f = 0; f < 7; f++) means[f] = (means[f] as number) + pmf * Math.exp(t[f] as number);
    }
    for (const mean of means) expect(mean).toBeCloseTo(1, 9);
  });

  it('under no difference reaches odds of A to 1 in at most 1/A of the canaries, watched every slice (Ville)', () => {
    const next = rng(11);
    const runs = 400;
    const odds = 20;
    let crossed = 0;
    for (let r = 0; r < runs; r++) {
      // Uneven traffic and a rate that swings: the canary's share of errors is its share of requests.
      const slices = Array.from({ length: 90 }, (_, t) => {
        const n1 = 20 + Math.floor(next() * 60), n0 = 200 + Math.floor(next() * 200);
        const rate = 0.01 * (1 + 0.5 * Math.sin(t / 9));
        return { n1, x1: poisson(n1 * rate, next), n0, x0: poisson(n0 * rate, next) };
      });
      const terms = countTerms(slices);
      for (let to = 0; to < slices.length; to++) {
        if (changeLogStatistic(terms, changeStarts(0, to, 6, 400), to, 0) >= Math.log(odds)) { crossed++; break; }
      }
    }
    expect(crossed / runs).toBeLessThanOrEqual(1 / odds);
  });
});
