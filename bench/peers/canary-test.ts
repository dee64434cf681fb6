/**
 * A reference judge that tests each new release against the rest of its service the
 * plain way: every closed minute of event time, a one-sided two-proportion z-test of the
 * canary's 5xx ratio against the comparison's, and a one-sided Mann-Whitney test of its
 * latencies against the comparison's; the first p below 0.05 fails the release and pages
 * for it. No stratification by time or route, no effect floor, no persistence, no
 * correction for looking every minute. The comparison is every version of the service
 * that is not itself a new release (the stable fleet, and the baseline when there is
 * one). A release passes after five tested minutes without a failure.
 */
import { errorFunction, wilcoxonRankSum } from 'simple-statistics';
import { isoTime, type Decision, type Verdict } from '../../rules/decisions.js';
import type { VigilEvent } from '../../rules/events.js';
import { PeerInput } from './traffic.js';

/** The test's settings; the defaults are the test above. */
export interface CanaryTestOptions {
  readonly windowMs: number;
  readonly alpha: number;
  /** Tested windows without a failure before a release passes. */
  readonly passAfterWindows: number;
}

/** The plain test as the comparison specifies it. */
export const DEFAULT_CANARY_TEST: CanaryTestOptions = { windowMs: 60_000, alpha: 0.05, passAfterWindows: 5 };

/** The standard normal upper tail; simple-statistics' table lookup stops at 0.001, erf does not. */
function upperTail(z: number): number {
  return 0.5 * (1 - errorFunction(z / Math.SQRT2));
}

/** One-sided p-value that the first ratio is higher (pooled two-proportion z-test); 1 when there is nothing to test. */
export function twoProportionP(errorsA: number, requestsA: number, errorsB: number, requestsB: number): number {
  if (requestsA <= 0 || requestsB <= 0) return 1;
  const pooled = (errorsA + errorsB) / (requestsA + requestsB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / requestsA + 1 / requestsB));
  if (!(se > 0)) return 1;
  const z = (errorsA / requestsA - errorsB / requestsB) / se;
  return upperTail(z);
}

/** One-sided p-value that the first sample is larger (Mann-Whitney U, normal approximation); 1 when either is empty. */
export function mannWhitneyP(a: readonly number[], b: readonly number[]): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return 1;
  const u = wilcoxonRankSum([...a], [...b]) - (n1 * (n1 + 1)) / 2;
  const sd = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  return upperTail((u - (n1 * n2) / 2) / sd);
}

interface ReleaseState {
  verdict: Verdict;
  tested: number;
}

/** The plain canary-vs-stable test over a stream of events, emitting decisions in the contract's format. */
export class CanaryTestJudge {
  private readonly input: PeerInput;
  private readonly releases = new Map<string, ReleaseState>();
  private incidents = 0;

  constructor(
    private readonly emit: (d: Decision) => void,
    private readonly options: CanaryTestOptions = DEFAULT_CANARY_TEST,
  ) {
    this.input = new PeerInput(options.windowMs, (t) => this.evaluate(t));
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
      const comparison = this.input.slices.window(service, versions.filter((v) => !v.judged).map((v) => v.version), from, t);
      if (comparison.requests === 0 && comparison.latencies.length === 0) continue;
      for (const v of versions) {
        if (!v.judged || v.retired) continue;
        const key = `${service}\u0000${v.version}`;
        const state = this.releases.get(key) ?? { verdict: 'NONE', tested: 0 };
        this.releases.set(key, state);
        if (state.verdict === 'FAIL') continue;
        const w = this.input.slices.window(service, [v.version], from, t);
        if (w.requests === 0 && w.latencies.length === 0) continue;
        state.tested++;
        const errorsP = twoProportionP(w.errors, w.requests, comparison.errors, comparison.requests);
        const latencyP = mannWhitneyP(w.latencies, comparison.latencies);
        const ts = isoTime(t);
        const reasons: string[] = [];
        if (errorsP < this.options.alpha) {
          reasons.push(`5xx ratio ${pct(w.errors, w.requests)} vs ${pct(comparison.errors, comparison.requests)} in the last minute (p=${errorsP.toPrecision(2)})`);
        }
        if (latencyP < this.options.alpha) reasons.push(`latency higher than the comparison's in the last minute (Mann-Whitney p=${latencyP.toPrecision(2)})`);
        if (reasons.length > 0) {
          state.verdict = 'FAIL';
          const signals = [...(errorsP < this.options.alpha ? ['errors'] : []), ...(latencyP < this.options.alpha ? ['latency'] : [])];
          this.emit({ type: 'page', ts, incident: `canary-test-${++this.incidents}`, service, versions: [v.version], signals, severity: 'critical', summary: `${service} ${v.version} failed its canary test`, channels: [], reasons });
          this.emit({ type: 'verdict', ts, service, version: v.version, verdict: 'FAIL', reasons });
        } else if (state.verdict === 'NONE' && state.tested >= this.options.passAfterWindows) {
          state.verdict = 'PASS';
          this.emit({ type: 'verdict', ts, service, version: v.version, verdict: 'PASS', reasons: [`no difference at p<${this.options.alpha} in ${state.tested} tested minutes`] });
        }
      }
    }
  }
}

function pct(errors: number, requests: number): string {
  return requests > 0 ? `${((100 * errors) / requests).toFixed(2)}%` : '-';
}
