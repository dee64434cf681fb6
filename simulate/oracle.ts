/**
 * A deliberately simple reference reading of a generated stream, used to check that the
 * catalog's labels are honest: a regression labeled must-detect has to be glaring to
 * this naive comparison within a few minutes, and a clean canary has to look like its
 * peers. It knows the stream only as an engine would (deploy events name instances;
 * versions come from tags or from those lists), never the spec's faults.
 */
import type { TimedEvent, WireEvent } from './generate.js';
import type { Scenario } from './model.js';

/** Counts and latencies of one slice of traffic. */
export interface SliceStats {
  readonly requests: number;
  readonly errors: number;
  readonly latencies: readonly number[];
}

const resolvers = new WeakMap<readonly TimedEvent[], (e: WireEvent) => string | undefined>();

/** Which version each instance runs, from the tags or the deploy events' instance lists. */
export function versionResolver(events: readonly TimedEvent[]): (e: WireEvent) => string | undefined {
  const hit = resolvers.get(events);
  if (hit !== undefined) return hit;
  const byInstance = new Map<string, string>();
  for (const { event } of events) {
    if (event.type === 'deploy' && event.action === 'start') for (const i of event.instances) byInstance.set(`${event.service}/${i}`, event.version);
  }
  const resolve = (e: WireEvent): string | undefined => {
    if (e.type === 'deploy') return e.version;
    if (e.type === 'webhook') return undefined;
    return e.version ?? byInstance.get(`${e.service}/${e.instance}`);
  };
  resolvers.set(events, resolve);
  return resolve;
}

/** Traffic of one service's versions within [fromMs, untilMs), from requests or metric samples. */
export function sliceStats(events: readonly TimedEvent[], service: string, versions: ReadonlySet<string>, fromMs: number, untilMs: number, route?: string): SliceStats {
  const versionOf = versionResolver(events);
  let requests = 0;
  let errors = 0;
  const latencies: number[] = [];
  for (const { tsMs, event } of events) {
    if (tsMs < fromMs || tsMs >= untilMs) continue;
    if (event.type !== 'request' && event.type !== 'metric') continue;
    if (event.service !== service) continue;
    const v = versionOf(event);
    if (v === undefined || !versions.has(v)) continue;
    if (event.type === 'request') {
      if (route !== undefined && event.route !== route) continue;
      requests++;
      if (event.status >= 500) errors++;
      latencies.push(event.latency_ms);
    } else if (route === undefined) {
      if (event.name === 'requests') requests += event.value;
      else if (event.name === 'errors') errors += event.value;
      else if (event.name === 'latency_ms') latencies.push(event.value);
    }
  }
  return { requests, errors, latencies };
}

/** The q-quantile of a sample (nearest rank); NaN when empty. */
export function quantileOf(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** P(X >= k) for X ~ Poisson(mean): how surprising k errors are when `mean` were expected. */
export function poissonTail(k: number, mean: number): number {
  if (k <= 0) return 1;
  if (mean <= 0) return 0;
  // Sum the upper tail directly in log space: stable for the small p-values this is used for.
  let logTerm = -mean + k * Math.log(mean) - logFactorial(k);
  let sum = 0;
  for (let i = k; i < k + 2000; i++) {
    const term = Math.exp(logTerm);
    sum += term;
    if (term < sum * 1e-15) break;
    logTerm += Math.log(mean) - Math.log(i + 1);
  }
  return Math.min(1, sum);
}

function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/** Error shapes: a message with digits, hex runs and addresses blanked, as a crude normaliser would. */
export function messageShape(message: string): string {
  return message
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{6,}\b/g, '<hex>')
    .replace(/\d+/g, '#');
}

/** Error-level log shapes per version of a service within [fromMs, untilMs). */
export function errorShapes(events: readonly TimedEvent[], service: string, fromMs: number, untilMs: number): Map<string, Map<string, number>> {
  const versionOf = versionResolver(events);
  const out = new Map<string, Map<string, number>>();
  for (const { tsMs, event } of events) {
    if (event.type !== 'log' || event.service !== service || event.level !== 'error') continue;
    if (tsMs < fromMs || tsMs >= untilMs) continue;
    const v = versionOf(event) ?? '?';
    const shapes = out.get(v) ?? new Map<string, number>();
    const shape = messageShape(event.message);
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    out.set(v, shapes);
  }
  return out;
}

const FOUR_MINUTES_MS = 4 * 60_000;

function versionsOfService(events: readonly TimedEvent[], service: string): Set<string> {
  const out = new Set<string>();
  for (const { event } of events) if (event.type === 'deploy' && event.service === service) out.add(event.version);
  return out;
}

/**
 * Where a scenario's labels claim more than the stream shows. Each must-detect regression
 * has to stand out to this naive reading within four minutes of its onset (errors: at
 * least 2.5 times the peers' ratio and a Poisson p-value under 1e-6; latency: a median,
 * p90 or p99 ratio, overall or on a busy route, above 1.3; new errors: ten or more lines
 * of a shape no other version ever logs). A clean canary that no fault touches has to
 * look like its peers over its whole life. An empty list means the labels are honest.
 */
export function labelProblems(scenario: Scenario, events: readonly TimedEvent[]): string[] {
  const problems: string[] = [];
  const { spec, expect } = scenario;
  for (const reg of expect.regressions) {
    const bad = new Set(reg.versions);
    const others = new Set([...versionsOfService(events, reg.service)].filter((v) => !bad.has(v)));
    const from = reg.onsetMs;
    const until = reg.onsetMs + FOUR_MINUTES_MS;
    const name = `${reg.service}/${reg.versions.join('+')}`;
    const canary = sliceStats(events, reg.service, bad, from, until);
    switch (reg.signal) {
      case 'errors': {
        const reference = sliceStats(events, reg.service, others, 0, from);
        const expected = (canary.requests * Math.max(reference.errors, 1)) / Math.max(reference.requests, 1);
        const p = poissonTail(canary.errors, expected);
        if (canary.errors < 2.5 * expected || p >= 1e-6) {
          problems.push(`${name}: ${canary.errors} errors in 4 min vs ${expected.toFixed(1)} expected (p=${p.toExponential(1)}) is not plainly visible`);
        }
        break;
      }
      case 'latency': {
        const sameTime = sliceStats(events, reg.service, others, from, until);
        const ratios = [0.5, 0.9, 0.99].map((q) => quantileOf(canary.latencies, q) / quantileOf(sameTime.latencies, q));
        const routes = new Set(events.flatMap((e) => (e.event.type === 'request' && e.event.service === reg.service ? [e.event.route] : [])));
        for (const route of routes) {
          const c = sliceStats(events, reg.service, bad, from, until, route);
          const o = sliceStats(events, reg.service, others, from, until, route);
          if (c.latencies.length >= 100) ratios.push(quantileOf(c.latencies, 0.5) / quantileOf(o.latencies, 0.5));
        }
        const best = Math.max(...ratios.filter((r) => Number.isFinite(r)));
        if (!(best > 1.3)) problems.push(`${name}: best latency ratio in 4 min is x${best.toFixed(2)}, not plainly visible`);
        break;
      }
      case 'new-error': {
        const seenElsewhere = new Set<string>();
        for (const [v, shapes] of errorShapes(events, reg.service, 0, spec.durationMs)) if (!bad.has(v)) for (const s of shapes.keys()) seenElsewhere.add(s);
        for (const [v, shapes] of errorShapes(events, reg.service, 0, from)) if (bad.has(v)) for (const s of shapes.keys()) seenElsewhere.add(s);
        let fresh = 0;
        for (const [v, shapes] of errorShapes(events, reg.service, from, until)) if (bad.has(v)) for (const [s, n] of shapes) if (!seenElsewhere.has(s)) fresh += n;
        if (fresh < 10) problems.push(`${name}: only ${fresh} lines of never-seen errors in 4 min`);
        break;
      }
      default: {
        const never: never = reg.signal;
        throw new Error(`unknown signal ${String(never)}`);
      }
    }
  }
  if (expect.regressions.length === 0) {
    const judged = new Set(Object.keys(expect.verdicts));
    const judgedInstances = new Set(
      spec.services.flatMap((s) => s.deployments.filter((d) => judged.has(`${s.profile.name}/${d.version}`)).flatMap((d) => d.instances.map((i) => i.name))),
    );
    // Faults pinned to hosts no judged version runs on (a bad stable host) keep canaries clean.
    const untouched = spec.faults.every((f) => f.target.instances !== undefined && f.target.instances.every((i) => !judgedInstances.has(i)));
    if (untouched) {
      for (const key of judged) {
        const [service = '', version = ''] = key.split('/');
        const others = new Set([...versionsOfService(events, service)].filter((v) => v !== version));
        const canary = sliceStats(events, service, new Set([version]), 0, spec.durationMs);
        const reference = sliceStats(events, service, others, 0, spec.durationMs);
        const expected = (canary.requests * reference.errors) / Math.max(reference.requests, 1);
        const p = poissonTail(canary.errors, expected);
        if (p < 1e-4) problems.push(`${key}: clean, yet ${canary.errors} errors vs ${expected.toFixed(1)} expected (p=${p.toExponential(1)})`);
        const median = quantileOf(canary.latencies, 0.5) / quantileOf(reference.latencies, 0.5);
        if (!(median > 0.9 && median < 1.1)) problems.push(`${key}: clean, yet median latency x${median.toFixed(2)} of its peers`);
      }
    }
  }
  return problems;
}
