import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addRank, binomialUpperTail, NO_RANK, normalUpperP, rankContribution, rankTestP, stratifiedCountTest,
} from './stats.js';

/** Exact binomial upper tail by summing every term with plain products, for small n. */
function directTail(k: number, n: number, p: number): number {
  let sum = 0;
  for (let i = k; i <= n; i++) {
    let c = 1;
    for (let t = 0; t < i; t++) c = (c * (n - t)) / (t + 1);
    sum += c * p ** i * (1 - p) ** (n - i);
  }
  return sum;
}

describe('binomialUpperTail', () => {
  it.each([
    [0, 10, 0.3, 1],
    [11, 10, 0.3, 0],
    [3, 10, 0.3, directTail(3, 10, 0.3)],
    [8, 20, 0.1, directTail(8, 20, 0.1)],
    [1, 1, 0.5, 0.5],
  ])('P(X >= %i | n=%i, p=%f)', (k, n, p, want) => {
    expect(binomialUpperTail(k, n, p)).toBeCloseTo(want, 12);
  });

  it('matches direct summation on random small cases', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      (n, k, p) => {
        const kk = Math.min(k, n);
        const got = binomialUpperTail(kk, n, p);
        const want = directTail(kk, n, p);
        expect(Math.abs(got - want)).toBeLessThan(1e-9 + want * 1e-9);
      }));
  });

  it('keeps relative accuracy far in the tail', () => {
    // P(X >= 30 | 50, 0.1) = 6.16938690541289e-18 (exact rational sum); an absolute-accuracy method would say 0.
    const v = binomialUpperTail(30, 50, 0.1);
    expect(Math.abs(v - 6.16938690541289e-18) / 6.16938690541289e-18).toBeLessThan(1e-9);
  });
});

describe('normalUpperP', () => {
  it.each([[0, 0.5], [1.6448536, 0.05], [2.3263479, 0.01], [3.7190165, 1e-4], [4.7534243, 1e-6]])('z=%f gives %f', (z, p) => {
    expect(Math.abs(normalUpperP(z) - p) / p).toBeLessThan(1e-4);
  });
  it('is monotone and symmetric', () => {
    expect(normalUpperP(-2) + normalUpperP(2)).toBeCloseTo(1, 7);
    expect(normalUpperP(9)).toBeLessThan(normalUpperP(8));
    expect(normalUpperP(9)).toBeGreaterThan(0);
  });
});

describe('stratifiedCountTest', () => {
  it('is quiet when canary and comparison share each slice\'s ratio, even when slices differ wildly', () => {
    // A fleet-wide outage in two slices: both sides at 40% errors there, 0.5% elsewhere.
    const strata = [];
    for (let i = 0; i < 30; i++) {
      const bad = i === 10 || i === 11;
      strata.push({ n1: 40, x1: bad ? 16 : i % 5 === 0 ? 1 : 0, n0: 400, x0: bad ? 160 : 2 });
    }
    const t = stratifiedCountTest(strata);
    expect(t.p).toBeGreaterThan(0.01);
    expect(t.riskRatio).toBeGreaterThan(0.5);
    expect(t.riskRatio).toBeLessThan(2);
  });

  it('finds a canary whose ratio is eight times the comparison\'s', () => {
    const strata = Array.from({ length: 12 }, () => ({ n1: 40, x1: 1.5, n0: 400, x0: 2 }));
    const rounded = strata.map((s, i) => ({ ...s, x1: i % 2 === 0 ? 1 : 2 }));
    const t = stratifiedCountTest(rounded);
    expect(t.p).toBeLessThan(1e-6);
    expect(t.riskRatio).toBeGreaterThan(5);
    expect(t.alignedRatio0).toBeCloseTo(0.005, 6);
  });

  it('ignores strata where one side had no traffic', () => {
    const t = stratifiedCountTest([{ n1: 10, x1: 10, n0: 0, x0: 0 }, { n1: 0, x1: 0, n0: 10, x0: 5 }]);
    expect(t.strata).toBe(0);
    expect(t.p).toBe(1);
  });

  it('gives p-values that are not too small under no difference (simulated)', () => {
    // Under the null, P(p <= a) <= a (up to sampling noise): a conservative test never cries wolf more.
    let seed = 7;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const binom = (n: number, p: number): number => { let x = 0; for (let i = 0; i < n; i++) if (rnd() < p) x++; return x; };
    let small = 0;
    const runs = 2000;
    for (let r = 0; r < runs; r++) {
      const strata = Array.from({ length: 18 }, () => ({ n1: 40, x1: binom(40, 0.005), n0: 400, x0: binom(400, 0.005) }));
      if (stratifiedCountTest(strata).p <= 0.01) small++;
    }
    expect(small / runs).toBeLessThan(0.02);
  });
});

/** Mann-Whitney U (canary above comparison, ties half) from raw values. */
function directU(a: number[], b: number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

function bins(values: number[]): { keys: number[]; counts: number[] } {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  const keys = [...m.keys()].sort((x, y) => x - y);
  return { keys, counts: keys.map((k) => m.get(k) as number) };
}

describe('rankContribution', () => {
  it('computes U exactly from binned values, ties included', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 40 }),
      (a, b) => {
        const ba = bins(a), bb = bins(b);
        const c = rankContribution(ba.keys, ba.counts, bb.keys, bb.counts);
        expect(c.u).toBeCloseTo(directU(a, b), 9);
        expect(c.pairs).toBe(a.length * b.length);
        expect(c.variance).toBeGreaterThanOrEqual(0);
      }));
  });

  it('is significant for a clear shift and not for identical samples', () => {
    const base = Array.from({ length: 200 }, (_, i) => 50 + (i % 40));
    const slow = base.map((v) => Math.round(v * 1.6));
    const bs = bins(base), bl = bins(slow);
    expect(rankTestP(rankContribution(bl.keys, bl.counts, bs.keys, bs.counts))).toBeLessThan(1e-10);
    expect(rankTestP(rankContribution(bs.keys, bs.counts, bs.keys, bs.counts))).toBeGreaterThan(0.4);
  });

  it('adds over strata with the empty contribution as identity', () => {
    const a = bins([1, 2, 3]), b = bins([2, 3, 4]);
    const c = rankContribution(a.keys, a.counts, b.keys, b.counts);
    expect(addRank(c, NO_RANK)).toEqual(c);
    expect(addRank(NO_RANK, c)).toEqual(c);
  });
});
