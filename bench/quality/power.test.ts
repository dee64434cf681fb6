import { describe, expect, it } from 'vitest';
import { generate, type WireRequest } from '../../simulate/generate.js';
import { POWER_ONSET_MS, powerLabels, powerScenario } from './power.js';

describe('powerScenario', () => {
  it('puts the regression on the canary from the onset, and labels it there', () => {
    const s = powerScenario('grid-errors-x5-8rps', { fault: { kind: 'errors', multiplier: 5 }, rateRps: 8 }, 1);
    const events = generate(s.spec);
    const labels = powerLabels('grid-errors-x5-8rps-seed1', s, events.length);
    expect(labels.regressions).toEqual([{ service: 'checkout', versions: ['v42'], onset: new Date(s.spec.startEpochMs + POWER_ONSET_MS).toISOString(), deadline_s: 300, signal: 'errors' }]);
    expect(labels.verdicts).toEqual({ 'checkout/v42': ['FAIL'] });
    const ratio = (version: string, after: boolean): number => {
      const reqs = events.filter((e) => e.event.type === 'request' && e.event.version === version && e.tsMs >= POWER_ONSET_MS === after).map((e) => e.event as WireRequest);
      return reqs.filter((r) => r.status >= 500).length / reqs.length;
    };
    expect(ratio('v42', true)).toBeGreaterThan(3 * ratio('v42', false));
    expect(ratio('v41', true)).toBeLessThan(2 * ratio('v41', false));
    const canaryRps = events.filter((e) => e.event.type === 'request' && e.event.version === 'v42').length / ((s.spec.durationMs - 2 * 60_000) / 1000);
    expect(canaryRps).toBeGreaterThan(7);
    expect(canaryRps).toBeLessThan(9);
  });

  it('labels a clean cell as a release that must not be paged or failed', () => {
    const s = powerScenario('grid-clean-0.5rps', { fault: undefined, rateRps: 0.5 }, 3);
    const labels = powerLabels('grid-clean-0.5rps-seed3', s, 0);
    expect(labels.regressions).toEqual([]);
    expect(labels.forbid_versions).toEqual(['v42']);
    expect(labels.verdicts).toEqual({ 'checkout/v42': ['PASS', 'NONE'] });
  });
});
