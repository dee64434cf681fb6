/**
 * Vigil's self-history detector (rules/history.ts) over the Numenta Anomaly Benchmark,
 * for the results page and the `bench:nab` command.
 *
 * - `runNab(options?)` runs the detector over every corpus file (one parameter set for
 *   all), writes the per-row results and the per-file score tables in NAB's format
 *   under `.local/nab/results/vigil/`
 *   (with `writeResults: false`, nothing is written), scores them under the three
 *   profiles with this directory's scorer (scorer.ts, checked against NAB's published
 *   numbers in scorer.test.ts) and places Vigil among the published detectors of
 *   final_results.json. It resolves to a `NabSummary`: per profile Vigil's score and
 *   threshold, the scoreboard sorted by standard score with Vigil's place, the run time
 *   and the machine.
 * - `nabTable(summary)` renders the scoreboard as a Markdown table.
 * - `nabSvg(summary)` renders it as an SVG bar chart (standard score per detector, Vigil
 *   highlighted), plain SVG text with no browser or library needed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_HISTORY_OPTIONS, HistoryDetector, type HistoryFinding, type HistoryOptions } from '../../rules/history.js';
import { describeMachine, machineInfo } from '../harness.js';
import { DEFAULT_NAB_DIR, loadCorpus, loadFinalResults, repoRoot, writeResults, writeScoreTable } from './corpus.js';
import { placeFile, scoreProfile, type ProfileResult, type ScoredFile } from './scorer.js';

/** The name Vigil's results are filed under, as NAB names its detectors. */
export const VIGIL_DETECTOR = 'vigil';

/** Where the per-row results go (not committed). */
export const DEFAULT_RESULTS_DIR = join(repoRoot(), '.local', 'nab', 'results');

/** The three profiles in the order the scoreboard shows them. */
export const PROFILES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;
export type ProfileName = (typeof PROFILES)[number];

/** One detector's line of the scoreboard. */
export interface ScoreboardEntry {
  readonly detector: string;
  readonly scores: Readonly<Record<ProfileName, number>>;
  readonly vigil: boolean;
}

/** What a NAB run found. */
export interface NabSummary {
  /** Vigil's result per profile: final score, corpus threshold, raw score, windows detected of those scored, false positives. */
  readonly vigil: Readonly<Record<ProfileName, { readonly score: number; readonly threshold: number; readonly raw: number; readonly detectedWindows: number; readonly scoredWindows: number; readonly falsePositives: number }>>;
  /** Vigil and every published detector, best standard score first. */
  readonly scoreboard: readonly ScoreboardEntry[];
  /** Vigil's place on the standard score (1 = top) among `scoreboard.length` detectors. */
  readonly place: number;
  readonly files: number;
  readonly rows: number;
  readonly windows: number;
  /** Seconds spent running the detector, and in all (loading, detecting, writing, scoring). */
  readonly detectSeconds: number;
  readonly totalSeconds: number;
  readonly machine: string;
  readonly options: HistoryOptions;
  readonly resultsDir: string | undefined;
  /** What the detector's reported points were about, by finding. */
  readonly findings: Readonly<Record<HistoryFinding, number>>;
  /** Rows whose timestamp was earlier than the row before (judged at the latest time seen). */
  readonly steppedBack: number;
}

/** How runNab runs. */
export interface NabRunOptions {
  readonly nabDir?: string;
  readonly resultsDir?: string;
  /** False: score in memory and write nothing. */
  readonly writeResults?: boolean;
  readonly detector?: Partial<HistoryOptions>;
}

/** Runs the detector over the corpus, scores it under the three profiles and places it on the published scoreboard. */
export async function runNab(options: NabRunOptions = {}): Promise<NabSummary> {
  const started = performance.now();
  const nabDir = options.nabDir ?? DEFAULT_NAB_DIR;
  const corpus = loadCorpus(nabDir);
  const detectorOptions: HistoryOptions = { ...DEFAULT_HISTORY_OPTIONS, ...options.detector };
  const write = options.writeResults ?? true;
  const resultsDir = write ? (options.resultsDir ?? DEFAULT_RESULTS_DIR) : undefined;
  if (resultsDir !== undefined) mkdirSync(resultsDir, { recursive: true });

  let detectMs = 0;
  let steppedBack = 0;
  const findings: Record<HistoryFinding, number> = { spike: 0, shift: 0, spread: 0, rhythm: 0, range: 0, drift: 0 };
  const scored: ScoredFile[] = [];
  for (const file of corpus.files) {
    const t0 = performance.now();
    const detector = new HistoryDetector(detectorOptions);
    const scores = new Float64Array(file.values.length);
    const notes: string[][] = [];
    let clock = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < file.values.length; i++) {
      // A few files step back in time (clock changes, resent rows): rows are judged in file
      // order, as NAB feeds them, at the latest time seen so far.
      const t = file.timestampsMs[i]!;
      if (t < clock) steppedBack++;
      clock = Math.max(clock, t);
      const j = detector.judge(clock, file.values[i]!);
      scores[i] = j.score;
      if (j.reported) findings[j.finding]++;
      if (resultsDir !== undefined) notes.push([j.finding, j.surprise.toFixed(3), Number.isFinite(j.expected) ? String(j.expected) : '']);
    }
    detectMs += performance.now() - t0;
    if (resultsDir !== undefined) writeResults(resultsDir, VIGIL_DETECTOR, file, scores, { header: ['finding', 'surprise', 'expected'], rows: notes });
    scored.push({ placed: placeFile(file), anomalyScores: scores });
    // Yield between files so that a caller's event loop is not held for the whole run.
    await new Promise<void>((r) => setImmediate(r));
  }

  const results = new Map<ProfileName, ProfileResult>();
  for (const name of PROFILES) {
    const profile = corpus.profiles.find((p) => p.name === name);
    if (profile === undefined) throw new Error(`${nabDir}/config/profiles.json: no profile ${name}`);
    const result = scoreProfile(scored, profile, corpus.labelledWindows);
    results.set(name, result);
    if (resultsDir !== undefined) writeScoreTable(resultsDir, VIGIL_DETECTOR, name, result.files, { path: '', ...result.totals });
  }

  const vigil = Object.fromEntries(
    PROFILES.map((name) => {
      const r = results.get(name)!;
      const scoredWindows = scored.reduce((n, f) => n + f.placed.scoredWindows, 0);
      return [name, { score: r.score, threshold: r.threshold, raw: r.raw, detectedWindows: detectedWindows(scored, r.threshold), scoredWindows, falsePositives: r.totals.fp }];
    }),
  ) as NabSummary['vigil'];

  const published = loadFinalResults(join(nabDir, 'results'));
  const entries: ScoreboardEntry[] = Object.entries(published).map(([detector, byProfile]) => ({
    detector,
    scores: Object.fromEntries(PROFILES.map((p) => [p, byProfile[p] ?? Number.NaN])) as Record<ProfileName, number>,
    vigil: false,
  }));
  entries.push({ detector: VIGIL_DETECTOR, scores: Object.fromEntries(PROFILES.map((p) => [p, vigil[p].score])) as Record<ProfileName, number>, vigil: true });
  entries.sort((a, b) => b.scores.standard - a.scores.standard);
  const place = entries.findIndex((e) => e.vigil) + 1;

  return {
    vigil,
    scoreboard: entries,
    place,
    files: corpus.files.length,
    rows: corpus.files.reduce((n, f) => n + f.values.length, 0),
    windows: corpus.labelledWindows,
    detectSeconds: detectMs / 1000,
    totalSeconds: (performance.now() - started) / 1000,
    machine: describeMachine(machineInfo()),
    options: detectorOptions,
    resultsDir,
    findings,
    steppedBack,
  };
}

/** Windows with at least one detection at the threshold (outside the probation). */
function detectedWindows(files: readonly ScoredFile[], threshold: number): number {
  let n = 0;
  for (const f of files) {
    const hit = new Set<number>();
    for (let i = 0; i < f.placed.rows; i++) if (f.placed.windowOf[i]! >= 0 && f.anomalyScores[i]! >= threshold) hit.add(f.placed.windowOf[i]!);
    n += hit.size;
  }
  return n;
}

const PROFILE_TITLES: Record<ProfileName, string> = { standard: 'standard', reward_low_FP_rate: 'low FP', reward_low_FN_rate: 'low FN' };

/** The scoreboard as a Markdown table: place, detector, the three profiles' scores; Vigil in bold. */
export function nabTable(summary: NabSummary): string {
  const lines = [`| # | detector | ${PROFILES.map((p) => PROFILE_TITLES[p]).join(' | ')} |`, `|---|---|${PROFILES.map(() => '---:').join('|')}|`];
  summary.scoreboard.forEach((e, i) => {
    const name = e.vigil ? `**Vigil (self-history)**` : e.detector;
    const cells = PROFILES.map((p) => (Number.isFinite(e.scores[p]) ? (e.vigil ? `**${e.scores[p].toFixed(1)}**` : e.scores[p].toFixed(1)) : '-'));
    lines.push(`| ${i + 1} | ${name} | ${cells.join(' | ')} |`);
  });
  return lines.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The scoreboard as an SVG bar chart of the standard scores, Vigil's bar highlighted. */
export function nabSvg(summary: NabSummary): string {
  const rowHeight = 22;
  const left = 150;
  const barMax = 420;
  const top = 40;
  const width = left + barMax + 70;
  const height = top + summary.scoreboard.length * rowHeight + 30;
  const scale = (v: number): number => (Math.max(0, Math.min(100, v)) / 100) * barMax;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>NAB scoreboard, standard profile</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">NAB score, standard profile (0 = null detector, 100 = perfect)</text>`,
  ];
  for (let tick = 0; tick <= 100; tick += 25) {
    const x = left + scale(tick);
    parts.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${height - 24}" stroke="#dddddd"/>`, `<text x="${x}" y="${height - 10}" text-anchor="middle" fill="#666666">${tick}</text>`);
  }
  summary.scoreboard.forEach((e, i) => {
    const y = top + i * rowHeight;
    const v = e.scores.standard;
    const label = e.vigil ? 'Vigil (self-history)' : e.detector;
    parts.push(
      `<text x="${left - 8}" y="${y + 14}" text-anchor="end"${e.vigil ? ' font-weight="bold"' : ''}>${escapeXml(label)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${scale(v).toFixed(1)}" height="${rowHeight - 6}" fill="${e.vigil ? '#d9480f' : '#4c6ef5'}"/>`,
      `<text x="${(left + scale(v) + 5).toFixed(1)}" y="${y + 14}"${e.vigil ? ' font-weight="bold"' : ''}>${Number.isFinite(v) ? v.toFixed(1) : '-'}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
