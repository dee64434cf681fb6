/**
 * The power-curve grid: one canary of checkout beside a stable fleet, with a regression of
 * a given shape and size starting at a fixed time, at a given canary traffic; and the same
 * setup with nothing wrong, for the clean releases. Built from the simulator's model, so
 * the traffic is the simulator's (route mix, log-normal latencies, load swing, uneven
 * balancing); only the grid is chosen here.
 */
import { labelsOf, type ScenarioLabels } from '../../simulate/labels.js';
import type { Deployment, Fault, Scenario, Verdict } from '../../simulate/model.js';
import { ON_TIME } from '../../simulate/model.js';
import { createRng } from '../../simulate/random.js';
import { CHECKOUT } from '../../simulate/services.js';

const MINUTE = 60_000;
const EPOCH_MS = Date.UTC(2026, 10, 18, 11, 6, 40);
/** Sixteen minutes: the canary starts at 2, the regression at 6, ten minutes to catch it. */
export const POWER_DURATION_MS = 16 * MINUTE;
export const POWER_CANARY_START_MS = 2 * MINUTE;
export const POWER_ONSET_MS = 6 * MINUTE;
/** How long after the onset a grid scenario runs. */
export const POWER_AFTER_ONSET_MS = POWER_DURATION_MS - POWER_ONSET_MS;
const STABLE_INSTANCES = 4;

/** Canary traffic levels of the grid, requests per second. */
export const POWER_RATES = [0.5, 2, 8, 32] as const;

/** A regression shape and size of the grid. */
export type PowerFault =
  | { readonly kind: 'errors'; readonly multiplier: number }
  | { readonly kind: 'latency'; readonly multiplier: number }
  | { readonly kind: 'tail'; readonly tailShare: number; readonly multiplier: number };

/** The regressions of the grid: error ratio x1.5 to x5, latency +10% to +50%, and a tail-only one. */
export const POWER_FAULTS: readonly PowerFault[] = [
  { kind: 'errors', multiplier: 1.5 },
  { kind: 'errors', multiplier: 2 },
  { kind: 'errors', multiplier: 3 },
  { kind: 'errors', multiplier: 5 },
  { kind: 'latency', multiplier: 1.1 },
  { kind: 'latency', multiplier: 1.25 },
  { kind: 'latency', multiplier: 1.5 },
  // The slowest 5% three times slower: p99 about x3, the median unchanged.
  { kind: 'tail', tailShare: 0.05, multiplier: 3 },
];

/** A short name of a fault: `errors x2`, `latency +25%`, `tail 5% x3`. */
export function powerFaultName(f: PowerFault): string {
  switch (f.kind) {
    case 'errors':
      return `errors x${f.multiplier}`;
    case 'latency':
      return `latency +${Math.round((f.multiplier - 1) * 100)}%`;
    case 'tail':
      return `tail ${Math.round(f.tailShare * 100)}% x${f.multiplier}`;
  }
}

/** One power-grid scenario: a fault (none for a clean release) at a canary rate. */
export interface PowerCell {
  readonly fault: PowerFault | undefined;
  readonly rateRps: number;
}

/** The stable fleet grows with the canary so that the canary never carries more than half the traffic. */
function stableRate(canaryRps: number): number {
  return Math.max(5, canaryRps / STABLE_INSTANCES);
}

function faultOf(f: PowerFault): Fault {
  const target = { service: CHECKOUT.name, versions: ['v42'] };
  switch (f.kind) {
    case 'errors':
      return { kind: 'errorRatio', target, startMs: POWER_ONSET_MS, multiplier: f.multiplier };
    case 'latency':
      return { kind: 'latency', target, startMs: POWER_ONSET_MS, multiplier: f.multiplier };
    case 'tail':
      return { kind: 'tailLatency', target, startMs: POWER_ONSET_MS, tailShare: f.tailShare, multiplier: f.multiplier };
  }
}

/** Builds the scenario of one cell for one seed, with its labels' expectations. */
export function powerScenario(name: string, cell: PowerCell, seed: number): Scenario {
  const rng = createRng(seed, `bench/quality/${name}`);
  const stable: Deployment = {
    version: 'v41',
    role: 'stable',
    startMs: 0,
    instances: Array.from({ length: STABLE_INSTANCES }, (_, i) => ({ name: `checkout-v41-${i}`, fromMs: 0 })),
    ratePerInstance: stableRate(cell.rateRps),
    steps: [],
  };
  const canary: Deployment = {
    version: 'v42',
    role: 'canary',
    startMs: POWER_CANARY_START_MS,
    instances: [{ name: 'checkout-v42-0', fromMs: POWER_CANARY_START_MS }],
    ratePerInstance: cell.rateRps,
    steps: [],
  };
  // Thin canaries may not gather the 300 requests a verdict needs; NONE is then right.
  const clean: readonly Verdict[] = cell.rateRps < 1 ? ['PASS', 'NONE'] : ['PASS'];
  return {
    spec: {
      name,
      seed,
      startEpochMs: EPOCH_MS + (seed % 365) * 86_400_000,
      durationMs: POWER_DURATION_MS,
      services: [
        {
          profile: CHECKOUT,
          deployments: [stable, canary],
          emission: 'requests',
          load: { swing: 0.04 + rng.next() * 0.08, swingPeriodMs: (40 + rng.next() * 50) * MINUTE, trendPerHour: 0 },
        },
      ],
      faults: cell.fault === undefined ? [] : [faultOf(cell.fault)],
      alerts: [],
      delivery: ON_TIME,
    },
    expect:
      cell.fault === undefined
        ? { regressions: [], verdicts: { 'checkout/v42': clean }, forbidVersions: ['v42'], maxUnattributedPages: 0 }
        : {
            regressions: [{ service: 'checkout', versions: ['v42'], onsetMs: POWER_ONSET_MS, signal: cell.fault.kind === 'errors' ? 'errors' : 'latency' }],
            verdicts: { 'checkout/v42': ['FAIL'] },
            forbidVersions: [],
            maxUnattributedPages: 0,
          },
  };
}

/** Labels of a power scenario, in the shared scorer's format. */
export function powerLabels(id: string, s: Scenario, events: number): ScenarioLabels {
  return labelsOf(id, s.spec, s.expect, events);
}
