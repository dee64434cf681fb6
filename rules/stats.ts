/**
 * The statistical tests behind the judges. Each works on strata (time slices, routes)
 * so that whatever hits canary and baseline alike in the same slice cancels out.
 */

/** One stratum of a two-group count comparison (canary vs comparison). */
export interface CountStratum {
  /** Canary trials (requests) and events (errors) in the stratum. */
  readonly n1: number;
  readonly x1: number;
  /** Comparison trials and events in the same stratum. */
  readonly n0: number;
  readonly x0: number;
}

/** Outcome of a stratified count test: is the canary's event share higher than chance? */
export interface CountTest {
  /** One-sided p-value of "canary has more events than its share of traffic explains". */
  readonly p: number;
  /** Canary events observed, and expected under no difference (given each stratum's margins). */
  readonly observed: number;
  readonly expected: number;
  /** Canary trials and events; comparison trials and events (strata with both sides only). */
  readonly n1: number;
  readonly x1: number;
  readonly n0: number;
  readonly x0: number;
  /** Mantel-Haenszel common risk ratio (canary over comparison); Infinity when the comparison had none. */
  readonly riskRatio: number;
  /** The comparison's event ratio, weighted to the canary's traffic in each stratum. */
  readonly alignedRatio0: number;
  /** Strata that took part (both sides had trials). */
  readonly strata: number;
}

/** Upper tail P(X >= k) of Binomial(n, p), summed in log space; exact for the sizes used here. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  // Start at the term k and walk up: terms fall fast past the mean, so stop when negligible.
  let logTerm = logChoose(n, k) + k * logP + (n - k) * logQ;
  let sum = 0;
  for (let i = k; i <= n; i++) {
    const term = Math.exp(logTerm);
    sum += term;
    if (i > n * p && term < sum * 1e-16) break;
    logTerm += Math.log((n - i) / (i + 1)) + logP - logQ;
  }
  return Math.min(1, sum);
}

const logFactorialCache: number[] = [0];

/** ln(n!) with a cache for small n and Stirling's series above. */
function logFactorial(n: number): number {
  if (n < 4096) {
    for (let i = logFactorialCache.length; i <= n; i++) logFactorialCache[i] = (logFactorialCache[i - 1] ?? 0) + Math.log(i);
    return logFactorialCache[n] ?? 0;
  }
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n * n * n);
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/**
 * One-sided upper p-value of a standard normal score. Tail p-values of 1e-6 and below
 * decide findings, so this needs relative (not absolute) accuracy far out in the tail:
 * the complementary error function by its Chebyshev fit (fractional error < 1.2e-7).
 */
export function normalUpperP(z: number): number {
  if (Number.isNaN(z)) return 1;
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const r = t * Math.exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Above this many events in total the normal approximation is used instead of the binomial sum. */
const EXACT_LIMIT = 1_000;

/** Length of a count-test summary vector (see `addCountStratum`). */
export const COUNT_FIELDS = 10;
// The events of both sides are X1 + X0: strata without any add nothing to either.
const N1 = 0, X1 = 1, N0 = 2, X0 = 3, EXPECTED = 4, VARIANCE = 5, RR_NUM = 6, RR_DEN = 7, ALIGNED0 = 8, STRATA = 9;

/**
 * Adds one stratum to a count-test summary. Every field is a plain sum over strata, so
 * summaries of slices add up to the summary of a window (and prefix sums give any window).
 */
export function addCountStratum(acc: Float64Array, s: CountStratum, sign = 1): void {
  if (s.n1 <= 0 || s.n0 <= 0) return;
  const n = s.n1 + s.n0;
  const m = s.x1 + s.x0;
  acc[N1] = (acc[N1] as number) + sign * s.n1;
  acc[X1] = (acc[X1] as number) + sign * s.x1;
  acc[N0] = (acc[N0] as number) + sign * s.n0;
  acc[X0] = (acc[X0] as number) + sign * s.x0;
  acc[RR_NUM] = (acc[RR_NUM] as number) + sign * ((s.x1 * s.n0) / n);
  acc[RR_DEN] = (acc[RR_DEN] as number) + sign * ((s.x0 * s.n1) / n);
  acc[ALIGNED0] = (acc[ALIGNED0] as number) + sign * ((s.x0 / s.n0) * s.n1);
  acc[STRATA] = (acc[STRATA] as number) + sign;
  if (m === 0) return;
  acc[EXPECTED] = (acc[EXPECTED] as number) + sign * ((s.n1 * m) / n);
  if (n > 1) acc[VARIANCE] = (acc[VARIANCE] as number) + sign * ((s.n1 * s.n0 * m * (n - m)) / (n * n * (n - 1)));
}

/**
 * The stratified test of "the canary has more events than the comparison, slice for slice",
 * from a summary. Conditioned on each stratum's total events, the canary's count is
 * hypergeometric; the sum over strata is bounded by a binomial with the mean share, which
 * keeps small counts honest (no normal approximation where counts are a handful). Large
 * totals use the Cochran-Mantel-Haenszel normal score with continuity correction.
 */
export function countTestFromSums(v: ArrayLike<number>): CountTest {
  const x1 = Math.round(v[X1] as number), total = x1 + Math.round(v[X0] as number);
  const expected = v[EXPECTED] as number, variance = v[VARIANCE] as number;
  const n1 = Math.round(v[N1] as number), rrNum = v[RR_NUM] as number, rrDen = v[RR_DEN] as number;
  let p = 1;
  if (total > 0 && x1 > expected + 1e-9) {
    if (total <= EXACT_LIMIT) p = binomialUpperTail(x1, total, Math.min(1, expected / total));
    else if (variance > 0) p = normalUpperP((x1 - expected - 0.5) / Math.sqrt(variance));
  }
  return {
    p, observed: x1, expected, n1, x1, n0: Math.round(v[N0] as number), x0: Math.round(v[X0] as number),
    riskRatio: rrDen > 1e-12 ? rrNum / rrDen : rrNum > 1e-12 ? Infinity : 1,
    alignedRatio0: n1 > 0 ? (v[ALIGNED0] as number) / n1 : 0,
    strata: Math.round(v[STRATA] as number),
  };
}

/** The stratified count test over a list of strata. */
export function stratifiedCountTest(strata: Iterable<CountStratum>): CountTest {
  const acc = new Float64Array(COUNT_FIELDS);
  for (const s of strata) addCountStratum(acc, s);
  return countTestFromSums(acc);
}

/** A stratum's contribution to a stratified rank-sum (van Elteren) test. */
export interface RankContribution {
  /** Weighted (U - E[U]) where U counts canary-above-comparison pairs (ties half). */
  readonly excess: number;
  /** Weighted variance of U under no difference, tie-corrected. */
  readonly variance: number;
  /** Canary and comparison sample counts in the stratum. */
  readonly n1: number;
  readonly n0: number;
  /** Unweighted U and pair count, for the common-language effect size. */
  readonly u: number;
  readonly pairs: number;
}

/** An empty contribution: the identity of `addRank`. */
export const NO_RANK: RankContribution = { excess: 0, variance: 0, n1: 0, n0: 0, u: 0, pairs: 0 };

/** Adds two rank contributions (strata are independent). */
export function addRank(a: RankContribution, b: RankContribution): RankContribution {
  return {
    excess: a.excess + b.excess, variance: a.variance + b.variance,
    n1: a.n1 + b.n1, n0: a.n0 + b.n0, u: a.u + b.u, pairs: a.pairs + b.pairs,
  };
}

/**
 * The rank-sum contribution of one stratum from two binned distributions, given as
 * parallel arrays of (bin order key, count) sorted by key ascending. Binned values tie
 * within a bin, so the tie-corrected variance is used. Weight 1/(N+1) is van Elteren's
 * locally-best choice for strata of different sizes.
 */
export function rankContribution(
  keys1: ArrayLike<number>, counts1: ArrayLike<number>,
  keys0: ArrayLike<number>, counts0: ArrayLike<number>,
): RankContribution {
  let n1 = 0, n0 = 0;
  for (let i = 0; i < counts1.length; i++) n1 += counts1[i] ?? 0;
  for (let i = 0; i < counts0.length; i++) n0 += counts0[i] ?? 0;
  if (n1 === 0 || n0 === 0) return NO_RANK;
  // Merge-walk both sorted bin lists: for each bin, canary values there beat every
  // comparison value in lower bins and tie with those in the same bin.
  let i = 0, j = 0, below0 = 0, u = 0, tieTerm = 0;
  while (i < keys1.length || j < keys0.length) {
    const k1 = i < keys1.length ? (keys1[i] as number) : Infinity;
    const k0 = j < keys0.length ? (keys0[j] as number) : Infinity;
    let c1 = 0, c0 = 0;
    if (k1 <= k0) c1 = counts1[i++] as number;
    if (k0 <= k1) c0 = counts0[j++] as number;
    u += c1 * (below0 + c0 / 2);
    below0 += c0;
    const t = c1 + c0;
    tieTerm += t * t * t - t;
  }
  return rankFromU(u, n1, n0, tieTerm);
}

/** A stratum's contribution from its U statistic, sizes and tie term (sum of t^3 - t over tied groups). */
export function rankFromU(u: number, n1: number, n0: number, tieTerm: number): RankContribution {
  const n = n1 + n0;
  const pairs = n1 * n0;
  const mean = pairs / 2;
  const variance = (pairs / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const w = 1 / (n + 1);
  return { excess: (u - mean) * w, variance: variance * w * w, n1, n0, u, pairs };
}

/** One-sided p-value of a summed rank contribution (canary higher than comparison). */
export function rankTestP(c: Pick<RankContribution, 'excess' | 'variance'>): number {
  if (c.variance <= 0) return 1;
  return normalUpperP(c.excess / Math.sqrt(c.variance));
}
