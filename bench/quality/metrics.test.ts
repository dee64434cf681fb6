import { describe, expect, it } from 'vitest';
import type { ScenarioLabels } from '../../simulate/labels.js';
import { cellStats, detectionRate, failTimings, falsePagesPer100, nearestRank, pagesPerIncident, totalsOf, verdictAccuracy, type ScoredCase } from './metrics.js';
import type { ScoreResult } from './score.js';

const ONSET = '2026-11-18T11:16:40.000Z';
const onsetMs = Date.parse(ONSET);

function score(o: Partial<ScoreResult>): ScoreResult {
  return { scenario: 's', regressions: 0, detected: 0, duplicates: 0, false_pages: 0, late_pages: 0, pages: 0, delays_s: [], verdicts_ok: 0, verdicts: 0, verdict_detail: {}, pass: false, ...o };
}

const regressed: ScenarioLabels = {
  scenario: 'r',
  events: 1,
  regressions: [{ service: 'checkout', versions: ['v42-a', 'v42-b'], onset: ONSET, deadline_s: 300, signal: 'errors' }],
  verdicts: { 'checkout/v42-a': ['FAIL'], 'checkout/v42-b': ['FAIL'], 'checkout/v43': ['PASS'] },
};
const clean: ScenarioLabels = { scenario: 'c', events: 1, regressions: [], verdicts: { 'checkout/v42': ['PASS', 'NONE'] } };

describe('totalsOf and the rates', () => {
  const cases: ScoredCase[] = [
    // One incident of two canaries paged twice (a duplicate), one clean sibling never failed.
    { labels: regressed, score: score({ regressions: 1, detected: 1, duplicates: 1, pages: 2, delays_s: [120], verdicts: 3, verdicts_ok: 3 }), firstFailMs: { 'checkout/v42-a': onsetMs + 1000 } },
    // A clean release failed and falsely paged.
    { labels: clean, score: score({ false_pages: 1, pages: 1, verdicts: 1, verdicts_ok: 0 }), firstFailMs: { 'checkout/v42': onsetMs } },
    { labels: clean, score: score({ verdicts: 1, verdicts_ok: 1, pass: true }), firstFailMs: {} },
    { labels: regressed, score: score({ regressions: 1, detected: 0, late_pages: 1, pages: 1, verdicts: 3, verdicts_ok: 2 }), firstFailMs: {} },
  ];
  const t = totalsOf(cases);

  it('adds up what the scorer counted', () => {
    expect(t).toMatchObject({ cases: 4, passed: 1, regressions: 2, detected: 1, duplicates: 1, latePages: 1, falsePages: 1, pages: 4, verdicts: 8, verdictsOk: 6 });
    expect(t.delaysS).toEqual([120]);
  });

  it('counts clean releases from the labels and false FAILs from the first FAILs', () => {
    // v43 twice (allowed PASS only) and v42 twice (PASS or NONE); only one v42 was failed.
    expect(t.cleanReleases).toBe(4);
    expect(t.falseFails).toBe(1);
  });

  it('derives the rates', () => {
    expect(detectionRate(t)).toBe(0.5);
    expect(pagesPerIncident(t)).toBe(2);
    expect(falsePagesPer100(t)).toBe(25);
    expect(verdictAccuracy(t)).toBe(0.75);
  });

  it('gives NaN, not a number, for rates over nothing', () => {
    const none = totalsOf([]);
    expect(detectionRate(none)).toBeNaN();
    expect(pagesPerIncident(none)).toBeNaN();
    expect(falsePagesPer100(none)).toBeNaN();
  });
});

describe('time to FAIL', () => {
  it('tells a FAIL after the onset from one before it and from none', () => {
    expect(failTimings(regressed, { 'checkout/v42-a': onsetMs + 90_000, 'checkout/v42-b': onsetMs - 10_000 })).toEqual([
      { kind: 'caught', afterOnsetMs: 90_000 },
      { kind: 'early', beforeOnsetMs: 10_000 },
    ]);
    expect(failTimings(regressed, {})).toEqual([{ kind: 'missed' }, { kind: 'missed' }]);
  });

  it('takes the median with misses and early FAILs as never caught', () => {
    const s = cellStats([
      { kind: 'caught', afterOnsetMs: 60_000 },
      { kind: 'caught', afterOnsetMs: 400_000 },
      { kind: 'missed' },
      { kind: 'early', beforeOnsetMs: 5_000 },
      { kind: 'caught', afterOnsetMs: 200_000 },
    ]);
    expect(s).toEqual({ runs: 5, caught: 3, early: 1, caughtWithin5Min: 2, medianMs: 400_000 });
    expect(cellStats([{ kind: 'caught', afterOnsetMs: 1 }, { kind: 'missed' }]).medianMs).toBe(1);
    expect(cellStats([{ kind: 'missed' }, { kind: 'caught', afterOnsetMs: 1 }, { kind: 'missed' }]).medianMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('nearestRank picks the smallest value with at least q of the values at or below it', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRank(sorted, 0.5)).toBe(5);
    expect(nearestRank(sorted, 0.9)).toBe(9);
    expect(nearestRank(sorted, 1)).toBe(10);
    expect(nearestRank([], 0.5)).toBeNaN();
  });
});
