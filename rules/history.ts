/**
 * The self-history detector: judges each new value of a series against that series' own
 * past, streaming, in bounded memory, deterministically (no clock: the series' own
 * timestamps are its only time).
 *
 * For every value it asks three questions, each against how the same question was
 * answered over the series' recent history (the last `memory` points):
 *
 * - spike: how far is the value from what was expected of it (the one-step residual)?
 * - shift: how far has the recent mean of the residuals moved off zero (a level shift
 *   or a drift that the one-step expectation keeps lagging behind)?
 * - spread: how large is the recent mean absolute residual (a variance change)?
 *
 * What is expected of a value is the better, by its long-run mean absolute error, of two
 * predictors: the recent level (an exponentially weighted mean) and, for series with a
 * daily or weekly rhythm, the level plus the usual deviation at that time of day (and of
 * week), learnt from the series' own timestamps. A predictor that has not been better
 * than the plain level is not used, so a series without a rhythm is judged without one.
 *
 * Each answer becomes a tail probability under that statistic's own long-run
 * distribution: the empirical distribution of its last `memory` values, with the upper
 * `tailFraction` modelled as a generalised Pareto tail (peaks over threshold, fitted by
 * moments), so that a value beyond everything seen still gets a finite, ordered
 * probability. The smallest of the three, corrected for looking three times, is the
 * point's p-value, and its surprise is -log10 of it.
 *
 * One episode, one signal: a point reports its surprise only when it is the most
 * surprising of the last `episodePoints`; the points after a peak that carry on the
 * same excursion report nothing new (score 0). What is reported is a score in [0, 1]
 * rising with the surprise, and what was unusual and by how much.
 */

/** Settings of the self-history detector; one set serves every series. */
export interface HistoryOptions {
  /** Points learnt before any judgment is made. */
  readonly warmupPoints: number;
  /** How many past values of each statistic form its long-run distribution. */
  readonly memory: number;
  /** The upper share of each distribution modelled as a generalised Pareto tail. */
  readonly tailFraction: number;
  /** Half-life, in points, of the level a value is expected at. */
  readonly levelHalfLife: number;
  /** Half-life, in points, of the residuals' recent mean (shift) and mean absolute value (spread). */
  readonly recentHalfLife: number;
  /** Half-life, in points, of the long-run level (the norm a value's deviation is measured from). */
  readonly normHalfLife: number;
  /** Half-life, in points, of the longer-scale mean and mean absolute value of the residuals. */
  readonly longHalfLife: number;
  /** Half-life, in points, of each predictor's mean absolute error (which predictor is trusted). */
  readonly errorHalfLife: number;
  /** Time-of-day bins of the daily rhythm (0: no rhythm is learnt). */
  readonly dayBins: number;
  /** Half-life, in visits of a bin, of the rhythm learnt in it. */
  readonly rhythmHalfLife: number;
  /** A point reports its surprise only when it is the largest of this many. */
  readonly episodePoints: number;
  /** The surprise (-log10 p) at which the score is 0.5. */
  readonly halfScoreSurprise: number;
}

/** The settings used everywhere unless a caller says otherwise. */
export const DEFAULT_HISTORY_OPTIONS: HistoryOptions = {
  warmupPoints: 100,
  memory: 4000,
  tailFraction: 0.05,
  levelHalfLife: 1,
  recentHalfLife: 3,
  normHalfLife: 30,
  longHalfLife: 30,
  errorHalfLife: 200,
  dayBins: 96,
  rhythmHalfLife: 6,
  episodePoints: 100,
  halfScoreSurprise: 4,
};

/** What was unusual about a point. */
export type HistoryFinding = 'spike' | 'shift' | 'spread' | 'range';

/** The judgment of one point. */
export interface HistoryJudgment {
  /** In [0, 1]; 0 while warming up, for an unremarkable point, and for the points that carry on an episode already reported. */
  readonly score: number;
  /** -log10 of the p-value, before the episode rule. */
  readonly surprise: number;
  /** The point's p-value: how often the series' own history was at least this unusual. */
  readonly p: number;
  /** Which question gave the smallest p-value. */
  readonly finding: HistoryFinding;
  readonly value: number;
  /** What the value was expected at, and whether the daily rhythm took part in expecting it. */
  readonly expected: number;
  readonly rhythm: boolean;
  /** The statistic of the finding, and its median over the history (same units). */
  readonly statistic: number;
  readonly typical: number;
  /** True for the first point of an episode at its peak so far; false for the points that carry one on. */
  readonly reported: boolean;
  readonly warmingUp: boolean;
}

const DAY_MS = 86_400_000;
const TESTS = 7;

/** A bounded sample of a statistic's recent values, kept sorted, with tail probabilities. */
class TailModel {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private size = 0;
  private next = 0;

  constructor(
    private readonly capacity: number,
    private readonly tailFraction: number,
  ) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get count(): number {
    return this.size;
  }

  /** The median of the kept values. */
  median(): number {
    if (this.size === 0) return Number.NaN;
    return this.sorted[(this.size - 1) >> 1]!;
  }

  /** P(X >= v) under the kept values, the upper tail as a generalised Pareto fitted by moments. */
  upperP(v: number): number {
    const n = this.size;
    if (n === 0) return 1;
    const s = this.sorted;
    const atLeast = n - this.lowerBound(v);
    const k = Math.max(5, Math.ceil(this.tailFraction * n));
    if (atLeast >= k || k >= n) return (atLeast + 1) / (n + 1);
    const u = s[n - k]!;
    if (v <= u) return (atLeast + 1) / (n + 1);
    let sum = 0;
    let sumSq = 0;
    for (let i = n - k; i < n; i++) {
      const y = s[i]! - u;
      sum += y;
      sumSq += y * y;
    }
    const mean = sum / k;
    const variance = Math.max(0, sumSq / k - mean * mean);
    const floor = 1e-9 * (Math.abs(u) + 1e-9);
    const excess = v - u;
    const q = k / (n + 1);
    if (mean <= floor) return q * Math.exp(-excess / floor);
    // Moments of the GPD: mean = sigma / (1 - xi), variance = sigma^2 / ((1 - xi)^2 (1 - 2 xi)).
    let xi = variance > 0 ? 0.5 * (1 - (mean * mean) / variance) : 0;
    xi = Math.min(0.45, Math.max(0, xi));
    const sigma = mean * (1 - xi);
    if (xi < 1e-6) return q * Math.exp(-excess / sigma);
    return q * Math.pow(1 + (xi * excess) / sigma, -1 / xi);
  }

  add(v: number): void {
    if (this.size === this.capacity) {
      const old = this.ring[this.next]!;
      this.remove(old);
    }
    this.ring[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    const at = this.lowerBound(v);
    this.sorted.copyWithin(at + 1, at, this.size);
    this.sorted[at] = v;
    this.size++;
  }

  private remove(v: number): void {
    const at = this.lowerBound(v);
    this.sorted.copyWithin(at, at + 1, this.size);
    this.size--;
  }

  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function decay(halfLife: number): number {
  return 1 - Math.pow(0.5, 1 / Math.max(halfLife, 1e-9));
}

const WEEK_MS = 7 * DAY_MS;

/**
 * One way of expecting the next value: a level (exponentially weighted mean of the values
 * with the rhythm taken out) plus the usual deviation from it in this value's bin of a
 * cycle (a day, a week; none for the plain level), with its long-run mean absolute error.
 */
class Predictor {
  private readonly rhythm: Float64Array;
  private readonly seen: Uint32Array;
  level = Number.NaN;
  slowLevel = Number.NaN;
  error = Number.NaN;
  private firstMs = Number.NaN;
  private lastMs = Number.NaN;

  constructor(
    private readonly bins: number,
    private readonly cycleMs: number,
    private readonly levelRate: number,
    private readonly slowRate: number,
    private readonly rhythmRate: number,
    private readonly errorRate: number,
  ) {
    this.rhythm = new Float64Array(bins);
    this.seen = new Uint32Array(bins);
  }

  /** The bin of a time in the cycle; -1 without one. */
  bin(timeMs: number): number {
    if (this.bins === 0) return -1;
    const ofCycle = ((timeMs % this.cycleMs) + this.cycleMs) % this.cycleMs;
    return Math.min(this.bins - 1, Math.floor((ofCycle / this.cycleMs) * this.bins));
  }

  /** Whether it has been through its whole cycle once (a plain level always has). */
  get ready(): boolean {
    return !Number.isNaN(this.error) && (this.bins === 0 || this.lastMs - this.firstMs >= this.cycleMs);
  }

  expect(timeMs: number): number {
    return this.level + this.rhythmAt(timeMs);
  }

  /** The value expected from the long-run level (the norm), rather than the recent one. */
  expectNorm(timeMs: number): number {
    return this.slowLevel + this.rhythmAt(timeMs);
  }

  private rhythmAt(timeMs: number): number {
    const b = this.bin(timeMs);
    return b >= 0 && this.seen[b]! > 0 ? this.rhythm[b]! : 0;
  }

  learn(timeMs: number, value: number): void {
    if (Number.isNaN(this.firstMs)) this.firstMs = timeMs;
    this.lastMs = timeMs;
    const b = this.bin(timeMs);
    const known = b >= 0 && this.seen[b]! > 0;
    if (Number.isNaN(this.level)) {
      this.level = value;
      this.slowLevel = value;
    } else {
      const err = Math.abs(value - this.expect(timeMs));
      this.error = Number.isNaN(this.error) ? err : this.error + this.errorRate * (err - this.error);
      const deseasoned = known ? value - this.rhythm[b]! : value;
      this.level += this.levelRate * (deseasoned - this.level);
      this.slowLevel += this.slowRate * (deseasoned - this.slowLevel);
    }
    if (b < 0) return;
    const deviation = value - this.slowLevel;
    if (!known) this.rhythm[b] = deviation;
    else this.rhythm[b]! += this.rhythmRate * (deviation - this.rhythm[b]!);
    this.seen[b]!++;
  }
}

/**
 * One series' detector. Feed it (time, value) in time order with `judge`; it keeps
 * O(memory + bins) numbers whatever the length of the series.
 */
export class HistoryDetector {
  private readonly options: HistoryOptions;
  private readonly recentRate: number;
  private readonly longRate: number;
  private readonly predictors: Predictor[];
  private readonly spikes: TailModel;
  private readonly shifts: TailModel;
  private readonly spreads: TailModel;
  private readonly drifts: TailModel;
  private readonly longSpreads: TailModel;
  private readonly offRhythms: TailModel;
  private offRhythm = 0;
  private readonly highs: TailModel;
  private readonly lows: TailModel;
  private readonly recentSurprise: Float64Array;
  private surpriseAt = 0;
  private points = 0;
  private lastTime = Number.NEGATIVE_INFINITY;
  private recentMean = 0;
  private recentSpread = 0;
  private longMean = 0;
  private longSpread = 0;

  constructor(options: Partial<HistoryOptions> = {}) {
    this.options = { ...DEFAULT_HISTORY_OPTIONS, ...options };
    const o = this.options;
    for (const [key, v] of Object.entries(o)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`history detector: ${key} must be a finite number >= 0, got ${String(v)}`);
    }
    if (o.memory < 10) throw new Error(`history detector: memory must be at least 10 points, got ${o.memory}`);
    if (o.tailFraction <= 0 || o.tailFraction >= 0.5) throw new Error(`history detector: tailFraction must be in (0, 0.5), got ${o.tailFraction}`);
    if (o.episodePoints < 1 || !Number.isInteger(o.episodePoints)) throw new Error(`history detector: episodePoints must be a whole number >= 1, got ${o.episodePoints}`);
    if (!Number.isInteger(o.dayBins)) throw new Error(`history detector: dayBins must be a whole number, got ${o.dayBins}`);
    const levelRate = decay(o.levelHalfLife);
    const slowRate = decay(o.normHalfLife);
    this.longRate = decay(o.longHalfLife);
    const rhythmRate = decay(o.rhythmHalfLife);
    const errorRate = decay(o.errorHalfLife);
    this.recentRate = decay(o.recentHalfLife);
    this.predictors = [new Predictor(0, 1, levelRate, slowRate, rhythmRate, errorRate)];
    if (o.dayBins > 0) {
      this.predictors.push(new Predictor(o.dayBins, DAY_MS, levelRate, slowRate, rhythmRate, errorRate));
      this.predictors.push(new Predictor(o.dayBins * 7, WEEK_MS, levelRate, slowRate, rhythmRate, errorRate));
    }
    this.spikes = new TailModel(o.memory, o.tailFraction);
    this.shifts = new TailModel(o.memory, o.tailFraction);
    this.spreads = new TailModel(o.memory, o.tailFraction);
    this.drifts = new TailModel(o.memory, o.tailFraction);
    this.longSpreads = new TailModel(o.memory, o.tailFraction);
    this.offRhythms = new TailModel(o.memory, o.tailFraction);
    this.highs = new TailModel(o.memory, o.tailFraction);
    this.lows = new TailModel(o.memory, o.tailFraction);
    this.recentSurprise = new Float64Array(o.episodePoints);
  }

  /** Judges the next point of the series; times must not go back. */
  judge(timeMs: number, value: number): HistoryJudgment {
    if (!Number.isFinite(timeMs)) throw new Error(`history detector: time ${timeMs} is not a finite number`);
    if (!Number.isFinite(value)) throw new Error(`history detector: value ${value} at ${timeMs} is not a finite number`);
    if (timeMs < this.lastTime) throw new Error(`history detector: time ${timeMs} is before the previous point's ${this.lastTime}`);
    this.lastTime = timeMs;
    const o = this.options;

    // The trusted predictor: the one of least long-run error among those that know their cycle.
    let chosen = this.predictors[0]!;
    for (const pr of this.predictors) if (pr.ready && chosen.ready && pr.error < chosen.error) chosen = pr;
    const started = chosen.ready;
    const expected = started ? chosen.expect(timeMs) : value;
    const rhythm = chosen !== this.predictors[0];
    const residual = value - expected;
    const offNorm = started ? value - chosen.expectNorm(timeMs) : 0;
    // The best rhythm, whether or not it beats the plain level one step ahead: is this value usual for this time of day (week)?
    let cyclic: Predictor | undefined;
    for (const pr of this.predictors.slice(1)) if (pr.ready && (cyclic === undefined || pr.error < cyclic.error)) cyclic = pr;
    const nextOffRhythm = cyclic === undefined ? 0 : this.offRhythm + this.recentRate * (value - cyclic.expectNorm(timeMs) - this.offRhythm);
    const offRhythm = Math.abs(nextOffRhythm);

    const nextMean = this.recentMean + this.recentRate * (offNorm - this.recentMean);
    const nextSpread = this.recentSpread + this.recentRate * (Math.abs(residual) - this.recentSpread);
    const nextLongMean = this.longMean + this.longRate * (offNorm - this.longMean);
    const nextLongSpread = this.longSpread + this.longRate * (Math.abs(residual) - this.longSpread);
    const spike = Math.abs(residual);
    const shift = Math.abs(nextMean);
    const spread = nextSpread;
    const drift = Math.abs(nextLongMean);
    const longSpread = nextLongSpread;

    const warmingUp = !started || this.points < o.warmupPoints;
    let judgment: HistoryJudgment;
    if (warmingUp) {
      judgment = { score: 0, surprise: 0, p: 1, finding: 'spike', value, expected, rhythm, statistic: spike, typical: Number.NaN, reported: false, warmingUp: true };
      this.pushSurprise(0);
    } else {
      let finding: HistoryFinding = 'spike';
      let p = 1;
      let statistic = spike;
      let typical = Number.NaN;
      const consider = (name: HistoryFinding, stat: number, model: TailModel, pi: number): void => {
        if (pi < p) {
          p = pi;
          finding = name;
          statistic = stat;
          typical = model.median();
        }
      };
      consider('spike', spike, this.spikes, this.spikes.upperP(spike));
      consider('shift', shift, this.shifts, this.shifts.upperP(shift));
      consider('spread', spread, this.spreads, this.spreads.upperP(spread));
      consider('shift', drift, this.drifts, this.drifts.upperP(drift));
      consider('spread', longSpread, this.longSpreads, this.longSpreads.upperP(longSpread));
      if (cyclic !== undefined && this.offRhythms.count >= o.warmupPoints) consider('shift', offRhythm, this.offRhythms, this.offRhythms.upperP(offRhythm));
      consider('range', value, this.highs, 2 * Math.min(this.highs.upperP(value), this.lows.upperP(-value)));
      p = Math.min(1, p * TESTS);
      const surprise = p > 0 ? -Math.log10(p) : 300;
      const reported = surprise > this.maxRecentSurprise();
      this.pushSurprise(surprise);
      const score = reported ? surprise / (surprise + o.halfScoreSurprise) : 0;
      judgment = { score, surprise, p, finding, value, expected, rhythm, statistic, typical, reported, warmingUp: false };
    }

    // Learn from the value.
    if (started) {
      this.spikes.add(spike);
      this.shifts.add(shift);
      this.spreads.add(spread);
      this.drifts.add(drift);
      this.longSpreads.add(longSpread);
      if (cyclic !== undefined) this.offRhythms.add(offRhythm);
    }
    if (started) {
      this.recentMean = nextMean;
      this.recentSpread = nextSpread;
      this.longMean = nextLongMean;
      this.longSpread = nextLongSpread;
      this.offRhythm = nextOffRhythm;
    }
    this.highs.add(value);
    this.lows.add(-value);
    for (const pr of this.predictors) pr.learn(timeMs, value);
    this.points++;
    return judgment;
  }

  private pushSurprise(s: number): void {
    this.recentSurprise[this.surpriseAt] = s;
    this.surpriseAt = (this.surpriseAt + 1) % this.recentSurprise.length;
  }

  private maxRecentSurprise(): number {
    let max = 0;
    for (const s of this.recentSurprise) if (s > max) max = s;
    return max;
  }
}

/** Scores a whole series at once (the same as judging its points one by one on a new detector). */
export function judgeSeries(timesMs: ArrayLike<number>, values: ArrayLike<number>, options: Partial<HistoryOptions> = {}): HistoryJudgment[] {
  if (timesMs.length !== values.length) throw new Error(`history detector: ${timesMs.length} times for ${values.length} values`);
  const detector = new HistoryDetector(options);
  const out: HistoryJudgment[] = [];
  for (let i = 0; i < values.length; i++) out.push(detector.judge(timesMs[i]!, values[i]!));
  return out;
}
