import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DDSketch } from '@datadog/sketches-js';
import { mergeSketchInto, newSketch, quantile, sketchBins } from './aggregate.js';
import { COUNT_FIELDS, addCountStratum, countTestFromSums, stratifiedCountTest } from './stats.js';

// Latencies from zero to a minute, at sub-microsecond resolution; far tinier values would
// only spread the bins over thousands of keys and slow every merge.
const values = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-4, max: 60_000, noNaN: true })), { maxLength: 40 });

function sketch(vs: readonly number[]): DDSketch | undefined {
  if (vs.length === 0) return undefined;
  const s = newSketch();
  for (const v of vs) s.accept(v);
  return s;
}

/** A copy made by merging, so the law checks never change their inputs. */
function merge(a: DDSketch | undefined, b: DDSketch | undefined): DDSketch | undefined {
  return mergeSketchInto(mergeSketchInto(undefined, a), b);
}

describe('slice sketches, as the judge merges them into windows', () => {
  it('merge is associative', () => {
    fc.assert(fc.property(values, values, values, (x, y, z) => {
      const [a, b, c] = [sketch(x), sketch(y), sketch(z)];
      expect(sketchBins(merge(merge(a, b), c))).toEqual(sketchBins(merge(a, merge(b, c))));
    }));
  });

  it('the empty sketch is the identity, and merging parts equals adding everything', () => {
    fc.assert(fc.property(values, values, (x, y) => {
      const a = sketch(x);
      expect(sketchBins(merge(a, undefined))).toEqual(sketchBins(a));
      expect(sketchBins(merge(undefined, a))).toEqual(sketchBins(a));
      expect(sketchBins(merge(sketch(x), sketch(y)))).toEqual(sketchBins(sketch([...x, ...y])));
    }));
  });

  it('merging keeps negative values (metric series can go below zero)', () => {
    const magnitude = fc.double({ min: 1e-4, max: 500, noNaN: true });
    const signed = fc.array(fc.oneof(fc.constant(0), magnitude, magnitude.map((v) => -v)), { maxLength: 30 });
    fc.assert(fc.property(signed, signed, (x, y) => {
      const a = sketch(x), b = sketch(y);
      expect(sketchBins(merge(a, b))).toEqual(sketchBins(sketch([...x, ...y])));
      expect(sketchBins(mergeSketchInto(merge(a, undefined), b))).toEqual(sketchBins(sketch([...x, ...y])));
    }));
  });

  it('orders negative, zero and positive values in its bins', () => {
    const s = sketch([0, 5, 7]) as DDSketch;
    s.accept(-3);
    const { keys, counts } = sketchBins(s);
    expect(keys).toEqual([...keys].sort((p, q) => p - q));
    expect(counts.reduce((a, c) => a + c, 0)).toBe(4);
  });

  it('answers quantiles within the sketch accuracy', () => {
    const s = sketch(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(quantile(s, 0.5)).toBeGreaterThan(490);
    expect(quantile(s, 0.5)).toBeLessThan(512);
    expect(Number.isNaN(quantile(undefined, 0.5))).toBe(true);
  });
});

describe('count summaries, as the judge keeps them in prefix sums', () => {
  const stratum = fc.record({
    n1: fc.integer({ min: 0, max: 200 }), x1: fc.integer({ min: 0, max: 20 }),
    n0: fc.integer({ min: 0, max: 2000 }), x0: fc.integer({ min: 0, max: 50 }),
  }).map((s) => ({ ...s, x1: Math.min(s.x1, s.n1), x0: Math.min(s.x0, s.n0) }));

  it('the summary of two spans of slices is the sum of their summaries: nothing lost or counted twice', () => {
    fc.assert(fc.property(fc.array(stratum, { maxLength: 30 }), fc.array(stratum, { maxLength: 30 }), (a, b) => {
      const sa = new Float64Array(COUNT_FIELDS), sb = new Float64Array(COUNT_FIELDS), both = new Float64Array(COUNT_FIELDS);
      for (const s of a) { addCountStratum(sa, s); addCountStratum(both, s); }
      for (const s of b) { addCountStratum(sb, s); addCountStratum(both, s); }
      for (let f = 0; f < COUNT_FIELDS; f++) expect((sa[f] as number) + (sb[f] as number)).toBeCloseTo(both[f] as number, 6);
      // And a window read as a difference of prefix sums gives the same test as the list itself.
      const prefix = new Float64Array(COUNT_FIELDS);
      for (let f = 0; f < COUNT_FIELDS; f++) prefix[f] = (both[f] as number) - (sa[f] as number);
      expect(countTestFromSums(prefix).p).toBeCloseTo(stratifiedCountTest(b).p, 6);
    }));
  });
});
