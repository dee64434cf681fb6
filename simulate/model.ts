/**
 * What a simulated scenario is made of: services with routes and deployments, faults on a
 * schedule, monitoring alerts, and how events reach the engine (tags, lateness). All times
 * inside a spec are offsets in milliseconds from the scenario's start, so a scenario can be
 * moved in time without touching its shape.
 */

/** Roles a release tool gives a deployment (contract section 1). */
export type Role = 'canary' | 'baseline' | 'stable';

/** Lifecycle steps of a deployment (contract section 1). */
export type DeployAction = 'start' | 'promote' | 'rollback' | 'finish';

/** Monitoring systems whose webhook payloads the contract names. */
export type WebhookSource = 'alertmanager' | 'grafana' | 'datadog' | 'cloudwatch' | 'sentry' | 'generic';

/** Final verdicts a release can be given. */
export type Verdict = 'PASS' | 'FAIL' | 'NONE';

/** One route of a service and how it behaves when nothing is wrong. */
export interface RouteModel {
  readonly path: string;
  /** Relative share of the service's traffic; shares need not sum to 1. */
  readonly share: number;
  /** Healthy ratio of 5xx responses. */
  readonly errorRatio: number;
  /** Ratio of 404 responses among the requests that did not fail. */
  readonly notFoundRatio: number;
  /** Median of the log-normal latency distribution. */
  readonly latencyMedianMs: number;
  /** Standard deviation of log(latency). */
  readonly latencySigma: number;
}

/** A 5xx status and how often it is the one returned when a request fails. */
export interface StatusWeight {
  readonly status: number;
  readonly weight: number;
}

/** A service's healthy traffic shape and the vocabulary of its logs. */
export interface ServiceProfile {
  readonly name: string;
  readonly routes: readonly RouteModel[];
  readonly errorStatuses: readonly StatusWeight[];
  /** Templates (see messages.ts) of the error lines a failed request logs. */
  readonly errorMessages: readonly string[];
  /** Templates of warning lines, which must not count as errors. */
  readonly warnMessages: readonly string[];
  /** Share of requests that log a warning. */
  readonly warnRatio: number;
  /** Share of failed requests that log an error line. */
  readonly errorLogRatio: number;
}

/** One instance of a deployment and when it serves traffic. */
export interface InstancePlan {
  readonly name: string;
  readonly fromMs: number;
  /** Serves until the end of the scenario when absent. */
  readonly untilMs?: number;
  /** Multiplies the deployment's per-instance rate (uneven load balancing). */
  readonly rateFactor?: number;
}

/** A lifecycle event after a deployment's start. */
export interface LifecycleStep {
  readonly action: DeployAction;
  readonly atMs: number;
}

/** One version of a service, running on some instances in one role. */
export interface Deployment {
  readonly version: string;
  readonly role: Role;
  /** The release that several parallel canaries belong to. */
  readonly release?: string;
  /** Time of the `start` deploy event. */
  readonly startMs: number;
  readonly instances: readonly InstancePlan[];
  /** Mean requests per second per instance, before load drift. */
  readonly ratePerInstance: number;
  readonly steps: readonly LifecycleStep[];
}

/**
 * How a service's traffic reaches the engine: one event per request, or pre-aggregated
 * metric samples (counter deltas every ten seconds plus sampled latencies).
 */
export type Emission = 'requests' | 'metrics';

/** Slow change of offered load over time, shared by every instance of a service. */
export interface LoadModel {
  /** Amplitude of the slow swing, as a fraction of the mean rate. */
  readonly swing: number;
  readonly swingPeriodMs: number;
  /** Linear change of load per hour, as a fraction of the mean rate (a morning ramp). */
  readonly trendPerHour: number;
}

/** One simulated service. */
export interface ServiceSpec {
  readonly profile: ServiceProfile;
  readonly deployments: readonly Deployment[];
  readonly emission: Emission;
  readonly load: LoadModel;
}

/** Which series a fault touches; an absent list means "all". */
export interface FaultTarget {
  readonly service: string;
  readonly versions?: readonly string[];
  readonly instances?: readonly string[];
  readonly routes?: readonly string[];
}

interface FaultSchedule {
  readonly target: FaultTarget;
  readonly startMs: number;
  /** Lasts until the end of the scenario when absent. */
  readonly durationMs?: number;
  /** The effect grows linearly from nothing to full over this long (a slow leak). */
  readonly rampMs?: number;
}

/** The healthy 5xx ratio is multiplied. */
export interface ErrorRatioFault extends FaultSchedule {
  readonly kind: 'errorRatio';
  readonly multiplier: number;
}

/** The whole latency distribution is multiplied. */
export interface LatencyFault extends FaultSchedule {
  readonly kind: 'latency';
  readonly multiplier: number;
}

/** Only the slowest `tailShare` of requests get slower; the median does not move. */
export interface TailLatencyFault extends FaultSchedule {
  readonly kind: 'tailLatency';
  readonly tailShare: number;
  readonly multiplier: number;
}

/** A new bug: a share of requests log an error message never seen before. */
export interface NewErrorFault extends FaultSchedule {
  readonly kind: 'newError';
  readonly ratio: number;
  /** Template of the new message. */
  readonly message: string;
  /** Whether the bug also fails the request (with `status`), or is only logged. */
  readonly failsRequest: boolean;
  readonly status: number;
}

/** A dependency fails: an absolute share of requests fail with its message, and all slow down. */
export interface OutageFault extends FaultSchedule {
  readonly kind: 'outage';
  readonly errorRatio: number;
  readonly latencyMultiplier: number;
  readonly message: string;
  readonly status: number;
}

/** Anything the simulator can break. */
export type Fault = ErrorRatioFault | LatencyFault | TailLatencyFault | NewErrorFault | OutageFault;

/** A monitoring rule that fires during an incident and notifies through a webhook. */
export interface AlertRule {
  readonly source: WebhookSource;
  readonly service: string;
  readonly alertName: string;
  readonly severity: 'critical' | 'warning' | 'info';
  readonly summary: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Re-notification interval while firing. */
  readonly repeatMs: number;
  /** One alert per instance (a flood); an empty list gives one service-level alert. */
  readonly instances: readonly string[];
  /** Extra labels, e.g. the version the instance runs. */
  readonly labels: Readonly<Record<string, string>>;
  /** Alertmanager/Grafana grouping: one notification per rule, or one per instance (a bigger flood). */
  readonly groupBy: 'rule' | 'instance';
}

/** How events reach the engine: which lack a version tag, and which arrive late. */
export interface Delivery {
  /** Share of request/log/metric events emitted without `version`. */
  readonly untaggedShare: number;
  /** Only these versions lose tags; all when absent. */
  readonly untaggedVersions?: readonly string[];
  /** Share of events emitted after their time by up to `lateMaxMs`. */
  readonly lateShare: number;
  readonly lateMaxMs: number;
  /** Share of events emitted beyond the engine's allowed lateness. */
  readonly veryLateShare: number;
  readonly veryLateMinMs: number;
  readonly veryLateMaxMs: number;
}

/** Everything needed to generate one scenario's events. */
export interface ScenarioSpec {
  readonly name: string;
  readonly seed: number;
  /** Epoch milliseconds of the scenario's start. */
  readonly startEpochMs: number;
  readonly durationMs: number;
  readonly services: readonly ServiceSpec[];
  readonly faults: readonly Fault[];
  readonly alerts: readonly AlertRule[];
  readonly delivery: Delivery;
}

/** The signal a regression shows first. */
export type Signal = 'errors' | 'latency' | 'new-error';

/** A regression a correct engine must page for. */
export interface ExpectedRegression {
  readonly service: string;
  readonly versions: readonly string[];
  readonly onsetMs: number;
  readonly signal: Signal;
}

/** What a correct engine does on a scenario; labels.ts turns it into the shared label format. */
export interface Expectation {
  readonly regressions: readonly ExpectedRegression[];
  /** Allowed final verdicts per `service/version`. */
  readonly verdicts: Readonly<Record<string, readonly Verdict[]>>;
  /** Versions that no page may name. */
  readonly forbidVersions: readonly string[];
  /** Pages that blame no judged release and are still fine (one per fleet-wide incident). */
  readonly maxUnattributedPages: number;
}

/** A spec together with what a correct engine does on it. */
export interface Scenario {
  readonly spec: ScenarioSpec;
  readonly expect: Expectation;
}

/** No tags dropped and nothing late. */
export const ON_TIME: Delivery = {
  untaggedShare: 0,
  lateShare: 0,
  lateMaxMs: 0,
  veryLateShare: 0,
  veryLateMinMs: 0,
  veryLateMaxMs: 0,
};
