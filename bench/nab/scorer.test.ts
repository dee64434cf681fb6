/**
 * The scorer against the numbers NAB published (../shared/benchmarks/nab): ARTime's
 * per-row results must give its per-file score tables, its corpus thresholds
 * (thresholds.json) and its final scores (final_results.json) under all three
 * profiles; its per-row S(t) columns must be the scorer's row weights; the null detector
 * (a constant score) must give its tables; and every published detector's Totals must
 * normalise to its final score.
 *
 * Only ARTime's per-row results are in the published set; the other detectors come with
 * their score tables alone, written by NAB's earlier scorer (their thresholds are its
 * hill-climber's, their Total_Count counts the probationary rows too). So ARTime is the
 * row-by-row check, the null detector (a constant score by definition) a second one, and
 * for the others their totals and the normalisation are checked.
 *
 * Tolerances: 1e-9 on raw and final scores (sums of a few hundred floating-point terms,
 * added in another order than NAB adds them); counts and thresholds exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus, loadFinalResults, loadResults, loadScoreTable, resultsPath, type Corpus } from './corpus.js';
import { normalisedScore, optimiseThreshold, placeFile, probationaryLength, scaledSigmoid, scoreFile, scoreProfile, thresholdSweep, type PlacedFile, type ScoredFile } from './scorer.js';

const TOLERANCE = 1e-9;

let corpus: Corpus;
let placed: PlacedFile[];
let resultsDir: string;

beforeAll(() => {
  corpus = loadCorpus();
  placed = corpus.files.map((f) => placeFile(f));
  resultsDir = join(corpus.dir, 'results');
});

function thresholds(): Record<string, Record<string, { threshold: number; score: number }>> {
  return JSON.parse(readFileSync(join(corpus.dir, 'config', 'thresholds.json'), 'utf8')) as Record<string, Record<string, { threshold: number; score: number }>>;
}

describe('the scaled sigmoid and the probation', () => {
  it('rewards the left edge of a window most and costs most far after it', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3)).toBeCloseTo(-0.9999994, 6);
    expect(scaledSigmoid(3.01)).toBe(-1);
  });

  it('is 15% of a file, at most 750 rows', () => {
    expect(probationaryLength(4032)).toBe(604);
    expect(probationaryLength(15831)).toBe(750);
    expect(probationaryLength(1127)).toBe(169);
  });
});

describe('the corpus', () => {
  it('has the 58 files, 365,558 rows and 116 windows NAB scores', () => {
    expect(corpus.files).toHaveLength(58);
    expect(corpus.files.reduce((n, f) => n + f.values.length, 0)).toBe(365_558);
    expect(corpus.labelledWindows).toBe(116);
    expect(corpus.profiles.map((p) => p.name).sort()).toEqual(['reward_low_FN_rate', 'reward_low_FP_rate', 'standard']);
  });
});

describe('ARTime, the published per-row results', () => {
  let files: ScoredFile[];

  beforeAll(() => {
    const scores = loadResults(corpus, resultsDir, 'ARTime');
    files = placed.map((p, i) => ({ placed: p, anomalyScores: scores[i]! }));
  });

  it('gives each row the weight NAB wrote in its S(t) columns', () => {
    let compared = 0;
    for (const [k, file] of corpus.files.entries()) {
      const rows = parse(readFileSync(join(resultsDir, 'ARTime', resultsPath('ARTime', file.path)), 'utf8')) as string[][];
      const header = rows[0]!;
      for (const profile of corpus.profiles) {
        const col = header.indexOf(`S(t)_${profile.name}`);
        expect(col, `${file.path}: S(t)_${profile.name}`).toBeGreaterThan(0);
        const p = placed[k]!;
        let inside = 0;
        for (let i = 0; i < p.rows; i++) {
          const published = Number(rows[i + 1]![col]);
          // Inside a window the factor is a reward (positive), outside a cost (negative);
          // probationary rows carry theirs too, as NAB writes them.
          const isInside = p.sigmoid[i]! > 0;
          const weight = p.sigmoid[i]! * (isInside ? profile.costMatrix.tpWeight : profile.costMatrix.fpWeight);
          if (Math.abs(weight - published) > TOLERANCE) expect.fail(`${file.path} row ${i + 2} ${profile.name}: ${weight} vs published ${published}`);
          if (isInside) inside++;
          compared++;
        }
        expect(inside > 0 || file.windows.length === 0).toBe(true);
      }
    }
    expect(compared).toBe(3 * 365_558);
  });

  for (const profileName of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) {
    it(`finds the published threshold, per-file scores and final score under ${profileName}`, () => {
      const profile = corpus.profiles.find((p) => p.name === profileName)!;
      const result = scoreProfile(files, profile, corpus.labelledWindows);
      expect(result.threshold).toBe(thresholds().ARTime![profileName]!.threshold);
      expect(result.raw).toBeCloseTo(thresholds().ARTime![profileName]!.score, 9);

      const table = loadScoreTable(resultsDir, 'ARTime', profileName);
      expect(table.files).toHaveLength(58);
      for (const published of table.files) {
        const mine = result.files.find((f) => f.path === published.path);
        expect(mine, published.path).toBeDefined();
        expect(published.threshold).toBe(result.threshold);
        expect(Math.abs(mine!.score - published.score), `${published.path}: ${mine!.score} vs ${published.score}`).toBeLessThan(TOLERANCE);
        expect([mine!.tp, mine!.tn, mine!.fp, mine!.fn, mine!.total], published.path).toEqual([published.tp, published.tn, published.fp, published.fn, published.totalCount]);
      }
      expect(Math.abs(result.totals.score - table.totals.score)).toBeLessThan(TOLERANCE);
      expect([result.totals.tp, result.totals.tn, result.totals.fp, result.totals.fn, result.totals.total]).toEqual([table.totals.tp, table.totals.tn, table.totals.fp, table.totals.fn, table.totals.totalCount]);

      const published = loadFinalResults(resultsDir).ARTime![profileName]!;
      expect(Math.abs(result.score - published)).toBeLessThan(TOLERANCE);
    });
  }

  it('scores 74.85 standard', () => {
    const standard = corpus.profiles.find((p) => p.name === 'standard')!;
    expect(scoreProfile(files, standard, corpus.labelledWindows).score.toFixed(2)).toBe('74.85');
  });

  it('agrees between the corpus sweep and scoring each file at the chosen threshold', () => {
    const cost = corpus.profiles[0]!.costMatrix;
    const best = optimiseThreshold(files, cost);
    const sum = files.reduce((acc, f) => acc + scoreFile(f, best.threshold, cost).score, 0);
    expect(Math.abs(sum - best.score)).toBeLessThan(TOLERANCE);
    // A file alone: the sweep's entry at a threshold is that file scored at it.
    const one = files.find((f) => f.placed.path === 'realKnownCause/nyc_taxi.csv')!;
    for (const t of thresholdSweep([one], cost).slice(0, 40)) expect(Math.abs(scoreFile(one, t.threshold, cost).score - t.score)).toBeLessThan(TOLERANCE);
  });
});

describe('the null detector', () => {
  it('gives the published per-file tables: every window missed, nothing detected', () => {
    const files = placed.map((p) => ({ placed: p, anomalyScores: new Float64Array(p.rows).fill(0.5) }));
    for (const profile of corpus.profiles) {
      const result = scoreProfile(files, profile, corpus.labelledWindows);
      const table = loadScoreTable(resultsDir, 'null', profile.name);
      for (const published of table.files) {
        const mine = result.files.find((f) => f.path === published.path)!;
        expect(mine.score, published.path).toBe(published.score);
        expect([mine.tp, mine.tn, mine.fp, mine.fn], published.path).toEqual([published.tp, published.tn, published.fp, published.fn]);
      }
      expect(result.raw).toBe(table.totals.score);
      expect(result.score).toBe(0);
    }
  });
});

describe('the published scoreboard', () => {
  it('is every detector\'s Totals normalised between the null and the perfect detector', () => {
    const final = loadFinalResults(resultsDir);
    const checked: string[] = [];
    for (const [detector, byProfile] of Object.entries(final)) {
      const tables = corpus.profiles.map((p) => loadScoreTable(resultsDir, detector, p.name));
      // NAB's own `random` table covers 32 of the 58 files, not the run behind its final score.
      if (tables.some((t) => t.files.length !== 58)) continue;
      for (const [k, profile] of corpus.profiles.entries()) {
        const nullRaw = -profile.costMatrix.fnWeight * corpus.labelledWindows;
        const score = normalisedScore(tables[k]!.totals.score, nullRaw, profile.costMatrix.tpWeight * corpus.labelledWindows);
        expect(Math.abs(score - byProfile[profile.name]!), `${detector} ${profile.name}`).toBeLessThan(1e-6);
      }
      checked.push(detector);
    }
    expect(checked).toEqual(expect.arrayContaining(['ARTime', 'numenta', 'htmjava', 'windowedGaussian', 'null', 'contextOSE']));
    expect(checked).toHaveLength(Object.keys(final).length - 1);
  });
});
