/**
 * The request model of one instance: Poisson arrivals at a slowly drifting rate, a route
 * per request by traffic share, a 5xx/404/200 outcome, a log-normal latency, and the log
 * lines a request writes.
 *
 * Every request consumes exactly the same number of draws from the instance's outcome
 * stream whatever the faults do, so a fault changes the outcome of the very requests it
 * touches and nothing else: the same arrivals, the same routes, the same latency draws.
 */
import { bindFaults, effectAt, type Effect } from './faults.js';
import type { Fault, LoadModel, ServiceProfile } from './model.js';
import { compileTemplate, renderTemplate, type MessageTemplate } from './messages.js';
import { createRng, hash32, type Rng } from './random.js';

/** A log line written while serving a request. */
export interface ServedLog {
  readonly level: 'error' | 'warn';
  readonly message: string;
}

/** One simulated request with everything observed about it. */
export interface ServedRequest {
  readonly tsMs: number;
  readonly route: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly logs: readonly ServedLog[];
  /** Whether a metrics-emitting service reports this request's latency as a sample. */
  readonly sampled: boolean;
}

/** What an instance simulation needs to know. */
export interface InstanceRun {
  readonly seed: number;
  readonly profile: ServiceProfile;
  readonly version: string;
  readonly instance: string;
  readonly fromMs: number;
  readonly untilMs: number;
  readonly ratePerSecond: number;
  readonly load: (tMs: number) => number;
  readonly faults: readonly Fault[];
}

const NO_LOGS: readonly ServedLog[] = [];

/** Share of requests whose latency a metrics-emitting service samples. */
export const LATENCY_SAMPLE_RATIO = 0.25;

/** A service's load multiplier over time: a slow swing, a trend, and a faster small wobble. */
export function loadCurve(seed: number, service: string, load: LoadModel): (tMs: number) => number {
  const rng = createRng(seed, `load/${service}`);
  const phase = rng.next() * 2 * Math.PI;
  const wobblePhase = rng.next() * 2 * Math.PI;
  const wobblePeriodMs = (6 + rng.next() * 6) * 60_000;
  return (tMs) => {
    const swing = load.swing * Math.sin((2 * Math.PI * tMs) / load.swingPeriodMs + phase);
    const wobble = 0.03 * Math.sin((2 * Math.PI * tMs) / wobblePeriodMs + wobblePhase);
    const trend = (load.trendPerHour * tMs) / 3_600_000;
    return Math.max(0.05, 1 + swing + wobble + trend);
  };
}

interface CompiledProfile {
  readonly cumulativeShares: readonly number[];
  readonly errorTemplates: readonly MessageTemplate[];
  readonly warnTemplates: readonly MessageTemplate[];
  readonly statusCumulative: readonly number[];
}

const compiled = new WeakMap<ServiceProfile, CompiledProfile>();

function compile(profile: ServiceProfile): CompiledProfile {
  const hit = compiled.get(profile);
  if (hit !== undefined) return hit;
  const total = profile.routes.reduce((s, r) => s + r.share, 0);
  let acc = 0;
  const cumulativeShares = profile.routes.map((r) => (acc += r.share / total));
  const statusTotal = profile.errorStatuses.reduce((s, w) => s + w.weight, 0);
  let sacc = 0;
  const statusCumulative = profile.errorStatuses.map((w) => (sacc += w.weight / statusTotal));
  const out: CompiledProfile = {
    cumulativeShares,
    statusCumulative,
    errorTemplates: profile.errorMessages.map(compileTemplate),
    warnTemplates: profile.warnMessages.map(compileTemplate),
  };
  compiled.set(profile, out);
  return out;
}

function indexOf(cumulative: readonly number[], u: number): number {
  for (let i = 0; i < cumulative.length; i++) if (u < (cumulative[i] ?? 1)) return i;
  return cumulative.length - 1;
}

/** A small stream for the variable parts of one message, seeded by one outcome draw. */
function messageRng(u: number, instance: string): Rng {
  return createRng(Math.floor(u * 4294967296) ^ hash32(instance), 'message');
}

function latencyOf(median: number, sigma: number, z: number, effect: Effect): number {
  let ms = median * Math.exp(sigma * z) * effect.latencyMultiplier;
  for (const t of effect.tails) if (z > t.z) ms *= t.multiplier;
  return Math.max(0.01, Math.round(ms * 100) / 100);
}

/** Simulates one instance from `fromMs` to `untilMs`; the result is in time order. */
export function simulateInstance(run: InstanceRun): ServedRequest[] {
  const { profile, instance } = run;
  const cp = compile(profile);
  const arrivals = createRng(run.seed, `arrivals/${profile.name}/${instance}/${run.fromMs}`);
  const outcomes = createRng(run.seed, `outcomes/${profile.name}/${instance}/${run.fromMs}`);
  const bound = bindFaults(run.faults, profile.name, run.version, instance);
  const out: ServedRequest[] = [];
  if (run.ratePerSecond <= 0) return out;
  let t = run.fromMs;
  for (;;) {
    t += (arrivals.exponential() / (run.ratePerSecond * run.load(t))) * 1000;
    if (t >= run.untilMs) break;
    const tsMs = Math.floor(t);
    // The fixed draw pattern: ten uniforms per request, whatever happens below.
    const uRoute = outcomes.next();
    const uError = outcomes.next();
    const uStatus = outcomes.next();
    const z = outcomes.normal();
    const uNotFound = outcomes.next();
    const uBug = outcomes.next();
    const uMessage = outcomes.next();
    const uWarn = outcomes.next();
    const uSample = outcomes.next();

    const routeIndex = indexOf(cp.cumulativeShares, uRoute);
    const route = profile.routes[routeIndex];
    if (route === undefined) continue;
    const effect = effectAt(bound, tsMs, route.path);
    const pNormal = Math.min(1, route.errorRatio * effect.errorMultiplier);
    const pTotal = Math.min(1, pNormal + effect.addedErrorRatio);
    let logs: ServedLog[] | undefined;
    const log = (l: ServedLog): void => {
      (logs ??= []).push(l);
    };
    let status = 200;
    if (uError < pNormal) {
      status = profile.errorStatuses[indexOf(cp.statusCumulative, uStatus)]?.status ?? 500;
      if (uMessage < profile.errorLogRatio) {
        const template = cp.errorTemplates[Math.floor((uMessage / profile.errorLogRatio) * cp.errorTemplates.length)];
        if (template !== undefined) log({ level: 'error', message: `${renderTemplate(template, messageRng(uMessage, instance))} (route=${route.path})` });
      }
    } else if (uError < pTotal) {
      status = effect.outageStatus;
      if (effect.outageMessage !== undefined) {
        log({ level: 'error', message: `${renderTemplate(effect.outageMessage, messageRng(uMessage, instance))} (route=${route.path})` });
      }
    } else if (uNotFound < route.notFoundRatio) {
      status = 404;
    }
    if (effect.bug !== undefined && uBug < effect.bug.ratio) {
      const message = `${renderTemplate(effect.bug.message, messageRng(uBug, instance))} (route=${route.path})`;
      if (!effect.bug.failsRequest) {
        log({ level: 'error', message });
      } else if (status < 500) {
        status = effect.bug.status;
        log({ level: 'error', message });
      }
    }
    if (uWarn < profile.warnRatio && cp.warnTemplates.length > 0) {
      const template = cp.warnTemplates[Math.floor((uWarn / profile.warnRatio) * cp.warnTemplates.length)];
      if (template !== undefined) log({ level: 'warn', message: renderTemplate(template, messageRng(uWarn, instance)) });
    }
    out.push({
      tsMs,
      route: route.path,
      status,
      latencyMs: latencyOf(route.latencyMedianMs, route.latencySigma, z, effect),
      logs: logs ?? NO_LOGS,
      sampled: uSample < LATENCY_SAMPLE_RATIO,
    });
  }
  return out;
}
