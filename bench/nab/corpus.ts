/**
 * Reading and writing the NAB corpus and its results in NAB's own layout:
 *
 *   data/<category>/<name>.csv                    timestamp,value
 *   labels/combined_windows.json                  { "<category>/<name>.csv": [[start, end], ...] }
 *   config/profiles.json                          { profile: { CostMatrix: {...} } }
 *   results/<detector>/<category>/<detector>_<name>.csv   timestamp,value,anomaly_score,label,...
 *   results/<detector>/<detector>_<profile>_scores.csv    Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count
 *   results/final_results.json                    { detector: { profile: score } }
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { AnomalyWindow, LabelledFile, Profile } from './scorer.js';

/** The repository's root: the nearest directory above this module with a package.json (the same from bench/ and from dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** Where the corpus lives beside the repository (read-only): ../shared/benchmarks/nab. */
export const DEFAULT_NAB_DIR = resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nab');

/** One data file: its labelled view for the scorer and its values for a detector. */
export interface CorpusFile extends LabelledFile {
  /** The timestamps as written in the file, for the results files. */
  readonly timestampText: readonly string[];
  readonly values: Float64Array;
}

/** The whole corpus: every data file with its windows, the profiles, and the number of labelled windows. */
export interface Corpus {
  readonly dir: string;
  readonly files: readonly CorpusFile[];
  readonly profiles: readonly Profile[];
  readonly labelledWindows: number;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Milliseconds since the epoch of a NAB timestamp (`2014-07-01 00:30:00`, optionally with fractional seconds), read as UTC. */
export function parseTimestamp(text: string, where: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) throw new Error(`${where}: timestamp ${JSON.stringify(text)} is not YYYY-MM-DD HH:MM:SS[.ffffff]`);
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + (frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000));
  if (Number.isNaN(ms)) throw new Error(`${where}: timestamp ${JSON.stringify(text)} is not a date`);
  return ms;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new Error(`${path}: cannot read JSON (${(cause as Error).message})`, { cause });
  }
}

function readCsv(path: string): string[][] {
  try {
    return parse(readFileSync(path, 'utf8'), { skip_empty_lines: true, trim: true }) as string[][];
  } catch (cause) {
    throw new Error(`${path}: cannot read CSV (${(cause as Error).message})`, { cause });
  }
}

function column(header: readonly string[], name: string, path: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new Error(`${path}: no column ${JSON.stringify(name)} (header: ${header.join(',')})`);
  return i;
}

function numberAt(row: readonly string[], i: number, path: string, line: number, name: string): number {
  const text = row[i];
  const v = text === undefined || text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(v)) throw new Error(`${path}: line ${line}: ${name} ${JSON.stringify(text)} is not a number`);
  return v;
}

function readProfiles(path: string): Profile[] {
  const raw = readJson(path);
  if (typeof raw !== 'object' || raw === null) throw new Error(`${path}: expected an object of profiles`);
  return Object.entries(raw as Record<string, unknown>).map(([name, body]) => {
    const cm = (body as { CostMatrix?: Record<string, unknown> } | null)?.CostMatrix;
    const weight = (key: string): number => {
      const v = cm?.[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${path}: profile ${name}: CostMatrix.${key} must be a number`);
      return v;
    };
    return { name, costMatrix: { tpWeight: weight('tpWeight'), fpWeight: weight('fpWeight'), fnWeight: weight('fnWeight'), tnWeight: weight('tnWeight') } };
  });
}

function readWindows(path: string): Map<string, AnomalyWindow[]> {
  const raw = readJson(path);
  if (typeof raw !== 'object' || raw === null) throw new Error(`${path}: expected an object of windows by file`);
  const out = new Map<string, AnomalyWindow[]>();
  for (const [file, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new Error(`${path}: ${file}: expected a list of [start, end]`);
    out.set(
      file,
      list.map((pair: unknown, k) => {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
          throw new Error(`${path}: ${file}: window ${k} is not [start, end]`);
        }
        return { startMs: parseTimestamp(pair[0], `${path}: ${file}`), endMs: parseTimestamp(pair[1], `${path}: ${file}`) };
      }),
    );
  }
  return out;
}

/** Loads the corpus: every file named in combined_windows.json, its rows, and the profiles. */
export function loadCorpus(dir = DEFAULT_NAB_DIR): Corpus {
  if (!existsSync(join(dir, 'data'))) throw new Error(`${dir}: no NAB corpus here (expected data/, labels/, config/)`);
  const windows = readWindows(join(dir, 'labels', 'combined_windows.json'));
  const profiles = readProfiles(join(dir, 'config', 'profiles.json'));
  const files: CorpusFile[] = [];
  let labelledWindows = 0;
  for (const [path, list] of [...windows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const full = join(dir, 'data', path);
    const rows = readCsv(full);
    const header = rows[0] ?? [];
    const ti = column(header, 'timestamp', full);
    const vi = column(header, 'value', full);
    const n = rows.length - 1;
    const timestampsMs = new Float64Array(n);
    const values = new Float64Array(n);
    const timestampText: string[] = [];
    for (let r = 1; r <= n; r++) {
      const row = rows[r]!;
      const text = row[ti] ?? '';
      timestampText.push(text);
      timestampsMs[r - 1] = parseTimestamp(text, `${full}: line ${r + 1}`);
      values[r - 1] = numberAt(row, vi, full, r + 1, 'value');
    }
    labelledWindows += list.length;
    files.push({ path, timestampsMs, timestampText, values, windows: list });
  }
  return { dir, files, profiles, labelledWindows };
}

/** The results file of one data file: `<category>/<detector>_<name>.csv`. */
export function resultsPath(detector: string, dataPath: string): string {
  const slash = dataPath.lastIndexOf('/');
  return `${dataPath.slice(0, slash + 1)}${detector}_${dataPath.slice(slash + 1)}`;
}

/** Reads a detector's per-row results for every corpus file (column anomaly_score), checking they line up with the data. */
export function loadResults(corpus: Corpus, resultsDir: string, detector: string): Float64Array[] {
  return corpus.files.map((f) => {
    const full = join(resultsDir, detector, resultsPath(detector, f.path));
    if (!existsSync(full)) throw new Error(`${full}: missing (results of ${detector} for ${f.path})`);
    const rows = readCsv(full);
    const header = rows[0] ?? [];
    const si = column(header, 'anomaly_score', full);
    const ti = column(header, 'timestamp', full);
    if (rows.length - 1 !== f.values.length) throw new Error(`${full}: ${rows.length - 1} rows, the data file has ${f.values.length}`);
    const scores = new Float64Array(rows.length - 1);
    for (let r = 1; r < rows.length; r++) {
      const row = rows[r]!;
      if (parseTimestamp(row[ti] ?? '', `${full}: line ${r + 1}`) !== f.timestampsMs[r - 1]) {
        throw new Error(`${full}: line ${r + 1}: timestamp ${row[ti]} differs from the data file's ${f.timestampText[r - 1]}`);
      }
      scores[r - 1] = numberAt(row, si, full, r + 1, 'anomaly_score');
    }
    return scores;
  });
}

/** One row of a published per-file score table. */
export interface PublishedFileScore {
  readonly path: string;
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
  readonly totalCount: number;
}

/** A published `<detector>_<profile>_scores.csv`: its per-file rows and its Totals row. */
export interface PublishedTable {
  readonly files: readonly PublishedFileScore[];
  readonly totals: PublishedFileScore;
}

/** Reads a published per-file score table. */
export function loadScoreTable(resultsDir: string, detector: string, profile: string): PublishedTable {
  const full = join(resultsDir, detector, `${detector}_${profile}_scores.csv`);
  const rows = readCsv(full);
  const header = rows[0] ?? [];
  const idx = (name: string): number => column(header, name, full);
  const [fi, thi, si, tpi, tni, fpi, fni, ci] = ['File', 'Threshold', 'Score', 'TP', 'TN', 'FP', 'FN', 'Total_Count'].map(idx) as [number, number, number, number, number, number, number, number];
  const files: PublishedFileScore[] = [];
  let totals: PublishedFileScore | undefined;
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!;
    const isTotals = row[0] === 'Totals';
    const entry: PublishedFileScore = {
      path: row[fi] ?? '',
      threshold: isTotals ? Number.NaN : numberAt(row, thi, full, r + 1, 'Threshold'),
      score: numberAt(row, si, full, r + 1, 'Score'),
      tp: numberAt(row, tpi, full, r + 1, 'TP'),
      tn: numberAt(row, tni, full, r + 1, 'TN'),
      fp: numberAt(row, fpi, full, r + 1, 'FP'),
      fn: numberAt(row, fni, full, r + 1, 'FN'),
      totalCount: numberAt(row, ci, full, r + 1, 'Total_Count'),
    };
    if (isTotals) totals = entry;
    else files.push(entry);
  }
  if (totals === undefined) throw new Error(`${full}: no Totals row`);
  return { files, totals };
}

/** The published final scores: detector -> profile -> normalised score. */
export function loadFinalResults(resultsDir: string): Record<string, Record<string, number>> {
  const raw = readJson(join(resultsDir, 'final_results.json'));
  if (typeof raw !== 'object' || raw === null) throw new Error(`${resultsDir}/final_results.json: expected an object`);
  return raw as Record<string, Record<string, number>>;
}

/** The detectors with a folder under the results directory. */
export function listDetectors(resultsDir: string): string[] {
  return readdirSync(resultsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** One file's (or the Totals row's) line of a score table to write. */
export interface ScoreTableRow {
  readonly path: string;
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
  readonly total: number;
}

/** Writes `<detector>_<profile>_scores.csv` as NAB does: one row per file, then Totals. */
export function writeScoreTable(resultsDir: string, detector: string, profile: string, files: readonly ScoreTableRow[], totals: ScoreTableRow): string {
  const full = join(resultsDir, detector, `${detector}_${profile}_scores.csv`);
  mkdirSync(dirname(full), { recursive: true });
  const rows: (string | number)[][] = [['Detector', 'Profile', 'File', 'Threshold', 'Score', 'TP', 'TN', 'FP', 'FN', 'Total_Count']];
  for (const f of files) rows.push([detector, profile, f.path, f.threshold, f.score, f.tp, f.tn, f.fp, f.fn, f.total]);
  rows.push(['Totals', '', '', '', totals.score, totals.tp, totals.tn, totals.fp, totals.fn, totals.total]);
  writeFileSync(full, stringify(rows));
  return full;
}

/** Writes a detector's per-row results in NAB's format: timestamp, value, anomaly_score, label (1 inside a window). */
export function writeResults(resultsDir: string, detector: string, file: CorpusFile, anomalyScores: ArrayLike<number>, extra?: { readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] }): string {
  const full = join(resultsDir, detector, resultsPath(detector, file.path));
  mkdirSync(dirname(full), { recursive: true });
  const label = new Uint8Array(file.values.length);
  for (const w of file.windows) {
    for (let i = 0; i < file.values.length; i++) if (file.timestampsMs[i]! >= w.startMs && file.timestampsMs[i]! <= w.endMs) label[i] = 1;
  }
  const rows: (string | number)[][] = [['timestamp', 'value', 'anomaly_score', 'label', ...(extra?.header ?? [])]];
  for (let i = 0; i < file.values.length; i++) {
    rows.push([file.timestampText[i]!, file.values[i]!, anomalyScores[i]!, label[i]!, ...(extra?.rows[i] ?? [])]);
  }
  writeFileSync(full, stringify(rows));
  return full;
}
