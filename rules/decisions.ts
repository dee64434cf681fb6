/**
 * The engine's output records (contract section 2). Field names and order are part of
 * the contract: a replay of the same input must give byte-identical output.
 */
import type { AlertRef } from './alerts.js';

/** Verdict values a release tool acts on. */
export type Verdict = 'PASS' | 'FAIL' | 'NONE';

/** How urgent a page is. */
export type Severity = 'critical' | 'warning' | 'info';

/** A human is notified of a new incident; exactly one per incident. */
export interface PageDecision {
  readonly type: 'page';
  readonly ts: string;
  readonly incident: string;
  readonly service: string;
  readonly versions: readonly string[];
  readonly signals: readonly string[];
  readonly severity: Severity;
  readonly summary: string;
  readonly channels: readonly string[];
  readonly release?: string;
  readonly reasons?: readonly string[];
  /** Monitoring-system alerts folded into the incident by this record (at most 50). */
  readonly alerts?: readonly AlertRef[];
}

/** New evidence for an open incident; threads under its page. */
export interface UpdateDecision {
  readonly type: 'update';
  readonly ts: string;
  readonly incident: string;
  readonly service: string;
  readonly versions: readonly string[];
  readonly signals: readonly string[];
  readonly summary: string;
  readonly reasons?: readonly string[];
  /** Monitoring-system alerts folded in by this update (at most 50). */
  readonly alerts?: readonly AlertRef[];
  /** Set when the update only corroborates what was told: it is recorded and published, but no channel is told. */
  readonly quiet?: 'corroborating';
}

/** The incident ended. */
export interface ResolveDecision {
  readonly type: 'resolve';
  readonly ts: string;
  readonly incident: string;
  readonly service: string;
  readonly reason: string;
}

/** Evidence behind a verdict, in numbers. */
export interface VerdictEvidence {
  readonly canaryRequests: number;
  readonly baselineRequests: number;
  readonly comparedWith: string;
  readonly windowStart: string;
  readonly windowEnd: string;
}

/** The judgment of one release version, emitted when it changes. */
export interface VerdictDecision {
  readonly type: 'verdict';
  readonly ts: string;
  readonly service: string;
  readonly version: string;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  readonly score?: number;
  readonly evidence?: VerdictEvidence;
  readonly release?: string;
}

/** Something that would have paged and did not, with the reason. */
export interface SuppressedDecision {
  readonly type: 'suppressed';
  readonly ts: string;
  readonly incident?: string;
  readonly service?: string;
  readonly versions?: readonly string[];
  readonly what: string;
  readonly why: SuppressionReason;
  readonly detail?: string;
}

/** Why something did not page. */
export type SuppressionReason = 'duplicate' | 'inhibited' | 'silenced' | 'flapping' | 'transient' | 'fleet-wide' | 'unattributed' | 'maintenance';

/** Any output record. */
export type Decision = PageDecision | UpdateDecision | ResolveDecision | VerdictDecision | SuppressedDecision;

/** ISO-8601 text of an event time in epoch milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
