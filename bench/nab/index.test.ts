/**
 * The NAB run end to end: the detector over the whole corpus, its per-row results written
 * in NAB's format and read back, the scoreboard, the table and the chart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus, loadResults, loadScoreTable } from './corpus.js';
import { nabSvg, nabTable, PROFILES, runNab, VIGIL_DETECTOR, type NabSummary } from './index.js';
import { placeFile, scoreProfile } from './scorer.js';

let dir: string;
let summary: NabSummary;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-nab-'));
  summary = await runNab({ resultsDir: dir });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runNab', () => {
  it('scores the whole corpus and places Vigil among the published detectors', () => {
    expect(summary.files).toBe(58);
    expect(summary.rows).toBe(365_558);
    expect(summary.scoreboard.map((e) => e.detector)).toEqual(expect.arrayContaining(['ARTime', 'numenta', 'null', VIGIL_DETECTOR]));
    const standard = summary.scoreboard.map((e) => e.scores.standard);
    expect(standard).toEqual([...standard].sort((a, b) => b - a));
    expect(summary.scoreboard[summary.place - 1]!.vigil).toBe(true);
    // A guard against regressions of the detector: the last run scored 68.7 standard.
    expect(summary.vigil.standard.score).toBeGreaterThan(68);
    for (const p of PROFILES) expect(summary.vigil[p].detectedWindows).toBeLessThanOrEqual(summary.vigil[p].scoredWindows);
  });

  it('writes per-row results and score tables in NAB\'s format that score the same when read back', () => {
    const corpus = loadCorpus();
    const scores = loadResults(corpus, dir, VIGIL_DETECTOR);
    const files = corpus.files.map((f, i) => ({ placed: placeFile(f), anomalyScores: scores[i]! }));
    for (const p of PROFILES) {
      const again = scoreProfile(files, corpus.profiles.find((x) => x.name === p)!, corpus.labelledWindows);
      expect(again.score).toBeCloseTo(summary.vigil[p].score, 9);
      expect(again.threshold).toBe(summary.vigil[p].threshold);
      const table = loadScoreTable(dir, VIGIL_DETECTOR, p);
      expect(table.files).toHaveLength(58);
      expect(table.totals.score).toBeCloseTo(summary.vigil[p].raw, 9);
      expect(table.totals.fp).toBe(summary.vigil[p].falsePositives);
    }
  });

  it('renders the scoreboard as a table and as an SVG bar chart', () => {
    const table = nabTable(summary).split('\n');
    expect(table).toHaveLength(2 + summary.scoreboard.length);
    expect(table.find((l) => l.includes('Vigil'))).toContain(`**${summary.vigil.standard.score.toFixed(1)}**`);
    const svg = nabSvg(summary);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(summary.scoreboard.length);
    expect(svg).toContain('fill="#d9480f"'); // Vigil's bar, in its own colour
    expect(svg).toContain(`>${summary.vigil.standard.score.toFixed(1)}<`);
  });
});
