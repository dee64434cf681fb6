import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng, normalQuantile } from './random.js';
import { compileTemplate, renderTemplate } from './messages.js';

describe('createRng', () => {
  it('gives the same sequence for the same seed and stream', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), (seed, stream) => {
        const a = createRng(seed, stream);
        const b = createRng(seed, stream);
        for (let i = 0; i < 20; i++) expect(a.uint32()).toBe(b.uint32());
      }),
    );
  });

  it('gives unrelated sequences for neighbouring seeds and streams', () => {
    const first = (seed: number, stream: string): number[] => {
      const r = createRng(seed, stream);
      return Array.from({ length: 8 }, () => r.uint32());
    };
    expect(first(1, 'a')).not.toEqual(first(2, 'a'));
    expect(first(1, 'a')).not.toEqual(first(1, 'b'));
  });

  it('draws uniforms in [0, 1) with the right mean, and normals with mean 0 and sd 1', () => {
    const r = createRng(42, 'moments');
    const n = 200_000;
    let sum = 0;
    let zSum = 0;
    let zSq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      const z = r.normal();
      zSum += z;
      zSq += z * z;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(zSum / n).toBeCloseTo(0, 1);
    expect(Math.sqrt(zSq / n)).toBeCloseTo(1, 1);
  });
});

describe('normalQuantile', () => {
  it.each([
    [0.5, 0],
    [0.95, 1.6448536],
    [0.99, 2.3263479],
    [0.01, -2.3263479],
    [0.9, 1.2815516],
  ])('quantile(%f) = %f', (p, z) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 5);
  });

  it('rejects probabilities outside (0, 1)', () => {
    expect(() => normalQuantile(0)).toThrow(RangeError);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('message templates', () => {
  it('keeps the fixed text and varies the placeholders', () => {
    const t = compileTemplate('deadlock on cart_items (txid {int:1000:9999}) from {ip} req {uuid} [{pick:a|b}] {hex:6}');
    const r = createRng(3, 'messages');
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const m = renderTemplate(t, r);
      expect(m).toMatch(/^deadlock on cart_items \(txid \d{4}\) from 10\.\d+\.\d+\.\d+ req [0-9a-f-]{36} \[[ab]\] [0-9a-f]{6}$/);
      seen.add(m);
    }
    expect(seen.size).toBe(50);
  });

  it('refuses unknown placeholders', () => {
    expect(() => compileTemplate('bad {nope}')).toThrow(/unknown placeholder/);
  });
});
