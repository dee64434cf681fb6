import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SliceRing } from './window.js';
import { binsCount } from './bins.js';
import { createEngine } from './engine.js';
import { DEFAULT_RULES } from './config.js';
import type { VigilEvent } from './events.js';

describe('SliceRing', () => {
  it('keeps every count of the slices it holds: nothing lost, nothing counted twice', () => {
    fc.assert(fc.property(fc.array(fc.record({ slot: fc.integer({ min: 0, max: 19 }), err: fc.boolean() }), { maxLength: 200 }), (adds) => {
      const ring = new SliceRing(20);
      for (const a of adds) ring.add(a.slot, 1, a.err ? 1 : 0, 10, true);
      expect(ring.close(19)).toBe(0);
      let requests = 0, errors = 0, sketched = 0;
      for (let s = 0; s < 20; s++) {
        requests += ring.requestsAt(s);
        errors += ring.errorsAt(s);
        sketched += binsCount(ring.binsAt(s) ?? new Int32Array(0));
      }
      expect(requests).toBe(adds.length);
      expect(errors).toBe(adds.filter((a) => a.err).length);
      expect(sketched).toBe(adds.length);
    }));
  });

  it('forgets a slice once a newer one takes its place in the ring', () => {
    const ring = new SliceRing(4);
    ring.add(1, 5, 1, undefined, false);
    ring.add(5, 2, 0, undefined, false);
    expect(ring.requestsAt(1)).toBe(0);
    expect(ring.requestsAt(5)).toBe(2);
    ring.close(5);
    expect(ring.binsAt(5)).toBeUndefined();
  });

  it('clears the slices it moves past, and never writes an older slice over a newer one', () => {
    const ring = new SliceRing(4);
    ring.add(2, 3, 0, undefined, false);
    ring.add(3, 4, 0, undefined, false);
    // Slice 7 takes slice 3's position; slices 4 to 6 are passed on the way and start empty.
    ring.add(7, 1, 0, undefined, false);
    expect(ring.requestsAt(3)).toBe(0);
    expect(ring.requestsAt(7)).toBe(1);
    ring.add(3, 9, 9, undefined, false);
    expect(ring.requestsAt(7)).toBe(1);
    expect(ring.errorsAt(7)).toBe(0);
    expect(ring.requestsAt(3)).toBe(0);
  });

  it('holds slices before the epoch like any other', () => {
    const ring = new SliceRing(4);
    ring.add(-3, 2, 1, 5, true);
    ring.add(-1, 1, 0, 5, true);
    expect(ring.requestsAt(-3)).toBe(2);
    expect(ring.errorsAt(-3)).toBe(1);
    ring.close(-1);
    expect(binsCount(ring.binsAt(-1) ?? new Int32Array(0))).toBe(1);
  });
});

describe('engine accounting', () => {
  it('accounts for every accepted event exactly once, whatever the lateness', () => {
    const t0 = Date.parse('2026-11-18T11:00:00Z');
    const event = fc.record({
      kind: fc.constantFrom('request', 'log', 'metric', 'deploy'),
      at: fc.integer({ min: 0, max: 20 * 60_000 }),
      back: fc.integer({ min: 0, max: 120_000 }),
    });
    fc.assert(fc.property(fc.array(event, { maxLength: 300 }), (specs) => {
      const events: VigilEvent[] = specs.map((s): VigilEvent => {
        const ts = t0 + Math.max(0, s.at - s.back);
        switch (s.kind) {
          case 'request': return { type: 'request', ts, service: 'a', version: 'v1', route: '/x', status: 200, latencyMs: 5 };
          case 'log': return { type: 'log', ts, service: 'a', version: 'v1', level: 'error', message: 'boom 1' };
          case 'metric': return { type: 'metric', ts, service: 'a', version: 'v1', name: 'queue_depth', value: 3 };
          default: return { type: 'deploy', ts, service: 'a', version: 'v2', role: 'canary', action: 'start', instances: ['i'] };
        }
      });
      const engine = createEngine(DEFAULT_RULES, () => {});
      for (const e of events) engine.push(e);
      engine.finish();
      const st = engine.stats();
      expect(st.accepted).toBe(events.length);
      expect(st.windowed + st.late + st.deploys + st.webhooks).toBe(events.length);
    }), { numRuns: 50 });
  });
});
