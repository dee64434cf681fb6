/**
 * The arithmetic of the quality report: totals over scored cases, the rates shown in the
 * tables, and time to FAIL on the power grid. Pure functions of the scorer's results,
 * the labels and the first FAIL of each version, so they are tested on their own.
 */
import type { ScenarioLabels } from '../../simulate/labels.js';
import type { ScoreResult } from './score.js';

/** One judge's outcome on one case, as the metrics need it. */
export interface ScoredCase {
  readonly labels: ScenarioLabels;
  readonly score: ScoreResult;
  /** First FAIL verdict's event time per `service/version`. */
  readonly firstFailMs: Readonly<Record<string, number>>;
}

/** Sums over a set of cases for one judge. */
export interface Totals {
  readonly cases: number;
  readonly passed: number;
  readonly regressions: number;
  readonly detected: number;
  readonly duplicates: number;
  readonly latePages: number;
  readonly falsePages: number;
  readonly pages: number;
  /** Seconds from onset to the first page in time, sorted. */
  readonly delaysS: readonly number[];
  readonly verdicts: number;
  readonly verdictsOk: number;
  /** Releases whose labels do not allow FAIL. */
  readonly cleanReleases: number;
  /** Clean releases that got a FAIL at any time. */
  readonly falseFails: number;
}

/** Whether a label's allowed verdicts make a release one that must never fail. */
function isClean(allowed: readonly string[]): boolean {
  return !allowed.includes('FAIL');
}

/** Adds up the scorer's results and the false FAILs of a set of cases. */
export function totalsOf(cases: readonly ScoredCase[]): Totals {
  let passed = 0;
  let regressions = 0;
  let detected = 0;
  let duplicates = 0;
  let latePages = 0;
  let falsePages = 0;
  let pages = 0;
  let verdicts = 0;
  let verdictsOk = 0;
  let cleanReleases = 0;
  let falseFails = 0;
  const delaysS: number[] = [];
  for (const c of cases) {
    const s = c.score;
    if (s.pass) passed++;
    regressions += s.regressions;
    detected += s.detected;
    duplicates += s.duplicates;
    latePages += s.late_pages;
    falsePages += s.false_pages;
    pages += s.pages;
    verdicts += s.verdicts;
    verdictsOk += s.verdicts_ok;
    delaysS.push(...s.delays_s);
    for (const [key, allowed] of Object.entries(c.labels.verdicts)) {
      if (!isClean(allowed)) continue;
      cleanReleases++;
      if (c.firstFailMs[key] !== undefined) falseFails++;
    }
  }
  delaysS.sort((a, b) => a - b);
  return { cases: cases.length, passed, regressions, detected, duplicates, latePages, falsePages, pages, delaysS, verdicts, verdictsOk, cleanReleases, falseFails };
}

/** The nearest-rank `q` quantile of sorted values: the smallest value with at least q of them at or below it. */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Regressions paged within their deadline, of all regressions. */
export function detectionRate(t: Totals): number {
  return t.regressions === 0 ? Number.NaN : t.detected / t.regressions;
}

/** Pages within the deadline per regression caught: 1 is one page per incident. */
export function pagesPerIncident(t: Totals): number {
  return t.detected === 0 ? Number.NaN : (t.detected + t.duplicates) / t.detected;
}

/** False pages (as the scorer counts them) per 100 clean releases judged. */
export function falsePagesPer100(t: Totals): number {
  return t.cleanReleases === 0 ? Number.NaN : (100 * t.falsePages) / t.cleanReleases;
}

/** Releases whose verdicts the scorer accepts, of all labelled releases. */
export function verdictAccuracy(t: Totals): number {
  return t.verdicts === 0 ? Number.NaN : t.verdictsOk / t.verdicts;
}

/** How a regressed release was failed: after its onset, before it (a false FAIL), or not at all. */
export type FailTiming = { readonly kind: 'caught'; readonly afterOnsetMs: number } | { readonly kind: 'early'; readonly beforeOnsetMs: number } | { readonly kind: 'missed' };

/** The FAIL timing of every version named by a case's regressions. */
export function failTimings(labels: ScenarioLabels, firstFailMs: Readonly<Record<string, number>>): FailTiming[] {
  const out: FailTiming[] = [];
  for (const r of labels.regressions) {
    const onset = Date.parse(r.onset);
    for (const version of r.versions) {
      const failed = firstFailMs[`${r.service}/${version}`];
      if (failed === undefined) out.push({ kind: 'missed' });
      else if (failed < onset) out.push({ kind: 'early', beforeOnsetMs: onset - failed });
      else out.push({ kind: 'caught', afterOnsetMs: failed - onset });
    }
  }
  return out;
}

/** Time to FAIL over the runs of one power-grid cell. */
export interface CellStats {
  readonly runs: number;
  readonly caught: number;
  /** FAILed before the regression began: counted as not caught. */
  readonly early: number;
  readonly caughtWithin5Min: number;
  /** Median time to FAIL with misses as infinitely late: Infinity when half or more were missed. */
  readonly medianMs: number;
}

/** Summarises FAIL timings; the median treats a miss or an early FAIL as never caught. */
export function cellStats(timings: readonly FailTiming[]): CellStats {
  const times = timings.map((t) => (t.kind === 'caught' ? t.afterOnsetMs : Number.POSITIVE_INFINITY)).sort((a, b) => a - b);
  return {
    runs: timings.length,
    caught: timings.filter((t) => t.kind === 'caught').length,
    early: timings.filter((t) => t.kind === 'early').length,
    caughtWithin5Min: timings.filter((t) => t.kind === 'caught' && t.afterOnsetMs <= 5 * 60_000).length,
    medianMs: nearestRank(times, 0.5),
  };
}
