/**
 * The self-history detector: judges each new value of a series against that series' own
 * past, streaming, in bounded memory and deterministically (no clock: the series' own
 * timestamps are its only time). It is the component that judges a version against its
 * own history (its error ratio, its latency, slice by slice); NAB's corpus measures it.
 *
 * What a value is expected at comes from the best, by long-run mean absolute error, of
 * three predictors: the recent level (an exponentially weighted mean), and that level
 * plus the usual deviation at this time of day, or of week, learnt from the timestamps
 * against the long-run level (the norm). A rhythm is trusted only once it has seen its
 * whole cycle and only while it predicts better than the plain level, so a series
 * without one is judged without one.
 *
 * Six questions are asked of every value, each against how the same question was
 * answered over the last `memory` points of the series:
 *
 * - spike: how far is the value from what was expected of it?
 * - shift: how far has the recent mean (half-life `longHalfLife`) moved off the norm:
 *   a level shift or a drift that the one-step expectation keeps following?
 * - spread: how large are the recent deviations from the expectation (same half-life):
 *   a change of variance?
 * - rhythm: how far are the last few values (half-life `recentHalfLife`) from what is
 *   usual at this time of day or week, whichever rhythm fits best, whether or not it
 *   beats the plain level one step ahead: a day that does not look like its weekday?
 * - range: how far out of the values' own long-run distribution is the value (both
 *   tails)?
 * - drift: how far has the slow mean of the values (half-life `driftHalfLife`) moved off
 *   their baseline (half-life `baselineHalfLife`), both starting as the warm-up's mean:
 *   how far the series has wandered from where it began, which the shift's norm
 *   forgets within a few dozen points?
 *
 * The range and the drift are slow: a value near the top of its range is followed by
 * others there (a busy day, a plateau), and the slow mean moves for hundreds of points
 * after a change. So each of them counts only at its own new extreme of the last
 * `slowEpisodePoints`: one plateau, one wandering, one answer.
 *
 * Each answer becomes a tail probability under that statistic's own history: the
 * empirical distribution of its last `memory` values, its upper `tailFraction` modelled
 * as a generalised Pareto tail (peaks over threshold, fitted by moments, never lighter
 * than exponential), so that a value beyond all history still gets a finite probability
 * ordered by how far beyond. The smallest of the six, times six (Bonferroni), is the
 * point's p-value; its surprise is -log10 p.
 *
 * One episode, one signal: a point reports only when it is the most surprising of the
 * last `episodePoints`; the points that carry on an excursion already reported score 0.
 * A reported point scores surprise / (surprise + halfScoreSurprise), in [0, 1).
 * `describeJudgment` turns a judgment into a sentence with the numbers.
 */

/** Settings of the self-history detector; one set serves every series. */
export interface HistoryOptions {
  /** Points learnt before any judgment is made. */
  readonly warmupPoints: number;
  /** How many past values of each statistic form its long-run distribution. */
  readonly memory: number;
  /** The upper share of each distribution modelled as a generalised Pareto tail. */
  readonly tailFraction: number;
  /** Half-life, in points, of the recent level a value is expected at. */
  readonly levelHalfLife: number;
  /** Half-life, in points, of the long-run level (the norm). */
  readonly normHalfLife: number;
  /** Half-life, in points, of the recent mean and mean absolute deviation (shift, spread). */
  readonly longHalfLife: number;
  /** Half-life, in points, of the slow mean of the values (drift). */
  readonly driftHalfLife: number;
  /** Half-life, in points, of the baseline the slow mean is measured against (drift). */
  readonly baselineHalfLife: number;
  /** The range and the drift count only when each is the most unusual it has been in this many points. */
  readonly slowEpisodePoints: number;
  /** Half-life, in points, of the last few values' deviation from the rhythm (rhythm). */
  readonly recentHalfLife: number;
  /** Half-life, in points, of each predictor's mean absolute error (which predictor is trusted). */
  readonly errorHalfLife: number;
  /** Time-of-day bins of the daily rhythm, seven times as many of the weekly one (0: no rhythm is learnt). */
  readonly dayBins: number;
  /** Half-life, in visits of a bin, of the rhythm learnt in it. */
  readonly rhythmHalfLife: number;
  /** A point reports only when it is the most surprising of this many. */
  readonly episodePoints: number;
  /** The surprise (-log10 p) at which a reported point's score is 0.5. */
  readonly halfScoreSurprise: number;
}

/** The settings used everywhere unless a caller says otherwise. */
export const DEFAULT_HISTORY_OPTIONS: HistoryOptions = {
  warmupPoints: 100,
  memory: 4000,
  tailFraction: 0.05,
  levelHalfLife: 1,
  normHalfLife: 30,
  longHalfLife: 30,
  driftHalfLife: 200,
  baselineHalfLife: 3000,
  slowEpisodePoints: 1000,
  recentHalfLife: 3,
  errorHalfLife: 200,
  dayBins: 96,
  rhythmHalfLife: 6,
  episodePoints: 100,
  halfScoreSurprise: 4,
};

/** What was unusual about a point. */
export type HistoryFinding = 'spike' | 'shift' | 'spread' | 'rhythm' | 'range' | 'drift';

/** Which rhythm a value was expected by. */
export type HistoryCycle = 'none' | 'day' | 'week';

/** The judgment of one point. */
export interface HistoryJudgment {
  /** In [0, 1); 0 while warming up and for the points that carry on an episode already reported. */
  readonly score: number;
  /** -log10 of the p-value (0 while warming up). */
  readonly surprise: number;
  /** How often the series' own history was at least this unusual, corrected for asking six questions. */
  readonly p: number;
  /** The question that gave the smallest p-value. */
  readonly finding: HistoryFinding;
  readonly value: number;
  /** What the value was expected at, and by which rhythm. */
  readonly expected: number;
  readonly cycle: HistoryCycle;
  /** The finding's statistic, and its median over the history (same units: the series' own). */
  readonly statistic: number;
  readonly typical: number;
  /** True when the point is the most surprising of its episode so far, and so reports. */
  readonly reported: boolean;
  readonly warmingUp: boolean;
}

const DAY_MS = 86_400_000;
const FINDINGS: readonly HistoryFinding[] = ['spike', 'shift', 'spread', 'rhythm', 'range', 'drift'];

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

  /** How many values are kept. */
  get count(): number {
    return this.size;
  }

  /** Numbers held: each kept value once in arrival order and once sorted. */
  get retained(): number {
    return 2 * this.size;
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

  /** Keeps a value, forgetting the oldest once `capacity` are kept. */
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

/** The last p-values of one slow question, to tell a new extreme from more of the same. */
class SlowEpisode {
  private readonly recent: Float64Array;
  private next = 0;

  constructor(points: number) {
    this.recent = new Float64Array(points).fill(1);
  }

  /** Numbers held: one p-value per point of the episode. */
  get retained(): number {
    return this.recent.length;
  }

  /** Whether p is below every p-value of the episode; keeps it among them. */
  isNewExtreme(p: number): boolean {
    let min = 1;
    for (const q of this.recent) if (q < min) min = q;
    this.recent[this.next] = p;
    this.next = (this.next + 1) % this.recent.length;
    return p < min;
  }
}

/** The weight of each new point in an exponentially weighted mean with this half-life (in points). */
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
  norm = Number.NaN;
  error = Number.NaN;
  private firstMs = Number.NaN;
  private lastMs = Number.NaN;

  constructor(
    private readonly bins: number,
    private readonly cycleMs: number,
    private readonly levelRate: number,
    private readonly normRate: number,
    private readonly rhythmRate: number,
    private readonly errorRate: number,
  ) {
    this.rhythm = new Float64Array(bins);
    this.seen = new Uint32Array(bins);
  }

  /** Numbers held: the rhythm and its visit counts, and five scalars. */
  get retained(): number {
    return 2 * this.bins + 5;
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

  /** The value expected one step ahead: the recent level plus the rhythm at this time. */
  expect(timeMs: number): number {
    return this.level + this.rhythmAt(timeMs);
  }

  /** The value expected from the long-run level (the norm), rather than the recent one. */
  expectNorm(timeMs: number): number {
    return this.norm + this.rhythmAt(timeMs);
  }

  private rhythmAt(timeMs: number): number {
    const b = this.bin(timeMs);
    return b >= 0 && this.seen[b]! > 0 ? this.rhythm[b]! : 0;
  }

  /** Learns a value: its error, the levels (with the rhythm taken out), then the rhythm's bin against the norm. */
  learn(timeMs: number, value: number): void {
    if (Number.isNaN(this.firstMs)) this.firstMs = timeMs;
    this.lastMs = timeMs;
    const b = this.bin(timeMs);
    const known = b >= 0 && this.seen[b]! > 0;
    if (Number.isNaN(this.level)) {
      this.level = value;
      this.norm = value;
    } else {
      const err = Math.abs(value - this.expect(timeMs));
      this.error = Number.isNaN(this.error) ? err : this.error + this.errorRate * (err - this.error);
      const deseasoned = known ? value - this.rhythm[b]! : value;
      this.level += this.levelRate * (deseasoned - this.level);
      this.norm += this.normRate * (deseasoned - this.norm);
    }
    if (b < 0) return;
    const deviation = value - this.norm;
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
  private readonly longRate: number;
  private readonly recentRate: number;
  private readonly driftRate: number;
  private readonly baselineRate: number;
  private readonly predictors: readonly Predictor[];
  private readonly cycles: readonly HistoryCycle[];
  private readonly models: Readonly<Record<Exclude<HistoryFinding, 'range'>, TailModel>>;
  private readonly highs: TailModel;
  private readonly lows: TailModel;
  private readonly recentSurprise: Float64Array;
  private readonly slowEpisodes: Readonly<Record<'range' | 'drift', SlowEpisode>>;
  private surpriseAt = 0;
  private points = 0;
  private lastTime = Number.NEGATIVE_INFINITY;
  private longMean = 0;
  private longSpread = 0;
  private offRhythm = 0;
  private slowMean = Number.NaN;
  private baseline = Number.NaN;

  constructor(options: Partial<HistoryOptions> = {}) {
    this.options = { ...DEFAULT_HISTORY_OPTIONS, ...options };
    const o = this.options;
    for (const [key, v] of Object.entries(o)) {
      if (!(key in DEFAULT_HISTORY_OPTIONS)) throw new Error(`history detector: unknown setting ${key} (known: ${Object.keys(DEFAULT_HISTORY_OPTIONS).join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`history detector: ${key} must be a finite number >= 0, got ${String(v)}`);
    }
    if (o.memory < 10 || !Number.isInteger(o.memory)) throw new Error(`history detector: memory must be a whole number of at least 10 points, got ${o.memory}`);
    if (o.tailFraction <= 0 || o.tailFraction >= 0.5) throw new Error(`history detector: tailFraction must be in (0, 0.5), got ${o.tailFraction}`);
    if (o.episodePoints < 1 || !Number.isInteger(o.episodePoints)) throw new Error(`history detector: episodePoints must be a whole number >= 1, got ${o.episodePoints}`);
    if (o.slowEpisodePoints < 1 || !Number.isInteger(o.slowEpisodePoints)) throw new Error(`history detector: slowEpisodePoints must be a whole number >= 1, got ${o.slowEpisodePoints}`);
    if (!Number.isInteger(o.dayBins)) throw new Error(`history detector: dayBins must be a whole number, got ${o.dayBins}`);
    const rates = [decay(o.levelHalfLife), decay(o.normHalfLife), decay(o.rhythmHalfLife), decay(o.errorHalfLife)] as const;
    this.longRate = decay(o.longHalfLife);
    this.recentRate = decay(o.recentHalfLife);
    this.driftRate = decay(o.driftHalfLife);
    this.baselineRate = decay(o.baselineHalfLife);
    const predictors = [new Predictor(0, 1, ...rates)];
    const cycles: HistoryCycle[] = ['none'];
    if (o.dayBins > 0) {
      predictors.push(new Predictor(o.dayBins, DAY_MS, ...rates), new Predictor(o.dayBins * 7, WEEK_MS, ...rates));
      cycles.push('day', 'week');
    }
    this.predictors = predictors;
    this.cycles = cycles;
    const model = (): TailModel => new TailModel(o.memory, o.tailFraction);
    this.models = { spike: model(), shift: model(), spread: model(), rhythm: model(), drift: model() };
    this.highs = model();
    this.lows = model();
    this.recentSurprise = new Float64Array(o.episodePoints);
    this.slowEpisodes = { range: new SlowEpisode(o.slowEpisodePoints), drift: new SlowEpisode(o.slowEpisodePoints) };
  }

  /** Judges the next point of the series; times must not go back. */
  judge(timeMs: number, value: number): HistoryJudgment {
    if (!Number.isFinite(timeMs)) throw new Error(`history detector: time ${timeMs} is not a finite number`);
    if (!Number.isFinite(value)) throw new Error(`history detector: value ${value} at ${timeMs} is not a finite number`);
    if (timeMs < this.lastTime) throw new Error(`history detector: time ${timeMs} is before the previous point's ${this.lastTime}`);
    this.lastTime = timeMs;
    const o = this.options;

    // The trusted predictor, and the best-fitting rhythm (trusted or not).
    let chosen = 0;
    let rhythmic = -1;
    for (let i = 1; i < this.predictors.length; i++) {
      const pr = this.predictors[i]!;
      if (!pr.ready) continue;
      if (this.predictors[chosen]!.ready && pr.error < this.predictors[chosen]!.error) chosen = i;
      if (rhythmic < 0 || pr.error < this.predictors[rhythmic]!.error) rhythmic = i;
    }
    const predictor = this.predictors[chosen]!;
    const started = predictor.ready;
    const expected = started ? predictor.expect(timeMs) : value;
    const residual = value - expected;
    const offNorm = started ? value - predictor.expectNorm(timeMs) : 0;
    const nextLongMean = this.longMean + this.longRate * (offNorm - this.longMean);
    const nextLongSpread = this.longSpread + this.longRate * (Math.abs(residual) - this.longSpread);
    // Plain running means until the series is as long as their half-lives: the first value
    // alone would otherwise hold the baseline for thousands of points.
    const nextSlowMean = Number.isNaN(this.slowMean) ? value : this.slowMean + (this.points < o.warmupPoints ? 1 / (this.points + 1) : this.driftRate) * (value - this.slowMean);
    const nextBaseline = Number.isNaN(this.baseline) ? value : this.baseline + (this.points < o.warmupPoints ? 1 / (this.points + 1) : this.baselineRate) * (value - this.baseline);
    const nextOffRhythm = rhythmic < 0 ? 0 : this.offRhythm + this.recentRate * (value - this.predictors[rhythmic]!.expectNorm(timeMs) - this.offRhythm);
    const statistics: Record<HistoryFinding, number> = {
      spike: Math.abs(residual),
      shift: Math.abs(nextLongMean),
      spread: nextLongSpread,
      rhythm: Math.abs(nextOffRhythm),
      range: value,
      drift: Math.abs(nextSlowMean - nextBaseline),
    };
    const cycle = this.cycles[chosen]!;

    let judgment: HistoryJudgment;
    if (!started || this.points < o.warmupPoints) {
      judgment = { score: 0, surprise: 0, p: 1, finding: 'spike', value, expected, cycle, statistic: statistics.spike, typical: Number.NaN, reported: false, warmingUp: true };
      this.pushSurprise(0);
    } else {
      let finding: HistoryFinding = 'spike';
      let p = 1;
      for (const name of FINDINGS) {
        let pi: number;
        if (name === 'range') pi = 2 * Math.min(this.highs.upperP(value), this.lows.upperP(-value));
        else if (name === 'rhythm' && (rhythmic < 0 || this.models.rhythm.count < o.warmupPoints)) continue;
        else if (name === 'drift' && this.models.drift.count < o.warmupPoints) continue;
        else pi = this.models[name].upperP(statistics[name]);
        if ((name === 'range' || name === 'drift') && !this.slowEpisodes[name].isNewExtreme(pi)) pi = 1;
        if (pi < p) {
          p = pi;
          finding = name;
        }
      }
      p = Math.min(1, p * FINDINGS.length);
      const surprise = p > 0 ? -Math.log10(p) : 300;
      const reported = surprise > this.maxRecentSurprise();
      this.pushSurprise(surprise);
      const typical = finding === 'range' ? this.highs.median() : this.models[finding].median();
      const score = reported ? surprise / (surprise + o.halfScoreSurprise) : 0;
      judgment = { score, surprise, p, finding, value, expected, cycle, statistic: statistics[finding], typical, reported, warmingUp: false };
    }

    // Learn from the value.
    if (started) {
      this.models.spike.add(statistics.spike);
      this.models.shift.add(statistics.shift);
      this.models.spread.add(statistics.spread);
      this.longMean = nextLongMean;
      this.longSpread = nextLongSpread;
    }
    if (rhythmic >= 0) {
      this.models.rhythm.add(statistics.rhythm);
      this.offRhythm = nextOffRhythm;
    }
    // During the warm-up the slow mean and the baseline are the same running mean.
    if (this.points >= o.warmupPoints) this.models.drift.add(statistics.drift);
    this.slowMean = nextSlowMean;
    this.baseline = nextBaseline;
    this.highs.add(value);
    this.lows.add(-value);
    for (const pr of this.predictors) pr.learn(timeMs, value);
    this.points++;
    return judgment;
  }

  /**
   * How many numbers the detector holds now: the kept samples of its statistics, the
   * rhythms, the episode's recent surprises and its running means. It grows until the
   * samples are `memory` long and then stays.
   */
  retainedNumbers(): number {
    let n = this.highs.retained + this.lows.retained + this.recentSurprise.length + this.slowEpisodes.range.retained + this.slowEpisodes.drift.retained + 5;
    for (const m of Object.values(this.models)) n += m.retained;
    for (const pr of this.predictors) n += pr.retained;
    return n;
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

function number(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toPrecision(3);
  return String(Number(v.toPrecision(4)));
}

function pValue(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

/**
 * One sentence a person reads: what was unusual, by how much, against what history.
 * `subject` names the series (for example `5xx ratio of checkout v42`).
 */
export function describeJudgment(j: HistoryJudgment, subject = 'the series'): string {
  if (j.warmingUp) return `${subject}: ${number(j.value)}, still learning its history`;
  const times = j.typical > 0 ? `, ${number(j.statistic / j.typical)}x its usual ${number(j.typical)}` : '';
  const when = j.cycle === 'day' ? ' for this time of day' : j.cycle === 'week' ? ' for this time of the week' : '';
  const chance = `(p ${pValue(j.p)} against its own history)`;
  switch (j.finding) {
    case 'spike':
      return `${subject} is ${number(j.value)} where ${number(j.expected)} was expected${when}: off by ${number(j.statistic)}${times} ${chance}`;
    case 'shift':
      return `${subject} has moved: its recent mean is ${number(j.statistic)} off its norm${times} ${chance}`;
    case 'spread':
      return `${subject} has become erratic: recent values stray ${number(j.statistic)} from what was expected on average${times} ${chance}`;
    case 'rhythm':
      return `${subject} breaks its rhythm: the last values are ${number(j.statistic)} off what is usual at this time${times} ${chance}`;
    case 'range':
      return `${subject} is ${number(j.value)}, outside its usual range (median ${number(j.typical)}) ${chance}`;
    case 'drift':
      return `${subject} has drifted: its slow mean is ${number(j.statistic)} off its baseline${times} ${chance}`;
    default: {
      const never: never = j.finding;
      return never;
    }
  }
}
