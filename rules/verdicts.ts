/**
 * Judgments: the verdict of one version, from NONE through PASS to FAIL. A finding must
 * hold without a break for `persistMs` (or its series' change detector be past its bound)
 * before it fails a release; a failed release stays
 * failed (release tools roll back on FAIL, and a verdict that flips back would undo that).
 */
import type { Verdict } from './decisions.js';
import type { Effect, Signal } from './judge.js';
import { JudgeState } from './judge.js';

/** Why a version is being judged. */
export type JudgmentKind = 'canary' | 'rollout';

/** A finding that held in an evaluation, with the time it was first seen in this run of evaluations. */
export interface ActiveFinding {
  readonly key: string;
  readonly signal: Signal;
  readonly route: string | undefined;
  effect: Effect;
  p: number;
  /** Event time the finding started holding without a break, and the slice it was first seen in. */
  sinceTs: number;
  sinceSlot: number;
  /** The test on new slices alone (see Candidate.confirmLR). */
  confirmLR: ((slot: number) => number) | undefined;
  /** Event time of the last evaluation where it held. */
  lastTs: number;
  /** True once it held for the persistence time. */
  confirmed: boolean;
}

/** The judgment of one version of one service. */
export class Judgment {
  verdict: Verdict | undefined;
  readonly findings = new Map<string, ActiveFinding>();
  /** True once the version left (rolled back, finished, promoted): no more judging. */
  ended = false;
  /** True while a fleet-wide rise of errors has been reported and not yet ended. */
  fleetWideNoted = false;
  state = new JudgeState('', 0);
  /** Requests and other samples seen by the judge so far (the evidence). */
  evidence = 0;
  baselineEvidence = 0;
  comparedWith = '';
  reasons: readonly string[] = [];

  constructor(
    readonly service: string,
    readonly version: string,
    readonly kind: JudgmentKind,
    public startTs: number,
    public release: string | undefined,
  ) {}

  /** The findings that failed (or would fail) the release, strongest first. */
  confirmedFindings(): ActiveFinding[] {
    return [...this.findings.values()].filter((f) => f.confirmed).sort(byStrength);
  }

  /** Every finding holding now, strongest first. */
  activeFindings(): ActiveFinding[] {
    return [...this.findings.values()].sort(byStrength);
  }
}

function byStrength(a: ActiveFinding, b: ActiveFinding): number {
  return a.p - b.p || b.effect.magnitude - a.effect.magnitude || (a.key < b.key ? -1 : 1);
}

/** Human words for a duration. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const m = ms / 60_000;
  return `${m < 10 ? (Math.round(m * 2) / 2).toString() : Math.round(m).toString()} min`;
}

/** Names of signals as people say them. */
export const SIGNAL_WORDS: Readonly<Record<Signal, string>> = {
  errors: 'error ratio',
  latency: 'latency',
  'latency-tail': 'tail latency',
  'new-error': 'new errors',
  metric: 'metrics',
};
