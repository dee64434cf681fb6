/**
 * The Numenta Anomaly Benchmark's scoring rules as its current scorer applies them (the
 * threshold sweep that scored ARTime, the newest entry of the published scoreboard), pure
 * and in one place:
 *
 * - Each labelled anomaly has a window around it (combined_windows.json). A detection is
 *   a row whose anomaly score is at or above the threshold.
 * - The first rows of every file are probationary (15% of the rows, at most 750): the
 *   detector learns there and nothing it says counts, for or against it.
 * - Inside a window only the earliest detection counts: it earns the scaled sigmoid of
 *   its relative position, tpWeight at the window's left edge falling towards 0 at the
 *   right edge. A window without a detection costs fnWeight.
 * - A detection outside every window costs fpWeight times the scaled sigmoid of its
 *   distance past the end of the window before it (relative to that window's width), so
 *   a detection just after a window costs little and one far away the full fpWeight;
 *   before the first window it costs the full fpWeight.
 * - One threshold per profile for the whole corpus: the sweep tries every distinct
 *   anomaly score as the threshold and keeps the one with the highest summed score
 *   (the highest threshold among equals).
 * - The final score normalises the raw sum between the null detector (detects nothing:
 *   every window missed) at 0 and the perfect detector (each window detected at its left
 *   edge: tpWeight per window) at 100.
 */

/** The weights of one application profile (profiles.json). tnWeight is unused by the rules. */
export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
  readonly tnWeight: number;
}

/** A named profile: standard, reward_low_FP_rate, reward_low_FN_rate. */
export interface Profile {
  readonly name: string;
  readonly costMatrix: CostMatrix;
}

/** One labelled anomaly window: the timestamps of its first and last rows (ms since epoch, UTC). */
export interface AnomalyWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** One data file of the corpus as the scorer sees it: its path, row timestamps and windows. */
export interface LabelledFile {
  /** Relative path in the corpus, e.g. `realKnownCause/nyc_taxi.csv`. */
  readonly path: string;
  readonly timestampsMs: Float64Array;
  readonly windows: readonly AnomalyWindow[];
}

/** The share of each file NAB treats as probationary. */
export const PROBATIONARY_FRACTION = 0.15;

/** Rows of a file of `rows` rows that are probationary: 15%, rounded down, and never more than 750. */
export function probationaryLength(rows: number, fraction = PROBATIONARY_FRACTION): number {
  return Math.min(Math.floor(fraction * rows), fraction * 5000);
}

/**
 * 2 / (1 + e^(5x)) - 1: 0.987 at x = -1 (a window's left edge), 0 at its right edge,
 * -0.987 one window width after it; exactly -1 beyond three widths (at three widths it is
 * still the curve's value, as NAB's published row weights show).
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  if (relativePosition < -3) return 1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** Where a row stands for scoring. */
export const PROBATIONARY = -2;
export const OUTSIDE = -1;

/**
 * A file's rows placed against its windows, independent of any detector: for each row
 * the window it lies in (its index, or OUTSIDE, or PROBATIONARY) and its unweighted
 * sigmoid: inside a window the reward of a first detection there (1 at the left edge),
 * outside the (negative) factor a false positive there is weighted by.
 */
export interface PlacedFile {
  readonly path: string;
  readonly rows: number;
  /** Windows that have at least one scorable row (a window inside the probation is not scored, as in NAB). */
  readonly scoredWindows: number;
  readonly windowOf: Int32Array;
  readonly sigmoid: Float64Array;
}

/** Places a file's rows; throws when a window's edges are not timestamps of the file. */
export function placeFile(file: LabelledFile, fraction = PROBATIONARY_FRACTION): PlacedFile {
  const ts = file.timestampsMs;
  const n = ts.length;
  const firstIndex = new Map<number, number>();
  for (let i = 0; i < n; i++) if (!firstIndex.has(ts[i]!)) firstIndex.set(ts[i]!, i);
  const windows = file.windows.map((w, k) => {
    const left = firstIndex.get(w.startMs);
    const right = firstIndex.get(w.endMs);
    if (left === undefined || right === undefined || right < left) {
      throw new Error(`${file.path}: window ${k} (${new Date(w.startMs).toISOString()} .. ${new Date(w.endMs).toISOString()}) does not start and end on rows of the file`);
    }
    return { left, right, startMs: w.startMs, endMs: w.endMs };
  });
  const probation = probationaryLength(n, fraction);
  const windowOf = new Int32Array(n);
  const sigmoid = new Float64Array(n);
  const scored = new Set<number>();
  // NAB walks the rows in order: a window opens on the row that carries its start
  // timestamp and closes on the row that carries its end timestamp.
  let next = 0;
  let current = -1;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    const upcoming = windows[next];
    if (current < 0 && upcoming !== undefined && t === upcoming.startMs) {
      current = next;
      next++;
    }
    const w = current >= 0 ? windows[current] : undefined;
    if (w !== undefined) {
      const width = w.right - w.left + 1;
      sigmoid[i] = scaledSigmoid(-(w.right - i + 1) / width) / MAX_TP;
    } else {
      sigmoid[i] = prevRight < 0 ? -1 : scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
    }
    if (i < probation) {
      windowOf[i] = PROBATIONARY;
    } else {
      windowOf[i] = current >= 0 ? current : OUTSIDE;
      if (current >= 0) scored.add(current);
    }
    if (w !== undefined && t === w.endMs) {
      prevRight = i;
      prevWidth = w.right - w.left + 1;
      current = -1;
    }
  }
  return { path: file.path, rows: n, scoredWindows: scored.size, windowOf, sigmoid };
}

/** The score of one file or of the corpus at one threshold, with NAB's row counts (probation left out). */
export interface ThresholdScore {
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
  readonly total: number;
}

/** Detector output for one placed file: an anomaly score per row, in [0, 1]. */
export interface ScoredFile {
  readonly placed: PlacedFile;
  readonly anomalyScores: Float64Array;
}

/** Checks that a detector gave one finite score in [0, 1] per row. */
export function checkScores(path: string, rows: number, anomalyScores: ArrayLike<number>): void {
  if (anomalyScores.length !== rows) throw new Error(`${path}: ${anomalyScores.length} anomaly scores for ${rows} rows`);
  for (let i = 0; i < anomalyScores.length; i++) {
    const s = anomalyScores[i]!;
    if (!(s >= 0 && s <= 1)) throw new Error(`${path}: row ${i + 1} has anomaly score ${s}, outside [0, 1]`);
  }
}

/**
 * Every threshold worth trying over a set of files (the corpus, or one file), highest
 * first: 1.1 (nothing detected), then each distinct anomaly score, with the summed score
 * and counts when every row at or above it is a detection.
 */
export function thresholdSweep(files: readonly ScoredFile[], cost: CostMatrix): ThresholdScore[] {
  let total = 0;
  for (const f of files) total += f.placed.rows;
  const fileOf = new Uint32Array(total);
  const rowOf = new Uint32Array(total);
  const score = new Float64Array(total);
  let m = 0;
  const windowBase: number[] = [];
  let windowCount = 0;
  for (let k = 0; k < files.length; k++) {
    const f = files[k]!;
    checkScores(f.placed.path, f.placed.rows, f.anomalyScores);
    windowBase.push(windowCount);
    windowCount += f.placed.windowOf.reduce((max, w) => Math.max(max, w + 1), 0);
    for (let i = 0; i < f.placed.rows; i++) {
      if (f.placed.windowOf[i] === PROBATIONARY) continue;
      fileOf[m] = k;
      rowOf[m] = i;
      score[m] = f.anomalyScores[i]!;
      m++;
    }
  }
  const order = new Uint32Array(m);
  for (let j = 0; j < m; j++) order[j] = j;
  order.sort((a, b) => score[b]! - score[a]! || a - b);

  // Each scored window starts as missed (-fnWeight) and keeps the best reward of a
  // detection inside it, which is the earliest one: the reward falls across the window.
  const windowPart = new Float64Array(windowCount).fill(Number.NaN);
  let tn = 0;
  let fn = 0;
  for (let j = 0; j < m; j++) {
    const f = files[fileOf[j]!]!;
    const w = f.placed.windowOf[rowOf[j]!]!;
    if (w === OUTSIDE) tn++;
    else {
      fn++;
      windowPart[windowBase[fileOf[j]!]! + w] = -cost.fnWeight;
    }
  }
  let windowSum = 0;
  for (const v of windowPart) if (!Number.isNaN(v)) windowSum += v;
  let fpPart = 0;
  let tp = 0;
  let fp = 0;
  const out: ThresholdScore[] = [];
  let threshold = 1.1;
  for (let j = 0; j < m; j++) {
    const idx = order[j]!;
    const s = score[idx]!;
    if (s !== threshold) {
      out.push({ threshold, score: fpPart + windowSum, tp, tn, fp, fn, total: tp + tn + fp + fn });
      threshold = s;
    }
    const f = files[fileOf[idx]!]!;
    const row = rowOf[idx]!;
    const w = f.placed.windowOf[row]!;
    if (w === OUTSIDE) {
      fp++;
      tn--;
      fpPart += f.placed.sigmoid[row]! * cost.fpWeight;
    } else {
      tp++;
      fn--;
      const slot = windowBase[fileOf[idx]!]! + w;
      const reward = f.placed.sigmoid[row]! * cost.tpWeight;
      const before = windowPart[slot]!;
      if (reward > before) {
        windowPart[slot] = reward;
        windowSum += reward - before;
      }
    }
  }
  out.push({ threshold, score: fpPart + windowSum, tp, tn, fp, fn, total: tp + tn + fp + fn });
  return out;
}

/** The threshold with the highest summed score over the files (the highest threshold among equal scores). */
export function optimiseThreshold(files: readonly ScoredFile[], cost: CostMatrix): ThresholdScore {
  let best: ThresholdScore | undefined;
  for (const t of thresholdSweep(files, cost)) if (best === undefined || t.score > best.score) best = t;
  return best!;
}

/** One file's score at a given threshold (detections: rows scoring at or above it). */
export function scoreFile(file: ScoredFile, threshold: number, cost: CostMatrix): ThresholdScore {
  const { placed, anomalyScores } = file;
  checkScores(placed.path, placed.rows, anomalyScores);
  const best = new Map<number, number>();
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let fpPart = 0;
  for (let i = 0; i < placed.rows; i++) {
    const w = placed.windowOf[i]!;
    if (w === PROBATIONARY) continue;
    const detected = anomalyScores[i]! >= threshold;
    if (w === OUTSIDE) {
      if (detected) {
        fp++;
        fpPart += placed.sigmoid[i]! * cost.fpWeight;
      } else tn++;
      continue;
    }
    if (!best.has(w)) best.set(w, -cost.fnWeight);
    if (detected) {
      tp++;
      best.set(w, Math.max(best.get(w)!, placed.sigmoid[i]! * cost.tpWeight));
    } else fn++;
  }
  let windowSum = 0;
  for (const v of best.values()) windowSum += v;
  return { threshold, score: fpPart + windowSum, tp, tn, fp, fn, total: tp + tn + fp + fn };
}

/** NAB's final score: 0 for the null detector's raw score, 100 for the perfect detector's. */
export function normalisedScore(raw: number, nullRaw: number, perfectRaw: number): number {
  return (100 * (raw - nullRaw)) / (perfectRaw - nullRaw);
}

/** A detector's result under one profile: the corpus threshold, each file's score at it, the raw sum and the final score. */
export interface ProfileResult {
  readonly profile: string;
  readonly threshold: number;
  readonly raw: number;
  readonly nullRaw: number;
  readonly perfectRaw: number;
  readonly score: number;
  readonly files: readonly (ThresholdScore & { readonly path: string })[];
  readonly totals: ThresholdScore;
}

/**
 * Scores a detector's output over the corpus under one profile, as NAB's optimise, score
 * and normalise steps do: the corpus-wide threshold, each file at it, and the final score
 * between the null detector (a constant score, which at its best detects nothing) and the
 * perfect one (tpWeight for every labelled window).
 */
export function scoreProfile(files: readonly ScoredFile[], profile: Profile, labelledWindows: number, threshold?: number): ProfileResult {
  const cost = profile.costMatrix;
  const chosen = threshold ?? optimiseThreshold(files, cost).threshold;
  const perFile = files.map((f) => ({ path: f.placed.path, ...scoreFile(f, chosen, cost) }));
  const sum = (key: 'score' | 'tp' | 'tn' | 'fp' | 'fn' | 'total'): number => perFile.reduce((acc, r) => acc + r[key], 0);
  const totals: ThresholdScore = { threshold: chosen, score: sum('score'), tp: sum('tp'), tn: sum('tn'), fp: sum('fp'), fn: sum('fn'), total: sum('total') };
  const nullFiles = files.map((f) => ({ placed: f.placed, anomalyScores: new Float64Array(f.placed.rows).fill(0.5) }));
  const nullRaw = optimiseThreshold(nullFiles, cost).score;
  const perfectRaw = labelledWindows * cost.tpWeight;
  return { profile: profile.name, threshold: chosen, raw: totals.score, nullRaw, perfectRaw, score: normalisedScore(totals.score, nullRaw, perfectRaw), files: perFile, totals };
}
