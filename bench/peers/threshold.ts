/**
 * A reference judge of the kind teams write as Prometheus alerting rules, grouped the way
 * Alertmanager groups with `group_by: [service, version]`:
 *
 *   errors / requests over 5m > 1%   or   p99 over 5m > 1.5 x the fleet's p99 over 5m
 *
 * evaluated every minute of event time per service and version (no `for:` clause, no
 * minimum traffic: the rule as written). The fleet's p99 is that of the service's other
 * versions: with the version itself in it, a canary with more than 1% of the traffic
 * would set the very p99 it is held against, and the latency half could never fire. A group pages when it starts firing and again
 * each time it starts firing after it stopped, as a new Alertmanager group does; its
 * stopping is a `resolve`. Release tools that gate on such a query (an analysis that
 * fails when the query is true) give the verdicts: `FAIL` when a new release's group
 * fires, `PASS` once it has been evaluated for five minutes without firing. The p99 is
 * the sample quantile of the window's latencies (Prometheus would interpolate within
 * histogram buckets, which only blurs it).
 */
import { isoTime, type Decision, type Verdict } from '../../rules/decisions.js';
import type { VigilEvent } from '../../rules/events.js';
import { PeerInput } from './traffic.js';

/** The rule's settings; the defaults are the rule above. */
export interface ThresholdRuleOptions {
  readonly windowMs: number;
  readonly evaluateEveryMs: number;
  /** Fires when the window's error ratio is above this. */
  readonly maxErrorRatio: number;
  /** Fires when the version's p99 is above this multiple of the whole service's p99. */
  readonly maxP99OverFleet: number;
  /** A new release passes after this long of evaluations without firing. */
  readonly passAfterMs: number;
}

/** The rule as the comparison specifies it. */
export const DEFAULT_THRESHOLD_RULE: ThresholdRuleOptions = {
  windowMs: 5 * 60_000,
  evaluateEveryMs: 60_000,
  maxErrorRatio: 0.01,
  maxP99OverFleet: 1.5,
  passAfterMs: 5 * 60_000,
};

interface GroupState {
  firing: boolean;
  incident: string;
  firstEvaluatedMs: number | undefined;
  verdict: Verdict;
}

/** The `q` sample quantile (nearest rank) of unsorted values; NaN when there are none. */
export function quantileOf(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The threshold rule over a stream of events, emitting decisions in the contract's format. */
export class ThresholdJudge {
  private readonly input: PeerInput;
  private readonly groups = new Map<string, GroupState>();
  private incidents = 0;

  constructor(
    private readonly emit: (d: Decision) => void,
    private readonly options: ThresholdRuleOptions = DEFAULT_THRESHOLD_RULE,
  ) {
    this.input = new PeerInput(options.evaluateEveryMs, (t) => this.evaluate(t));
  }

  /** Takes one event. */
  push(e: VigilEvent): void {
    this.input.push(e);
  }

  /** Ends the stream. */
  finish(): void {
    this.input.finish();
  }

  private evaluate(t: number): void {
    const from = t - this.options.windowMs;
    for (const service of this.input.tags.services()) {
      const versions = this.input.tags.versionsOf(service);
      for (const v of versions) {
        const w = this.input.slices.window(service, [v.version], from, t);
        if (w.requests === 0 && w.latencies.length === 0) continue;
        const rest = this.input.slices.window(service, versions.filter((o) => o !== v).map((o) => o.version), from, t);
        const fleetP99 = quantileOf(rest.latencies, 0.99);
        const key = `${service}\u0000${v.version}`;
        const group = this.groups.get(key) ?? { firing: false, incident: '', firstEvaluatedMs: undefined, verdict: 'NONE' };
        this.groups.set(key, group);
        group.firstEvaluatedMs ??= t;
        const ratio = w.requests > 0 ? w.errors / w.requests : 0;
        const p99 = quantileOf(w.latencies, 0.99);
        const errorsFire = ratio > this.options.maxErrorRatio;
        // NaN (no other version serving) never fires.
        const latencyFires = p99 > this.options.maxP99OverFleet * fleetP99;
        const firing = errorsFire || latencyFires;
        const ts = isoTime(t);
        if (firing && !group.firing) {
          const signals = [...(errorsFire ? ['errors'] : []), ...(latencyFires ? ['latency'] : [])];
          const reason = errorsFire
            ? `5xx ratio ${(100 * ratio).toFixed(2)}% over 5m is above 1%`
            : `p99 ${p99.toFixed(0)} ms over 5m is above 1.5 x the fleet's ${fleetP99.toFixed(0)} ms`;
          group.incident = `threshold-${++this.incidents}`;
          this.emit({ type: 'page', ts, incident: group.incident, service, versions: [v.version], signals, severity: 'critical', summary: `${service} ${v.version}: ${reason}`, channels: [] });
        } else if (!firing && group.firing) {
          this.emit({ type: 'resolve', ts, incident: group.incident, service, reason: 'the rule stopped firing' });
        }
        group.firing = firing;
        if (!v.judged || v.retired || group.verdict === 'FAIL') continue;
        if (firing) {
          group.verdict = 'FAIL';
          this.emit({ type: 'verdict', ts, service, version: v.version, verdict: 'FAIL', reasons: [errorsFire ? `5xx ratio ${(100 * ratio).toFixed(2)}% over 5m is above 1%` : `p99 ${p99.toFixed(0)} ms is above 1.5 x the fleet's ${fleetP99.toFixed(0)} ms`] });
        } else if (group.verdict === 'NONE' && t - group.firstEvaluatedMs >= this.options.passAfterMs) {
          group.verdict = 'PASS';
          this.emit({ type: 'verdict', ts, service, version: v.version, verdict: 'PASS', reasons: ['the rule did not fire for 5 minutes'] });
        }
      }
    }
  }
}
