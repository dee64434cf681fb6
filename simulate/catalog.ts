/**
 * The scenario catalog: named builders, each taking a seed, covering the shapes an engine
 * is judged on. Each builder states what a correct engine must do, and the labels are no
 * stricter than that.
 *
 * Two groups. `core` scenarios have effects that are plainly visible within five minutes
 * at their traffic (errors x3 or more with tens of expected canary errors in three
 * minutes, whole-distribution latency x1.3 or more, p99 x2 or more): an engine that misses
 * them is wrong. `power` scenarios sit on the power curve (small effects, thin traffic,
 * slow ramps): they are reported to see where detection stops, never counted as failures.
 */
import { generate, toNdjson, type TimedEvent } from './generate.js';
import { labelsOf, type ScenarioLabels } from './labels.js';
import type {
  AlertRule,
  Delivery,
  Deployment,
  Expectation,
  ExpectedRegression,
  Fault,
  FaultTarget,
  InstancePlan,
  LifecycleStep,
  LoadModel,
  Role,
  Scenario,
  ServiceProfile,
  ServiceSpec,
  Verdict,
  WebhookSource,
} from './model.js';
import { ON_TIME } from './model.js';
import { createRng, type Rng } from './random.js';
import { CHECKOUT, NEW_BUG_MESSAGES, NOTIFICATIONS, OUTAGE_MESSAGES, PAYMENTS, PROFILE, SEARCH_API } from './services.js';

/** Whether a scenario's outcome counts as pass/fail (`core`) or is only reported (`power`). */
export type CatalogGroup = 'core' | 'power';

/** A named scenario builder. */
export interface CatalogEntry {
  readonly name: string;
  readonly group: CatalogGroup;
  /** One line: traffic, fault, and what a correct engine does. */
  readonly summary: string;
  readonly build: (seed: number) => Scenario;
}

/** A generated scenario, ready to be written out. */
export interface RenderedScenario {
  /** File stem and label name: `NAME-seedS`. */
  readonly id: string;
  readonly entry: CatalogEntry;
  readonly seed: number;
  readonly scenario: Scenario;
  readonly events: readonly TimedEvent[];
  readonly ndjson: string;
  readonly labels: ScenarioLabels;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** The shared samples start at this instant; seed 1 reproduces it, later seeds move by a day each. */
const SAMPLE_EPOCH_MS = Date.UTC(2026, 10, 18, 11, 6, 40);
const SAMPLE_DURATION_MS = 30 * MINUTE;
const SAMPLE_CANARY_START_MS = 2 * MINUTE;
const SAMPLE_ONSET_MS = 10 * MINUTE;

// ---- building blocks -------------------------------------------------------------

interface FleetOptions {
  readonly role?: Role;
  readonly fromMs?: number;
  readonly untilMs?: number;
  readonly release?: string;
  /** `-baseline` for a baseline beside a canary, as the samples name it. */
  readonly suffix?: string;
  readonly steps?: readonly LifecycleStep[];
  /** Instance i starts this much after the previous one (a rolling start). */
  readonly staggerMs?: number;
  readonly firstIndex?: number;
}

function fleet(service: string, version: string, count: number, ratePerInstance: number, o: FleetOptions = {}): Deployment {
  const fromMs = o.fromMs ?? 0;
  const instances: InstancePlan[] = [];
  for (let i = 0; i < count; i++) {
    const index = (o.firstIndex ?? 0) + i;
    instances.push({
      name: `${service}-${version}${o.suffix ?? ''}-${index}`,
      fromMs: fromMs + i * (o.staggerMs ?? 0),
      ...(o.untilMs === undefined ? {} : { untilMs: o.untilMs }),
    });
  }
  return {
    version,
    role: o.role ?? 'stable',
    ...(o.release === undefined ? {} : { release: o.release }),
    startMs: fromMs,
    instances,
    ratePerInstance,
    steps: o.steps ?? [],
  };
}

function canary(service: string, version: string, ratePerInstance: number, o: FleetOptions & { readonly count?: number } = {}): Deployment {
  return fleet(service, version, o.count ?? 1, ratePerInstance, { fromMs: SAMPLE_CANARY_START_MS, ...o, role: 'canary' });
}

function baseline(service: string, version: string, ratePerInstance: number, o: FleetOptions = {}): Deployment {
  return fleet(service, version, 1, ratePerInstance, { fromMs: SAMPLE_CANARY_START_MS, ...o, role: 'baseline', suffix: '-baseline' });
}

/**
 * A rolling replacement of a whole stable fleet: the new version's deploy event lists all
 * its instances, which come up one every `stepMs` while the old ones drain one by one.
 */
function rollingReplace(old: Deployment, service: string, version: string, atMs: number, stepMs: number): [Deployment, Deployment] {
  const drained: Deployment = {
    ...old,
    instances: old.instances.map((inst, i) => ({ ...inst, untilMs: atMs + (i + 1) * stepMs })),
    steps: [...old.steps, { action: 'finish', atMs: atMs + old.instances.length * stepMs }],
  };
  const next = fleet(service, version, old.instances.length, old.ratePerInstance, { fromMs: atMs, staggerMs: stepMs });
  return [drained, next];
}

function loadOf(rng: Rng, overrides: Partial<LoadModel> = {}): LoadModel {
  return {
    swing: 0.04 + rng.next() * 0.08,
    swingPeriodMs: (40 + rng.next() * 50) * MINUTE,
    trendPerHour: 0,
    ...overrides,
  };
}

function service(profile: ServiceProfile, deployments: readonly Deployment[], rng: Rng, o: { emission?: ServiceSpec['emission']; load?: Partial<LoadModel> } = {}): ServiceSpec {
  return { profile, deployments, emission: o.emission ?? 'requests', load: loadOf(rng, o.load) };
}

function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.next() * (hi - lo);
}

/** A whole minute in [lo, hi] minutes, so onsets read well in reports. */
function minuteBetween(rng: Rng, lo: number, hi: number): number {
  return (lo + rng.int(hi - lo + 1)) * MINUTE;
}

function target(serviceName: string, o: Omit<FaultTarget, 'service'> = {}): FaultTarget {
  return { service: serviceName, ...o };
}

function verdicts(entries: readonly (readonly [string, string, readonly Verdict[]])[]): Record<string, readonly Verdict[]> {
  const out: Record<string, readonly Verdict[]> = {};
  for (const [svc, version, allowed] of entries) out[`${svc}/${version}`] = allowed;
  return out;
}

const PASS: readonly Verdict[] = ['PASS'];
const PASS_OR_NONE: readonly Verdict[] = ['PASS', 'NONE'];
const FAIL: readonly Verdict[] = ['FAIL'];

function expectClean(v: Record<string, readonly Verdict[]>, o: { forbid?: readonly string[]; maxUnattributed?: number } = {}): Expectation {
  return { regressions: [], verdicts: v, forbidVersions: o.forbid ?? [], maxUnattributedPages: o.maxUnattributed ?? 0 };
}

function expectRegressions(regressions: readonly ExpectedRegression[], v: Record<string, readonly Verdict[]>, o: { forbid?: readonly string[]; maxUnattributed?: number } = {}): Expectation {
  return { regressions, verdicts: v, forbidVersions: o.forbid ?? [], maxUnattributedPages: o.maxUnattributed ?? 0 };
}

function build(
  name: string,
  seed: number,
  parts: { services: readonly ServiceSpec[]; faults?: readonly Fault[]; alerts?: readonly AlertRule[]; delivery?: Delivery; durationMs?: number },
  expect: Expectation,
): Scenario {
  return {
    spec: {
      name,
      seed,
      startEpochMs: SAMPLE_EPOCH_MS + (((seed - 1) % 365) + 365) % 365 * 86_400_000,
      durationMs: parts.durationMs ?? SAMPLE_DURATION_MS,
      services: parts.services,
      faults: parts.faults ?? [],
      alerts: parts.alerts ?? [],
      delivery: parts.delivery ?? ON_TIME,
    },
    expect,
  };
}

function rngFor(name: string, seed: number): Rng {
  return createRng(seed, `catalog/${name}`);
}

/** The samples' checkout setup: stable v41 on 8 instances at 5 req/s, optional baseline. */
function sampleCheckout(rng: Rng, canaries: readonly Deployment[], o: { withBaseline?: boolean; load?: Partial<LoadModel> } = {}): ServiceSpec {
  const deployments = [fleet('checkout', 'v41', 8, 5)];
  if (o.withBaseline === true) deployments.push(baseline('checkout', 'v41', 4));
  return service(CHECKOUT, [...deployments, ...canaries], rng, o.load === undefined ? {} : { load: o.load });
}

function alertRule(
  source: WebhookSource,
  serviceName: string,
  alertName: string,
  summary: string,
  startMs: number,
  endMs: number,
  instances: readonly string[],
  o: { labels?: Record<string, string>; repeatMs?: number; groupBy?: AlertRule['groupBy']; severity?: AlertRule['severity'] } = {},
): AlertRule {
  return {
    source,
    service: serviceName,
    alertName,
    severity: o.severity ?? 'critical',
    summary,
    startMs,
    endMs,
    repeatMs: o.repeatMs ?? MINUTE,
    instances,
    labels: o.labels ?? {},
    groupBy: o.groupBy ?? 'rule',
  };
}

function instanceNames(dep: Deployment): string[] {
  return dep.instances.map((i) => i.name);
}

// ---- the catalog -----------------------------------------------------------------

function cleanCanary(seed: number): Scenario {
  const rng = rngFor('clean-canary', seed);
  return build('clean-canary', seed, { services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])] }, expectClean(verdicts([['checkout', 'v42', PASS]])));
}

function errorRegression(seed: number): Scenario {
  const rng = rngFor('error-regression', seed);
  return build(
    'error-regression',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, multiplier: 8 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function latencyRegression(seed: number): Scenario {
  const rng = rngFor('latency-regression', seed);
  return build(
    'latency-regression',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true })],
      faults: [{ kind: 'latency', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, multiplier: 1.6 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'latency' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function parallelSharedBug(seed: number): Scenario {
  const rng = rngFor('parallel-canaries-shared-bug', seed);
  const versions = ['v42-a', 'v42-b', 'v42-c'];
  return build(
    'parallel-canaries-shared-bug',
    seed,
    {
      services: [sampleCheckout(rng, versions.map((v) => canary('checkout', v, 4, { release: 'r42' })))],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions }), startMs: SAMPLE_ONSET_MS, multiplier: 6 }],
    },
    expectRegressions(
      [{ service: 'checkout', versions, onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }],
      verdicts(versions.map((v) => ['checkout', v, FAIL] as const)),
    ),
  );
}

function parallelOneBad(seed: number): Scenario {
  const rng = rngFor('parallel-canaries-one-bad', seed);
  const versions = ['v311-eu', 'v311-us', 'v311-ap'];
  const bad = versions[rng.int(versions.length)] as string;
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'parallel-canaries-one-bad',
    seed,
    {
      services: [service(SEARCH_API, [fleet('search-api', 'v310', 6, 10), ...versions.map((v) => canary('search-api', v, 8, { release: 'r311' }))], rng)],
      faults: [{ kind: 'errorRatio', target: target('search-api', { versions: [bad] }), startMs: onset, multiplier: between(rng, 8, 12) }],
    },
    expectRegressions(
      [{ service: 'search-api', versions: [bad], onsetMs: onset, signal: 'errors' }],
      verdicts(versions.map((v) => ['search-api', v, v === bad ? FAIL : PASS] as const)),
      { forbid: versions.filter((v) => v !== bad) },
    ),
  );
}

function tailLatencyRegression(seed: number): Scenario {
  const rng = rngFor('tail-latency-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'tail-latency-regression',
    seed,
    {
      services: [service(PAYMENTS, [fleet('payments', 'v88', 6, 4), baseline('payments', 'v88', 4), canary('payments', 'v89', 4)], rng)],
      faults: [{ kind: 'tailLatency', target: target('payments', { versions: ['v89'] }), startMs: onset, tailShare: between(rng, 0.06, 0.1), multiplier: between(rng, 3, 4) }],
    },
    expectRegressions([{ service: 'payments', versions: ['v89'], onsetMs: onset, signal: 'latency' }], verdicts([['payments', 'v89', FAIL]])),
  );
}

function routeErrorRegression(seed: number): Scenario {
  const rng = rngFor('route-error-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'route-error-regression',
    seed,
    {
      services: [service(PROFILE, [fleet('profile', '5.4.0', 6, 8), canary('profile', '5.5.0', 6)], rng)],
      // /api/avatar is a fifth of traffic: ~1.2 req/s on the canary, 0.4% -> ~10% errors.
      faults: [{ kind: 'errorRatio', target: target('profile', { versions: ['5.5.0'], routes: ['/api/avatar'] }), startMs: onset, multiplier: between(rng, 20, 30) }],
    },
    expectRegressions([{ service: 'profile', versions: ['5.5.0'], onsetMs: onset, signal: 'errors' }], verdicts([['profile', '5.5.0', FAIL]])),
  );
}

function routeLatencyRegression(seed: number): Scenario {
  const rng = rngFor('route-latency-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'route-latency-regression',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'latency', target: target('checkout', { versions: ['v42'], routes: ['/search'] }), startMs: onset, multiplier: between(rng, 2, 2.6) }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: onset, signal: 'latency' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function newErrorSignature(seed: number): Scenario {
  const rng = rngFor('new-error-signature', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'new-error-signature',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [
        {
          kind: 'newError',
          target: target('checkout', { versions: ['v42'], routes: ['/cart', '/checkout'] }),
          startMs: onset,
          ratio: between(rng, 0.025, 0.04),
          message: rng.pick(NEW_BUG_MESSAGES['checkout'] ?? []),
          failsRequest: true,
          status: 500,
        },
      ],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: onset, signal: 'new-error' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function newErrorLogOnly(seed: number): Scenario {
  const rng = rngFor('new-error-log-only', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'new-error-log-only',
    seed,
    {
      services: [service(PROFILE, [fleet('profile', '5.4.0', 6, 8), canary('profile', '5.5.0', 6)], rng)],
      // Handled exceptions: the request still succeeds, but ~0.1 new error lines per second appear.
      faults: [{ kind: 'newError', target: target('profile', { versions: ['5.5.0'] }), startMs: onset, ratio: between(rng, 0.02, 0.03), message: NEW_BUG_MESSAGES['profile']?.[0] ?? 'new bug', failsRequest: false, status: 500 }],
    },
    expectRegressions([{ service: 'profile', versions: ['5.5.0'], onsetMs: onset, signal: 'new-error' }], verdicts([['profile', '5.5.0', FAIL]])),
  );
}

function fleetOutage(seed: number): Scenario {
  const rng = rngFor('fleet-outage', seed);
  const onset = minuteBetween(rng, 10, 14);
  return build(
    'fleet-outage',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [
        {
          kind: 'outage',
          target: target('checkout'),
          startMs: onset,
          durationMs: minuteBetween(rng, 4, 6),
          errorRatio: between(rng, 0.12, 0.25),
          latencyMultiplier: between(rng, 1.3, 1.7),
          message: OUTAGE_MESSAGES['checkout'] ?? 'dependency down',
          status: 503,
        },
      ],
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'], maxUnattributed: 1 }),
  );
}

function fleetLatencySurge(seed: number): Scenario {
  const rng = rngFor('fleet-latency-surge', seed);
  const onset = minuteBetween(rng, 10, 14);
  return build(
    'fleet-latency-surge',
    seed,
    {
      services: [service(SEARCH_API, [fleet('search-api', 'v310', 6, 10), canary('search-api', 'v311', 8)], rng)],
      faults: [{ kind: 'latency', target: target('search-api'), startMs: onset, durationMs: minuteBetween(rng, 5, 7), multiplier: between(rng, 2, 2.6) }],
    },
    expectClean(verdicts([['search-api', 'v311', PASS]]), { forbid: ['v311'], maxUnattributed: 1 }),
  );
}

function canaryBlip(seed: number): Scenario {
  const rng = rngFor('canary-blip', seed);
  const onset = minuteBetween(rng, 9, 14);
  return build(
    'canary-blip',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [
        {
          kind: 'outage',
          target: target('checkout', { versions: ['v42'] }),
          startMs: onset,
          durationMs: Math.round(between(rng, 10, 30)) * SECOND,
          errorRatio: between(rng, 0.3, 0.5),
          latencyMultiplier: 2,
          message: 'connection pool warming up: {int:0:3} of 20 connections ready',
          status: 503,
        },
      ],
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'] }),
  );
}

function fleetBlip(seed: number): Scenario {
  const rng = rngFor('fleet-blip', seed);
  const onset = minuteBetween(rng, 9, 14);
  return build(
    'fleet-blip',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [
        {
          kind: 'outage',
          target: target('checkout'),
          startMs: onset,
          durationMs: Math.round(between(rng, 10, 30)) * SECOND,
          errorRatio: between(rng, 0.2, 0.4),
          latencyMultiplier: between(rng, 2, 3),
          message: OUTAGE_MESSAGES['checkout'] ?? 'dependency down',
          status: 503,
        },
      ],
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'] }),
  );
}

function untaggedErrorRegression(seed: number): Scenario {
  const rng = rngFor('untagged-error-regression', seed);
  return build(
    'untagged-error-regression',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, multiplier: between(rng, 6, 10) }],
      delivery: { ...ON_TIME, untaggedShare: 1 },
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function untaggedClean(seed: number): Scenario {
  const rng = rngFor('untagged-clean', seed);
  return build(
    'untagged-clean',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true })],
      delivery: { ...ON_TIME, untaggedShare: between(rng, 0.3, 0.7) },
    },
    expectClean(verdicts([['checkout', 'v42', PASS]])),
  );
}

const LATE_DELIVERY: Delivery = {
  untaggedShare: 0,
  lateShare: 0.08,
  lateMaxMs: 25 * SECOND,
  veryLateShare: 0.0005,
  veryLateMinMs: 31 * SECOND,
  veryLateMaxMs: 120 * SECOND,
};

function lateErrorRegression(seed: number): Scenario {
  const rng = rngFor('late-events-error-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'late-events-error-regression',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: onset, multiplier: between(rng, 6, 9) }],
      delivery: { ...LATE_DELIVERY, lateShare: between(rng, 0.05, 0.12) },
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: onset, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function lateClean(seed: number): Scenario {
  const rng = rngFor('late-events-clean', seed);
  return build(
    'late-events-clean',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true })],
      delivery: { ...LATE_DELIVERY, lateShare: between(rng, 0.05, 0.12), untaggedShare: 0.2 },
    },
    expectClean(verdicts([['checkout', 'v42', PASS]])),
  );
}

function multiService(seed: number): Scenario {
  const rng = rngFor('multi-service', seed);
  const onset = minuteBetween(rng, 9, 13);
  return build(
    'multi-service',
    seed,
    {
      services: [
        sampleCheckout(rng, [canary('checkout', 'v42', 4)]),
        service(SEARCH_API, [fleet('search-api', 'v310', 4, 10), canary('search-api', 'v311', 8, { fromMs: 3 * MINUTE })], rng),
        service(PAYMENTS, [fleet('payments', 'v88', 4, 3)], rng),
        service(PROFILE, [fleet('profile', '5.4.0', 4, 6), canary('profile', '5.5.0', 5, { fromMs: 4 * MINUTE })], rng),
      ],
      faults: [{ kind: 'latency', target: target('search-api', { versions: ['v311'] }), startMs: onset, multiplier: between(rng, 1.4, 1.8) }],
    },
    expectRegressions(
      [{ service: 'search-api', versions: ['v311'], onsetMs: onset, signal: 'latency' }],
      verdicts([
        ['checkout', 'v42', PASS],
        ['search-api', 'v311', FAIL],
        ['profile', '5.5.0', PASS],
      ]),
      { forbid: ['v42', '5.5.0'] },
    ),
  );
}

function twoRegressions(seed: number): Scenario {
  const rng = rngFor('two-services-two-regressions', seed);
  const onsetA = minuteBetween(rng, 7, 9);
  const onsetB = minuteBetween(rng, 13, 16);
  return build(
    'two-services-two-regressions',
    seed,
    {
      services: [
        service(PAYMENTS, [fleet('payments', 'v88', 6, 4), canary('payments', 'v89', 4)], rng),
        service(PROFILE, [fleet('profile', '5.4.0', 4, 8), canary('profile', '5.5.0', 6, { fromMs: 3 * MINUTE })], rng),
      ],
      faults: [
        { kind: 'errorRatio', target: target('payments', { versions: ['v89'] }), startMs: onsetA, multiplier: between(rng, 8, 12) },
        { kind: 'latency', target: target('profile', { versions: ['5.5.0'] }), startMs: onsetB, multiplier: between(rng, 1.4, 1.7) },
      ],
    },
    expectRegressions(
      [
        { service: 'payments', versions: ['v89'], onsetMs: onsetA, signal: 'errors' },
        { service: 'profile', versions: ['5.5.0'], onsetMs: onsetB, signal: 'latency' },
      ],
      verdicts([
        ['payments', 'v89', FAIL],
        ['profile', '5.5.0', FAIL],
      ]),
    ),
  );
}

function lowTrafficClean(seed: number): Scenario {
  const rng = rngFor('low-traffic-clean', seed);
  return build(
    'low-traffic-clean',
    seed,
    { services: [service(NOTIFICATIONS, [fleet('notifications', 'v7', 3, 1), canary('notifications', 'v8', 0.5)], rng)] },
    expectClean(verdicts([['notifications', 'v8', PASS_OR_NONE]]), { forbid: ['v8'] }),
  );
}

function lowTrafficSevere(seed: number): Scenario {
  const rng = rngFor('low-traffic-severe-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    'low-traffic-severe-regression',
    seed,
    {
      services: [service(NOTIFICATIONS, [fleet('notifications', 'v7', 3, 1), canary('notifications', 'v8', 0.5)], rng)],
      // ~0.8% -> ~16%: about 14 canary errors in three minutes at 0.5 req/s, against under one expected.
      faults: [{ kind: 'errorRatio', target: target('notifications', { versions: ['v8'] }), startMs: onset, multiplier: 20 }],
    },
    expectRegressions([{ service: 'notifications', versions: ['v8'], onsetMs: onset, signal: 'errors' }], verdicts([['notifications', 'v8', FAIL]])),
  );
}

function highTrafficErrorX3(seed: number): Scenario {
  const rng = rngFor('high-traffic-error-x3', seed);
  const onset = minuteBetween(rng, 7, 9);
  return build(
    'high-traffic-error-x3',
    seed,
    {
      services: [service(SEARCH_API, [fleet('search-api', 'v310', 10, 25), canary('search-api', 'v311', 25)], rng)],
      faults: [{ kind: 'errorRatio', target: target('search-api', { versions: ['v311'] }), startMs: onset, multiplier: 3 }],
      durationMs: 20 * MINUTE,
    },
    expectRegressions([{ service: 'search-api', versions: ['v311'], onsetMs: onset, signal: 'errors' }], verdicts([['search-api', 'v311', FAIL]])),
  );
}

function fleetRollout(seed: number, regress: boolean): Scenario {
  const name = regress ? 'fleet-rollout-regression' : 'fleet-rollout-clean';
  const rng = rngFor(name, seed);
  const at = minuteBetween(rng, 9, 12);
  const [old, next] = rollingReplace(fleet('checkout', 'v41', 8, 5), 'checkout', 'v42', at, 30 * SECOND);
  const faults: Fault[] = regress ? [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: at, multiplier: between(rng, 6, 10) }] : [];
  return build(
    name,
    seed,
    { services: [service(CHECKOUT, [old, next], rng)], faults },
    regress
      ? expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: at, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]]))
      : expectClean(verdicts([['checkout', 'v42', PASS_OR_NONE]]), { forbid: ['v42'] }),
  );
}

function canaryRollback(seed: number): Scenario {
  const rng = rngFor('canary-rollback', seed);
  const onset = minuteBetween(rng, 7, 9);
  const rollbackAt = onset + minuteBetween(rng, 6, 8);
  return build(
    'canary-rollback',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4, { untilMs: rollbackAt, steps: [{ action: 'rollback', atMs: rollbackAt }] })])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: onset, multiplier: between(rng, 8, 12) }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: onset, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function canaryPromoteClean(seed: number): Scenario {
  const rng = rngFor('canary-promote-clean', seed);
  const promoteAt = minuteBetween(rng, 16, 20);
  const step = 30 * SECOND;
  const stable41 = fleet('checkout', 'v41', 8, 5);
  const drained: Deployment = {
    ...stable41,
    instances: stable41.instances.map((inst, i) => ({ ...inst, untilMs: promoteAt + (i + 1) * step })),
    steps: [{ action: 'finish', atMs: promoteAt + 8 * step }],
  };
  const canary42 = canary('checkout', 'v42', 4, { untilMs: promoteAt, steps: [{ action: 'promote', atMs: promoteAt }] });
  // The promoted canary's instance keeps serving as the first of the new stable fleet.
  const stable42 = fleet('checkout', 'v42', 8, 5, { fromMs: promoteAt, staggerMs: step });
  return build(
    'canary-promote-clean',
    seed,
    { services: [service(CHECKOUT, [drained, canary42, stable42], rng)] },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'] }),
  );
}

function alertFloodFleetOutage(seed: number): Scenario {
  const rng = rngFor('alert-flood-fleet-outage', seed);
  const onset = minuteBetween(rng, 10, 13);
  const duration = minuteBetween(rng, 5, 7);
  const stable = fleet('checkout', 'v41', 8, 5);
  const can = canary('checkout', 'v42', 4);
  const end = onset + duration;
  const all = [...instanceNames(stable), ...instanceNames(can)];
  const versionOf = (i: string): string => (i.includes('-v42-') ? 'v42' : 'v41');
  const alerts: AlertRule[] = [
    // Alerts fire a minute or two after the errors start, as rules with `for: 1m` do;
    // grouping by instance turns one incident into a notification per host per minute.
    alertRule('alertmanager', 'checkout', 'HighErrorRate', 'checkout 5xx ratio above 5%', onset + MINUTE, end + MINUTE, all, { groupBy: 'instance' }),
    alertRule('alertmanager', 'checkout', 'HighLatencyP99', 'checkout p99 above 400ms', onset + 2 * MINUTE, end + MINUTE, all, { groupBy: 'instance', severity: 'warning' }),
    alertRule('alertmanager', 'checkout', 'PaymentsGatewayDown', 'payments-gateway probe failing', onset + 30 * SECOND, end, []),
    alertRule('grafana', 'checkout', 'CheckoutLatencyP99', 'checkout p99 latency above 500ms', onset + 2 * MINUTE, end + MINUTE, []),
    alertRule('cloudwatch', 'checkout', '5xx-high', 'checkout ALB 5xx count above 20/min', onset + MINUTE, end + MINUTE, []),
    alertRule('datadog', 'checkout', 'error-rate', 'High error rate on checkout', onset + 90 * SECOND, end + MINUTE, all, { repeatMs: 2 * MINUTE }),
    ...all.map((i) =>
      alertRule('sentry', 'checkout', 'circuit-breaker-open', 'CircuitBreakerOpenError: payments-gateway', onset + 20 * SECOND, end, [i], { labels: { version: versionOf(i) }, repeatMs: 2 * MINUTE }),
    ),
  ];
  return build(
    'alert-flood-fleet-outage',
    seed,
    {
      services: [service(CHECKOUT, [stable, can], rng)],
      faults: [
        {
          kind: 'outage',
          target: target('checkout'),
          startMs: onset,
          durationMs: duration,
          errorRatio: between(rng, 0.15, 0.3),
          latencyMultiplier: 1.5,
          message: OUTAGE_MESSAGES['checkout'] ?? 'dependency down',
          status: 503,
        },
      ],
      alerts,
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'], maxUnattributed: 1 }),
  );
}

function alertFloodCanaryRegression(seed: number): Scenario {
  const rng = rngFor('alert-flood-canary-regression', seed);
  const onset = minuteBetween(rng, 9, 12);
  const can = canary('checkout', 'v42', 4);
  const inst = instanceNames(can);
  const labels = { version: 'v42', role: 'canary' };
  return build(
    'alert-flood-canary-regression',
    seed,
    {
      services: [sampleCheckout(rng, [can])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: onset, multiplier: between(rng, 8, 12) }],
      alerts: [
        alertRule('alertmanager', 'checkout', 'CanaryHighErrorRate', 'checkout canary 5xx ratio above 2%', onset + 2 * MINUTE, SAMPLE_DURATION_MS, inst, { labels, groupBy: 'instance' }),
        alertRule('sentry', 'checkout', 'new-issues-in-release', 'Spike of errors in release v42', onset + 90 * SECOND, SAMPLE_DURATION_MS, inst, { labels, repeatMs: 5 * MINUTE }),
        alertRule('datadog', 'checkout', 'canary-errors', 'Canary error rate above threshold', onset + 2 * MINUTE, SAMPLE_DURATION_MS, inst, { labels }),
        alertRule('generic', 'checkout', 'SyntheticCheckFailing', 'synthetic checkout flow failing intermittently', onset + 3 * MINUTE, onset + 6 * MINUTE, [], { repeatMs: 30 * SECOND }),
      ],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: onset, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function alertFloodNoise(seed: number): Scenario {
  const rng = rngFor('alert-flood-noise', seed);
  const stable = fleet('checkout', 'v41', 8, 5);
  const can = canary('checkout', 'v42', 4);
  const all = [...instanceNames(stable), ...instanceNames(can)];
  const from = minuteBetween(rng, 8, 12);
  // A flapping probe: fires for a minute or two, resolves, fires again.
  const flaps: AlertRule[] = [];
  for (let at = from, i = 0; i < 5; i++) {
    const up = minuteBetween(rng, 1, 2);
    flaps.push(alertRule('grafana', 'checkout', 'CheckoutProbeFlapping', 'blackbox probe to checkout flapping', at, at + up, [], { severity: 'warning' }));
    at += up + minuteBetween(rng, 1, 2);
  }
  return build(
    'alert-flood-noise',
    seed,
    {
      services: [service(CHECKOUT, [stable, can], rng)],
      // Monitoring noise with nothing wrong in the traffic: every host, canary included.
      alerts: [
        alertRule('alertmanager', 'checkout', 'NodeDiskPressure', 'disk usage above 85% on /var/log', from, from + 12 * MINUTE, all, { groupBy: 'instance', severity: 'warning', repeatMs: 2 * MINUTE }),
        alertRule('datadog', 'checkout', 'host-cpu', 'CPU steal above 10%', from + 2 * MINUTE, from + 9 * MINUTE, all.slice(2, 7), { severity: 'warning', repeatMs: 3 * MINUTE }),
        ...flaps,
      ],
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'], maxUnattributed: 1 }),
  );
}

function alertFloodParallelFleet(seed: number): Scenario {
  const rng = rngFor('alert-flood-parallel-fleet', seed);
  const onset = minuteBetween(rng, 10, 13);
  const duration = minuteBetween(rng, 5, 7);
  const versions = ['v42-a', 'v42-b', 'v42-c'];
  const stable = fleet('checkout', 'v41', 8, 5);
  const canaries = versions.map((v) => canary('checkout', v, 4, { release: 'r42', count: 2 }));
  const all = [stable, ...canaries].flatMap(instanceNames);
  const end = onset + duration;
  return build(
    'alert-flood-parallel-fleet',
    seed,
    {
      services: [service(CHECKOUT, [stable, ...canaries], rng)],
      faults: [{
        kind: 'outage', target: target('checkout'), startMs: onset, durationMs: duration, errorRatio: between(rng, 0.15, 0.3), latencyMultiplier: 1.5,
        message: OUTAGE_MESSAGES['checkout'] ?? 'dependency down', status: 503,
      }],
      // Two tools alert on every host, the three canaries of the release being judged among them.
      alerts: [
        alertRule('alertmanager', 'checkout', 'HighErrorRate', 'checkout 5xx ratio above 5%', onset + MINUTE, end + MINUTE, all, { groupBy: 'instance' }),
        alertRule('datadog', 'checkout', 'error-rate', 'High error rate on checkout', onset + 2 * MINUTE, end + MINUTE, all, { repeatMs: 2 * MINUTE }),
      ],
    },
    expectClean(verdicts(versions.map((v) => ['checkout', v, PASS] as const)), { forbid: versions, maxUnattributed: 1 }),
  );
}

function alertFloodOneBadOfThree(seed: number): Scenario {
  const rng = rngFor('alert-flood-one-bad-of-three', seed);
  const versions = ['v42-a', 'v42-b', 'v42-c'];
  const bad = versions[rng.int(versions.length)] as string;
  const onset = minuteBetween(rng, 9, 12);
  const canaries = versions.map((v) => canary('checkout', v, 4, { release: 'r42', count: 2 }));
  const badInstances = instanceNames(canaries[versions.indexOf(bad)] as Deployment);
  const labels = { version: bad, role: 'canary' };
  return build(
    'alert-flood-one-bad-of-three',
    seed,
    {
      services: [sampleCheckout(rng, canaries)],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: [bad] }), startMs: onset, multiplier: between(rng, 8, 12) }],
      // The bad canary's own hosts alert from two tools; the judge's page and these alerts are one incident.
      alerts: [
        alertRule('alertmanager', 'checkout', 'CanaryHighErrorRate', `checkout ${bad} 5xx ratio above 2%`, onset + 2 * MINUTE, SAMPLE_DURATION_MS, badInstances, { labels, groupBy: 'instance' }),
        alertRule('datadog', 'checkout', 'canary-errors', 'Canary error rate above threshold', onset + 90 * SECOND, SAMPLE_DURATION_MS, badInstances, { labels }),
      ],
    },
    expectRegressions(
      [{ service: 'checkout', versions: [bad], onsetMs: onset, signal: 'errors' }],
      verdicts(versions.map((v) => ['checkout', v, v === bad ? FAIL : PASS] as const)),
      { forbid: versions.filter((v) => v !== bad) },
    ),
  );
}

function noisyStableInstance(seed: number): Scenario {
  const rng = rngFor('noisy-stable-instance', seed);
  const bad = `checkout-v41-${rng.int(8)}`;
  return build(
    'noisy-stable-instance',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      // One unhealthy host in the stable fleet all along: the canary is no worse than its peers.
      faults: [{ kind: 'errorRatio', target: target('checkout', { instances: [bad] }), startMs: 0, multiplier: between(rng, 4, 6) }],
    },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'] }),
  );
}

function metricsScenario(seed: number, regress: boolean): Scenario {
  const name = regress ? 'metrics-error-regression' : 'metrics-clean';
  const rng = rngFor(name, seed);
  const onset = minuteBetween(rng, 9, 12);
  return build(
    name,
    seed,
    {
      services: [service(PROFILE, [fleet('profile', '5.4.0', 6, 8), canary('profile', '5.5.0', 6)], rng, { emission: 'metrics' })],
      faults: regress ? [{ kind: 'errorRatio', target: target('profile', { versions: ['5.5.0'] }), startMs: onset, multiplier: between(rng, 8, 12) }] : [],
    },
    regress
      ? expectRegressions([{ service: 'profile', versions: ['5.5.0'], onsetMs: onset, signal: 'errors' }], verdicts([['profile', '5.5.0', FAIL]]))
      : expectClean(verdicts([['profile', '5.5.0', PASS]]), { forbid: ['5.5.0'] }),
  );
}

function loadRampClean(seed: number): Scenario {
  const rng = rngFor('load-ramp-clean', seed);
  return build(
    'load-ramp-clean',
    seed,
    { services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true, load: { swing: 0.15, swingPeriodMs: 25 * MINUTE, trendPerHour: between(rng, 0.8, 1.4) } })] },
    expectClean(verdicts([['checkout', 'v42', PASS]]), { forbid: ['v42'] }),
  );
}

function regressionAtDeploy(seed: number, signal: 'errors' | 'latency'): Scenario {
  const name = signal === 'errors' ? 'error-regression-at-deploy' : 'latency-regression-at-deploy';
  const rng = rngFor(name, seed);
  const start = minuteBetween(rng, 5, 9);
  const profile = signal === 'errors' ? PAYMENTS : SEARCH_API;
  const stable = signal === 'errors' ? fleet('payments', 'v88', 6, 4) : fleet('search-api', 'v310', 6, 10);
  const version = signal === 'errors' ? 'v89' : 'v311';
  const can = canary(profile.name, version, signal === 'errors' ? 5 : 8, { fromMs: start });
  // The bug ships with the release: bad from the canary's first request. Payments fails
  // only ~0.26% when healthy, so it takes x12 or more for tens of errors in four minutes.
  const fault: Fault =
    signal === 'errors'
      ? { kind: 'errorRatio', target: target(profile.name, { versions: [version] }), startMs: start, multiplier: between(rng, 12, 16) }
      : { kind: 'latency', target: target(profile.name, { versions: [version] }), startMs: start, multiplier: between(rng, 1.5, 1.9) };
  return build(
    name,
    seed,
    { services: [service(profile, [stable, can], rng)], faults: [fault] },
    expectRegressions([{ service: profile.name, versions: [version], onsetMs: start, signal }], verdicts([[profile.name, version, FAIL]])),
  );
}

function multiServiceFleetOutage(seed: number): Scenario {
  const rng = rngFor('shared-dependency-outage', seed);
  const onset = minuteBetween(rng, 10, 13);
  const duration = minuteBetween(rng, 4, 6);
  const outage = (svc: string): Fault => ({
    kind: 'outage',
    target: target(svc),
    startMs: onset,
    durationMs: duration,
    errorRatio: between(rng, 0.1, 0.2),
    latencyMultiplier: 1.4,
    message: 'redis {ip}:6379: i/o timeout (cart-cache)',
    status: 503,
  });
  return build(
    'shared-dependency-outage',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)]), service(PROFILE, [fleet('profile', '5.4.0', 4, 8), canary('profile', '5.5.0', 6)], rng)],
      faults: [outage('checkout'), outage('profile')],
      alerts: [alertRule('alertmanager', 'checkout', 'RedisDown', 'cart-cache redis unreachable', onset + MINUTE, onset + duration, [])],
    },
    // One page per affected service is fine; a page naming either canary is not.
    expectClean(
      verdicts([
        ['checkout', 'v42', PASS],
        ['profile', '5.5.0', PASS],
      ]),
      { forbid: ['v42', '5.5.0'], maxUnattributed: 2 },
    ),
  );
}

// ---- power-curve cases -------------------------------------------------------------

function powerError(seed: number, multiplier: number): Scenario {
  const name = `power-error-x${multiplier}`;
  const rng = rngFor(name, seed);
  return build(
    name,
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, multiplier }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function powerLatency(seed: number): Scenario {
  const rng = rngFor('power-latency-x1.15', seed);
  return build(
    'power-latency-x1.15',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true })],
      faults: [{ kind: 'latency', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, multiplier: 1.15 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'latency' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function powerTail(seed: number): Scenario {
  const rng = rngFor('power-tail-x1.6', seed);
  return build(
    'power-tail-x1.6',
    seed,
    {
      services: [service(PAYMENTS, [fleet('payments', 'v88', 6, 4), canary('payments', 'v89', 4)], rng)],
      faults: [{ kind: 'tailLatency', target: target('payments', { versions: ['v89'] }), startMs: SAMPLE_ONSET_MS, tailShare: 0.03, multiplier: 1.6 }],
    },
    expectRegressions([{ service: 'payments', versions: ['v89'], onsetMs: SAMPLE_ONSET_MS, signal: 'latency' }], verdicts([['payments', 'v89', FAIL]])),
  );
}

function powerLowTraffic(seed: number): Scenario {
  const rng = rngFor('power-low-traffic-error-x5', seed);
  return build(
    'power-low-traffic-error-x5',
    seed,
    {
      services: [service(NOTIFICATIONS, [fleet('notifications', 'v7', 3, 1), canary('notifications', 'v8', 0.5)], rng)],
      faults: [{ kind: 'errorRatio', target: target('notifications', { versions: ['v8'] }), startMs: SAMPLE_ONSET_MS, multiplier: 5 }],
    },
    expectRegressions([{ service: 'notifications', versions: ['v8'], onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }], verdicts([['notifications', 'v8', FAIL]])),
  );
}

function powerGradual(seed: number): Scenario {
  const rng = rngFor('power-gradual-latency', seed);
  return build(
    'power-gradual-latency',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)], { withBaseline: true })],
      // A leak: nothing at the onset, x1.6 ten minutes later.
      faults: [{ kind: 'latency', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, rampMs: 10 * MINUTE, multiplier: 1.6 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'latency' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function powerRareRoute(seed: number): Scenario {
  const rng = rngFor('power-rare-route-errors', seed);
  return build(
    'power-rare-route-errors',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      // /settings is 4% of traffic: ~0.16 req/s on the canary, so even x10 gives a handful of errors.
      faults: [{ kind: 'errorRatio', target: target('checkout', { versions: ['v42'], routes: ['/settings'] }), startMs: SAMPLE_ONSET_MS, multiplier: 10 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'errors' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

function powerRareNewError(seed: number): Scenario {
  const rng = rngFor('power-rare-new-error', seed);
  return build(
    'power-rare-new-error',
    seed,
    {
      services: [sampleCheckout(rng, [canary('checkout', 'v42', 4)])],
      faults: [{ kind: 'newError', target: target('checkout', { versions: ['v42'] }), startMs: SAMPLE_ONSET_MS, ratio: 0.003, message: NEW_BUG_MESSAGES['checkout']?.[1] ?? 'new bug', failsRequest: false, status: 500 }],
    },
    expectRegressions([{ service: 'checkout', versions: ['v42'], onsetMs: SAMPLE_ONSET_MS, signal: 'new-error' }], verdicts([['checkout', 'v42', FAIL]])),
  );
}

/** Every named scenario, core first. */
export const CATALOG: readonly CatalogEntry[] = [
  { name: 'clean-canary', group: 'core', summary: 'checkout v41x8@5 + canary v42@4 from 2m, nothing wrong -> no page, v42 PASS', build: cleanCanary },
  { name: 'error-regression', group: 'core', summary: 'sample setup, v42 5xx x8 at 10m -> one page <=5m, v42 FAIL', build: errorRegression },
  { name: 'latency-regression', group: 'core', summary: 'sample setup + baseline v41@4, v42 latency x1.6 at 10m -> one page, v42 FAIL', build: latencyRegression },
  { name: 'parallel-canaries-shared-bug', group: 'core', summary: 'three canaries of r42 @4, shared 5xx x6 at 10m -> ONE page naming them, all FAIL', build: parallelSharedBug },
  { name: 'parallel-canaries-one-bad', group: 'core', summary: 'search-api v310x6@10, r311 canaries eu/us/ap @8, one has 5xx x8-12 -> page that one, FAIL it, PASS the others', build: parallelOneBad },
  { name: 'tail-latency-regression', group: 'core', summary: 'payments v88x6@4 + baseline, canary v89@4: slowest 6-10% x3-4 (p99 x3+, median unchanged) -> page, FAIL', build: tailLatencyRegression },
  { name: 'route-error-regression', group: 'core', summary: 'profile 5.4.0x6@8, canary 5.5.0@6: /api/avatar (20% of traffic) 5xx x20-30 -> page, FAIL', build: routeErrorRegression },
  { name: 'route-latency-regression', group: 'core', summary: 'sample setup, v42 latency x2-2.6 on /search only -> page, FAIL', build: routeLatencyRegression },
  { name: 'new-error-signature', group: 'core', summary: 'sample setup, 2.5-4% of v42 /cart,/checkout fail with a never-seen message -> page, FAIL', build: newErrorSignature },
  { name: 'new-error-log-only', group: 'core', summary: 'profile canary logs a new error on 2-3% of requests, status unchanged -> page, FAIL', build: newErrorLogOnly },
  { name: 'fleet-outage', group: 'core', summary: 'sample setup, every version 12-25% 5xx + latency x1.3-1.7 for 4-6m -> no page blames v42 (<=1 fleet page), v42 PASS', build: fleetOutage },
  { name: 'fleet-latency-surge', group: 'core', summary: 'search-api v310x6@10 + canary v311@8, everyone latency x2-2.6 for 5-7m -> v311 PASS, <=1 fleet page', build: fleetLatencySurge },
  { name: 'canary-blip', group: 'core', summary: 'sample setup, canary-only 10-30s burst of 30-50% 5xx -> no page, v42 PASS', build: canaryBlip },
  { name: 'fleet-blip', group: 'core', summary: 'sample setup, fleet-wide 10-30s burst of 20-40% 5xx -> no page, v42 PASS', build: fleetBlip },
  { name: 'untagged-error-regression', group: 'core', summary: 'sample setup, no event has `version` (deploy instances only), v42 5xx x6-10 -> page, FAIL', build: untaggedErrorRegression },
  { name: 'untagged-clean', group: 'core', summary: 'sample setup + baseline, 30-70% of events untagged, nothing wrong -> v42 PASS', build: untaggedClean },
  { name: 'late-events-error-regression', group: 'core', summary: 'sample setup, 5-12% of events up to 25s late, 0.05% 31-120s late, v42 5xx x6-9 -> page, FAIL', build: lateErrorRegression },
  { name: 'late-events-clean', group: 'core', summary: 'sample setup + baseline, late and partly untagged events, nothing wrong -> v42 PASS', build: lateClean },
  { name: 'multi-service', group: 'core', summary: 'checkout, search-api, payments, profile at once; search-api canary latency x1.4-1.8 -> page it only, others PASS', build: multiService },
  { name: 'two-services-two-regressions', group: 'core', summary: 'payments canary 5xx x8-12 at 7-9m, profile canary latency x1.4-1.7 at 13-16m -> two pages, both FAIL', build: twoRegressions },
  { name: 'low-traffic-clean', group: 'core', summary: 'notifications v7x3@1, canary v8@0.5, nothing wrong -> no page, v8 PASS or NONE', build: lowTrafficClean },
  { name: 'low-traffic-severe-regression', group: 'core', summary: 'notifications canary @0.5 req/s, 5xx x20 (~16%) -> page, FAIL', build: lowTrafficSevere },
  { name: 'high-traffic-error-x3', group: 'core', summary: 'search-api v310x10@25 + canary v311@25 (275 req/s), 20 min, 5xx x3 at 7-9m -> page, FAIL', build: highTrafficErrorX3 },
  { name: 'fleet-rollout-regression', group: 'core', summary: 'checkout v42 replaces v41 fleet-wide (no canary, rolling 30s/instance), v42 5xx x6-10 -> page v42, FAIL', build: (s) => fleetRollout(s, true) },
  { name: 'fleet-rollout-clean', group: 'core', summary: 'checkout v42 replaces v41 fleet-wide, nothing wrong -> no page, v42 PASS or NONE', build: (s) => fleetRollout(s, false) },
  { name: 'canary-rollback', group: 'core', summary: 'sample setup, v42 5xx x8-12 at 7-9m, rolled back 6-8m later -> page <=5m, FAIL', build: canaryRollback },
  { name: 'canary-promote-clean', group: 'core', summary: 'clean canary v42 promoted at 16-20m and rolled out to 8 instances -> no page, v42 PASS', build: canaryPromoteClean },
  { name: 'alert-flood-fleet-outage', group: 'core', summary: 'fleet outage + ~150 webhooks (alertmanager per host, grafana, cloudwatch, datadog, sentry naming v41/v42) -> <=1 page, none blames v42, PASS', build: alertFloodFleetOutage },
  { name: 'alert-flood-canary-regression', group: 'core', summary: 'v42 5xx x8-12 + alertmanager/sentry/datadog alerts on the canary + a generic synthetic alert -> ONE page naming v42, FAIL', build: alertFloodCanaryRegression },
  { name: 'alert-flood-noise', group: 'core', summary: 'clean canary; disk-pressure alerts on every host (canary too), CPU alerts, a flapping probe -> <=1 page, none blames v42, PASS', build: alertFloodNoise },
  { name: 'alert-flood-parallel-fleet', group: 'core', summary: 'fleet outage while 3 canaries of r42 are judged + alertmanager and datadog alerts from all 14 hosts -> <=1 page, none blames a canary, all PASS', build: alertFloodParallelFleet },
  { name: 'alert-flood-one-bad-of-three', group: 'core', summary: 'one of 3 canaries of r42 5xx x8-12 + alertmanager and datadog alerts from its hosts -> ONE page naming it, FAIL; the others PASS', build: alertFloodOneBadOfThree },
  { name: 'noisy-stable-instance', group: 'core', summary: 'one stable host has 5xx x4-6 all along, canary clean -> no page, v42 PASS', build: noisyStableInstance },
  { name: 'metrics-error-regression', group: 'core', summary: 'profile reports metric events only (requests/errors per 10s, latency samples), canary errors x8-12 -> page, FAIL', build: (s) => metricsScenario(s, true) },
  { name: 'metrics-clean', group: 'core', summary: 'profile reports metric events only, nothing wrong -> no page, PASS', build: (s) => metricsScenario(s, false) },
  { name: 'load-ramp-clean', group: 'core', summary: 'sample setup + baseline, load grows 40-70% over 30 min with swings, nothing wrong -> PASS', build: loadRampClean },
  { name: 'error-regression-at-deploy', group: 'core', summary: 'payments canary v89@5 starts at 5-9m already failing x12-16 -> page <=5m of its start, FAIL', build: (s) => regressionAtDeploy(s, 'errors') },
  { name: 'latency-regression-at-deploy', group: 'core', summary: 'search-api canary v311@8 starts at 5-9m already slow x1.5-1.9 -> page <=5m of its start, FAIL', build: (s) => regressionAtDeploy(s, 'latency') },
  { name: 'shared-dependency-outage', group: 'core', summary: 'checkout and profile both lose redis for 4-6m, both have clean canaries -> <=2 pages, none blames a canary, both PASS', build: multiServiceFleetOutage },
  { name: 'power-error-x2', group: 'power', summary: 'sample setup, v42 5xx x2 (~8 vs 4 errors per 3 min)', build: (s) => powerError(s, 2) },
  { name: 'power-error-x3', group: 'power', summary: 'sample setup, v42 5xx x3 at 4 req/s', build: (s) => powerError(s, 3) },
  { name: 'power-latency-x1.15', group: 'power', summary: 'sample setup + baseline, v42 latency x1.15', build: powerLatency },
  { name: 'power-tail-x1.6', group: 'power', summary: 'payments canary, slowest 3% x1.6', build: powerTail },
  { name: 'power-low-traffic-error-x5', group: 'power', summary: 'notifications canary @0.5 req/s, 5xx x5', build: powerLowTraffic },
  { name: 'power-gradual-latency', group: 'power', summary: 'sample setup + baseline, v42 latency ramps to x1.6 over 10 min from the onset', build: powerGradual },
  { name: 'power-rare-route-errors', group: 'power', summary: 'sample setup, 5xx x10 on /settings only (4% of traffic)', build: powerRareRoute },
  { name: 'power-rare-new-error', group: 'power', summary: 'sample setup, new error logged on 0.3% of canary requests (~4 in 5 min)', build: powerRareNewError },
];

/** Finds a catalog entry by name. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.name === name);
}

/** Generates one catalog entry for one seed: events, NDJSON text and labels. */
export function renderScenario(entry: CatalogEntry, seed: number): RenderedScenario {
  const scenario = entry.build(seed);
  const events = generate(scenario.spec);
  const id = `${entry.name}-seed${seed}`;
  return { id, entry, seed, scenario, events, ndjson: toNdjson(events), labels: labelsOf(id, scenario.spec, scenario.expect, events.length) };
}
