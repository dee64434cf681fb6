import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DDSketch } from '@datadog/sketches-js';
import { mergeSketchInto, newSketch, quantile, quantileKey, rankOfSketches, sketchBins } from './aggregate.js';
import { type Bins, BinLog, KeyCounts, addBins, binsCount, countAbove, quantileKeyOf, rankOfBins, sketchOfBins } from './bins.js';

// Negative values occur in metric series (a gauge can go below zero); latencies are never negative.
// (Values far tinier than these would only spread the bins over thousands of keys.)
const magnitude = fc.double({ min: 1e-4, max: 60_000, noNaN: true });
const values = fc.array(fc.oneof(fc.constant(0), magnitude, magnitude.map((v) => -v / 100)), { maxLength: 40 });

function sketch(vs: readonly number[]): DDSketch {
  const s = newSketch();
  for (const v of vs) s.accept(v);
  return s;
}

function packed(vs: readonly number[]): Bins | undefined {
  const log = new BinLog();
  log.append(7, sketch(vs));
  return log.at(7);
}

describe('packed slice bins', () => {
  it('unpack to the sketch they were packed from, alone and merged', () => {
    fc.assert(fc.property(values, values, (x, y) => {
      const a = packed(x), b = packed(y);
      const lists = [a, b].filter((l): l is Bins => l !== undefined);
      const direct = x.length + y.length > 0 ? sketch([...x, ...y]) : undefined;
      const unpacked = sketchOfBins(lists);
      expect(sketchBins(unpacked)).toEqual(sketchBins(direct));
      expect(unpacked?.count ?? 0).toBe(x.length + y.length);
      for (const q of [0, 0.5, 0.95, 1]) expect(quantile(unpacked, q)).toEqual(quantile(direct, q));
      // Adding bins one list at a time into a sketch gives the same bins.
      const added = newSketch();
      for (const l of lists) addBins(added, l);
      expect(sketchBins(added.count > 0 ? added : undefined)).toEqual(sketchBins(direct));
    }));
  });

  it('counted per key over many slices, give the quantile keys of the merged sketch', () => {
    const slices = fc.array(values, { maxLength: 6 });
    fc.assert(fc.property(slices, slices, fc.double({ min: 0, max: 1, noNaN: true }), (xs, ys, q) => {
      const count = (vss: readonly number[][]): KeyCounts | undefined => {
        if (vss.every((vs) => vs.length === 0)) return undefined;
        const c = new KeyCounts();
        for (const vs of vss) { const b = packed(vs); if (b) c.add(b); }
        return c;
      };
      const merged = mergeSketchInto(mergeSketchInto(undefined, sketch(xs.flat())), sketch(ys.flat()));
      const counts = [count(xs), count(ys)].filter((c): c is KeyCounts => c !== undefined);
      const total = counts.reduce((n, c) => n + c.count, 0);
      expect(total).toBe(merged?.count ?? 0);
      for (const p of [q, 0.5, 0.95, 0.99, 1]) {
        expect(quantileKeyOf(counts, p)).toBe(merged ? quantileKey(merged, p) : Number.NaN);
      }
    }));
  });

  it('give the same rank contribution as the sketches they came from', () => {
    fc.assert(fc.property(values, values, values, (x, y, z) => {
      const lists0 = [packed(y), packed(z)].filter((l): l is Bins => l !== undefined);
      const c1 = packed(x);
      const fromBins = c1 && lists0.length > 0 ? rankOfBins([c1], lists0) : undefined;
      const fromSketches = c1 && lists0.length > 0 ? rankOfSketches([sketch(x)], [sketch(y), sketch(z)].filter((s) => s.count > 0)) : undefined;
      if (fromBins === undefined || fromSketches === undefined) return;
      for (const k of ['excess', 'variance', 'n1', 'n0', 'u', 'pairs'] as const) expect(fromBins[k]).toBeCloseTo(fromSketches[k], 9);
    }));
  });

  it('count the values above a bin key, positive values only', () => {
    fc.assert(fc.property(values, fc.double({ min: 0.01, max: 60_000, noNaN: true }), (x, threshold) => {
      const b = packed(x);
      const s = sketch(x);
      const key = s.mapping.key(threshold);
      const expected = x.filter((v) => v > 0 && s.mapping.key(v) > key).length;
      expect(b === undefined ? 0 : countAbove(b, key)).toBe(expected);
      expect(b === undefined ? 0 : countAbove(b, -Infinity)).toBe(x.filter((v) => v > 0 && s.mapping.key(v) > -Infinity && v > s.mapping.minPossible).length);
      expect(b === undefined ? 0 : binsCount(b)).toBe(x.length);
    }));
  });
});

describe('BinLog', () => {
  it('keeps the slices it is given, oldest first, until they are dropped, through growth and reuse', () => {
    fc.assert(fc.property(fc.array(fc.record({ gap: fc.integer({ min: 1, max: 5 }), n: fc.integer({ min: 0, max: 30 }) }), { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (steps, keep) => {
      const log = new BinLog();
      const held: { slot: number; count: number }[] = [];
      let slot = 1000;
      for (const { gap, n } of steps) {
        slot += gap;
        log.append(slot, sketch(Array.from({ length: n }, (_, i) => 1 + i * 3.7)));
        if (n > 0) held.push({ slot, count: n });
        log.dropBefore(slot - keep + 1);
        while (held.length > 0 && (held[0] as { slot: number }).slot < slot - keep + 1) held.shift();
        const seen: number[] = [];
        log.forEach(0, slot, (b) => seen.push(binsCount(b)));
        expect(seen).toEqual(held.map((h) => h.count));
        for (const h of held) expect(binsCount(log.at(h.slot) as Bins)).toBe(h.count);
        expect(log.at(slot - keep)).toBeUndefined();
      }
    }));
  });

  it('reads a window of slices, and nothing outside it', () => {
    const log = new BinLog();
    for (let s = 10; s <= 20; s++) log.append(s, sketch([s]));
    const seen: number[] = [];
    log.forEach(13, 15, (b) => seen.push(binsCount(b)));
    expect(seen).toEqual([1, 1, 1]);
    expect(log.at(9)).toBeUndefined();
    expect(log.at(21)).toBeUndefined();
    const window = sketchOfBins([13, 14, 15].map((s) => log.at(s) as Bins));
    expect(quantile(window, 0)).toBeCloseTo(13, 0);
    expect(quantile(window, 1)).toBeCloseTo(15, 0);
  });
});
