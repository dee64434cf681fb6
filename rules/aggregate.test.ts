import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRequest, emptyAggregate, mergeAggregates, quantile, sketchBins, type RequestAggregate } from './aggregate.js';

const request = fc.record({
  error: fc.boolean(),
  latency: fc.option(fc.double({ min: 0, max: 60_000, noNaN: true }), { nil: undefined }),
});

function build(rs: readonly { error: boolean; latency: number | undefined }[]): RequestAggregate {
  const a = emptyAggregate();
  for (const r of rs) addRequest(a, r.error, r.latency);
  return a;
}

/** What an aggregate says, independent of how it was built. */
function view(a: RequestAggregate): unknown {
  return { requests: a.requests, errors: a.errors, bins: sketchBins(a.latency), count: a.latency?.count ?? 0 };
}

describe('request aggregates', () => {
  const part = fc.array(request, { maxLength: 30 });

  it('merge is associative', () => {
    fc.assert(fc.property(part, part, part, (x, y, z) => {
      const [a, b, c] = [build(x), build(y), build(z)];
      expect(view(mergeAggregates(mergeAggregates(a, b), c))).toEqual(view(mergeAggregates(a, mergeAggregates(b, c))));
    }));
  });

  it('empty is the identity of merge', () => {
    fc.assert(fc.property(part, (x) => {
      const a = build(x);
      expect(view(mergeAggregates(a, emptyAggregate()))).toEqual(view(a));
      expect(view(mergeAggregates(emptyAggregate(), a))).toEqual(view(a));
    }));
  });

  it('merging the parts equals adding everything: nothing lost or counted twice', () => {
    fc.assert(fc.property(part, part, (x, y) => {
      expect(view(mergeAggregates(build(x), build(y)))).toEqual(view(build([...x, ...y])));
    }));
  });

  it('orders negative, zero and positive values in its bins', () => {
    const a = build([{ error: false, latency: 0 }, { error: false, latency: 5 }]);
    a.latency?.accept(-3);
    const { keys, counts } = sketchBins(a.latency);
    expect(keys).toEqual([...keys].sort((p, q) => p - q));
    expect(counts.reduce((s, c) => s + c, 0)).toBe(3);
  });

  it('answers quantiles within the sketch accuracy', () => {
    const a = build(Array.from({ length: 1000 }, (_, i) => ({ error: false, latency: i + 1 })));
    expect(quantile(a.latency, 0.5)).toBeGreaterThan(490);
    expect(quantile(a.latency, 0.5)).toBeLessThan(512);
    expect(Number.isNaN(quantile(undefined, 0.5))).toBe(true);
  });
});
