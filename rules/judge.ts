/**
 * The canary judge: one version's series against a time-aligned comparison (its baseline,
 * else the stable fleet), slice for slice, per signal and per route. It proposes tests with
 * p-values; the caller splits the false-alarm budget over all of them and keeps the
 * findings that clear it and the practical effect floors.
 *
 * Every test is a sum over strata (time slices, routes), so each closed slice is summarised
 * once and kept as prefix sums: a window of any length costs one subtraction per test.
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { RulesConfig } from './config.js';
import type { Severity } from './decisions.js';
import {
  type CountStratum, type CountTest, type RankContribution, COUNT_FIELDS, NO_RANK, addCountStratum, addRank,
  countTestFromSums, rankTestP,
} from './stats.js';
import { quantile, rankOfSketches } from './aggregate.js';
import { type Bins, KeyCounts, binsCount, countAbove, quantileKeyOf, rankOfBins, sketchOfBins } from './bins.js';
import type { Cohort, SliceRing } from './window.js';

/** What a finding is about. */
export type Signal = 'errors' | 'latency' | 'latency-tail' | 'new-error' | 'metric';

/** A test the judge ran: its p-value and how to describe it if it holds. */
export interface Candidate {
  /** Stable identity across evaluations: signal, route, signature or metric. */
  readonly key: string;
  readonly signal: Signal;
  readonly route: string | undefined;
  readonly p: number;
  /**
   * Share of the false-alarm budget (weighted Bonferroni): the service-wide tests that
   * catch most regressions get more of it than the many per-route and per-message ones.
   */
  readonly weight: number;
  readonly windowMs: number;
  /** For count tests: the canary's events and how many it would have had without a difference. */
  readonly counts?: { readonly observed: number; readonly expected: number };
  /**
   * Log-likelihood ratio, on the slices from `slot` to now alone, of "the effect seen in this
   * window goes on" against "no difference": new evidence since a finding was first seen,
   * which a burst that is over cannot give. Absent for history tests.
   */
  readonly confirmLR?: (slot: number) => number;
  /**
   * The series' change detector has crossed its false-alarm bound on evidence that no single
   * burst explains: the finding fails the release without waiting for confirmation data.
   */
  readonly changed?: boolean;
  /**
   * Checks the effect floors (and, when `robust`, that the canary is still worse over the
   * most recent stretch) and writes the sentence; undefined when it does not hold up.
   */
  readonly describe: (robust?: boolean) => Effect | undefined;
}

/** A practically relevant effect, in words and numbers. */
export interface Effect {
  readonly summary: string;
  readonly severity: Severity;
  /** Size of the effect as a ratio (canary over comparison), for ordering and scores. */
  readonly magnitude: number;
}

/** What the judge compares. */
export interface Comparison {
  readonly canary: Cohort;
  readonly against: readonly Cohort[];
  /** Words for the comparison, e.g. "v41 baseline". */
  readonly label: string;
  /** First slice the judge looks at: the canary's first, or the oldest the horizon still holds. */
  readonly startSlot: number;
  /**
   * First slice of the canary's life, which stays put when the horizon moves `startSlot`
   * on: what the judge has summarised and learnt since then is kept, not redone.
   */
  readonly originSlot: number;
  /**
   * For a rollout with no overlap, the slices of the previous version's history that
   * stand in for a time-aligned comparison (pooled as one stratum).
   */
  readonly history?: { readonly from: number; readonly to: number };
}

/** Prefix sums of per-slice summary vectors of one test, in a ring as long as the horizon. */
export class Cumulative {
  private readonly sums: Float64Array;
  /** First and last slice summed; slices before `first` count as zero. */
  first = Number.NaN;
  last = Number.NaN;

  constructor(readonly fields: number, readonly size: number) {
    this.sums = new Float64Array(fields * size);
  }

  private base(slot: number): number {
    return (((slot % this.size) + this.size) % this.size) * this.fields;
  }

  /**
   * The oldest slice whose own summary the ring still holds: reading slice t needs the
   * prefix sum of t - 1, and the ring has the last `size` prefix sums.
   */
  private oldest(): number {
    return Math.max(this.first, this.last - this.size + 2);
  }

  /** Adds slice `slot`'s summary; slices come in increasing order and gaps count as zero. */
  append(slot: number, v: ArrayLike<number>): void {
    if (Number.isNaN(this.first) || slot - this.last >= this.size) {
      this.first = slot;
      const b = this.base(slot);
      for (let f = 0; f < this.fields; f++) this.sums[b + f] = v[f] as number;
      this.last = slot;
      return;
    }
    for (let t = this.last + 1; t <= slot; t++) {
      const prev = this.base(t - 1), cur = this.base(t);
      for (let f = 0; f < this.fields; f++) this.sums[cur + f] = (this.sums[prev + f] as number) + (t === slot ? (v[f] as number) : 0);
    }
    this.last = slot;
  }

  /** The summary of the single slice `t` (zero outside what was summed) into `out`. */
  at(t: number, out: Float64Array): Float64Array {
    if (Number.isNaN(this.first) || t < this.oldest() || t > this.last) return out.fill(0);
    const b = this.base(t);
    if (t === this.first) {
      for (let f = 0; f < this.fields; f++) out[f] = this.sums[b + f] as number;
    } else {
      const p = this.base(t - 1);
      for (let f = 0; f < this.fields; f++) out[f] = (this.sums[b + f] as number) - (this.sums[p + f] as number);
    }
    return out;
  }

  /** Sum over slices [from, to] (clipped to what was summed and is still held) into `out`. */
  sum(from: number, to: number, out: Float64Array): Float64Array {
    out.fill(0);
    if (Number.isNaN(this.first)) return out;
    const hi = Math.min(to, this.last);
    const lo = Math.max(from, this.oldest());
    if (hi < lo) return out;
    const bHi = this.base(hi);
    for (let f = 0; f < this.fields; f++) out[f] = this.sums[bHi + f] as number;
    if (lo > this.first) {
      const bLo = this.base(lo - 1);
      for (let f = 0; f < this.fields; f++) out[f] = (out[f] as number) - (this.sums[bLo + f] as number);
    }
    return out;
  }
}

/** The comparison's recent latency, kept as two epoch sketches, and the thresholds read from it. */
interface TailReference {
  epoch: number;
  current: KeyCounts | undefined;
  previous: KeyCounts | undefined;
  k95: number;
  k99: number;
  refreshedAt: number;
}

/** The judge's memory for one judgment: per-test prefix sums, built slice by slice. */
export class JudgeState {
  readonly series = new Map<string, Cumulative>();
  /** The same series by kind, then name. */
  private readonly byKind = new Map<string, Map<string, Cumulative>>();
  /**
   * Per signal, the last slice of an episode that ended as a burst: its evidence was judged
   * transient, so later windows of that signal's tests start after it.
   */
  readonly restartAfter = new Map<Signal, number>();
  /** Last slice summarised. */
  lastSlot = Number.NaN;
  /**
   * Tail thresholds per route (and `*`): the comparison's p95 and p99 bin keys over its
   * last one or two 5-minute epochs, refreshed every minute. Fixed before a slice is looked
   * at, so canary and comparison values in that slice are exchangeable under no difference.
   */
  readonly tailRefs = new Map<string, TailReference>();
  /** Requests (and metric samples) of the canary and of the comparison since the judgment began. */
  canaryEvidence = 0;
  comparisonEvidence = 0;
  /** Per watched series, the change detector's per-slice log-likelihood ratios (one field per effect size). */
  readonly changeTerms = new Map<string, Cumulative>();
  constructor(readonly signature: string, readonly ringSize: number) {}

  /** Discards the evidence of one signal up to slice `slot` (a burst that is over). */
  restartSignal(signal: Signal, slot: number): void {
    this.restartAfter.set(signal, Math.max(slot, this.restartAfter.get(signal) ?? slot));
  }

  cumulative(key: string, fields: number): Cumulative {
    let c = this.series.get(key);
    if (!c) this.series.set(key, (c = new Cumulative(fields, this.ringSize)));
    return c;
  }

  /** The test series of one kind by name (in creation order), if there are any. */
  ofKind(kind: string): ReadonlyMap<string, Cumulative> | undefined {
    return this.byKind.get(kind);
  }

  /** The test series `kind|name`, found without building its key: the per-slice path. */
  cumulativeOf(kind: string, name: string, fields: number): Cumulative {
    let byName = this.byKind.get(kind);
    if (!byName) this.byKind.set(kind, (byName = new Map()));
    let c = byName.get(name);
    if (!c) byName.set(name, (c = this.cumulative(`${kind}|${name}`, fields)));
    return c;
  }
}

/** A rank summary vector: excess, variance, n1, n0 (U and the pair count are not needed over windows). */
const RANK_FIELDS = 4;
/** Budget weights: service-wide errors and latency, service-wide tails and metrics, everything else. */
const MAIN_WEIGHT = 5;
const TAIL_WEIGHT = 2;
/** The epochs of the comparison's tail reference, and how many values it needs. */
const REFERENCE_EPOCH_MS = 5 * 60_000;
const MIN_REFERENCE = 200;

function rankVector(c: RankSum, out: Float64Array): Float64Array {
  out[0] = c.excess; out[1] = c.variance; out[2] = c.n1; out[3] = c.n0;
  return out;
}

/** What a window's rank tests read: the summed contributions of its strata. */
type RankSum = Pick<RankContribution, 'excess' | 'variance' | 'n1' | 'n0'>;

function rankOf(v: ArrayLike<number>): RankSum {
  return { excess: v[0] as number, variance: v[1] as number, n1: v[2] as number, n0: v[3] as number };
}

/** The contribution with lower values counted as worse (for metrics such as throughput). */
function flipRank(c: RankSum): RankSum {
  return { ...c, excess: -c.excess };
}

const ALL = '*';

function pct(x: number): string {
  const v = x * 100;
  return `${v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2)}%`;
}

function times(r: number): string {
  if (!Number.isFinite(r)) return 'from none';
  return `x${r >= 10 ? r.toFixed(0) : r.toFixed(1)}`;
}

function ms(v: number): string {
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function minutes(windowMs: number): string {
  const m = windowMs / 60_000;
  return m >= 1 ? `${Number.isInteger(m) ? m : m.toFixed(1)} min` : `${Math.round(windowMs / 1000)} s`;
}

function where(route: string | undefined): string {
  return route === undefined ? 'across all routes' : `on ${route}`;
}

function ringsOf(cohorts: readonly Cohort[], name: string, metric: boolean): SliceRing[] {
  const out: SliceRing[] = [];
  for (const c of cohorts) {
    const r = (metric ? c.metrics : c.routes).get(name);
    if (r) out.push(r);
  }
  return out;
}

/** The latency bins of the rings at closed slice `slot`, where they have any. */
function binsAt(rings: readonly SliceRing[], slot: number, out: Bins[] = []): Bins[] {
  for (const r of rings) {
    const b = r.binsAt(slot);
    if (b) out.push(b);
  }
  return out;
}

/** One sketch of the rings' closed slices in [from, to]; undefined when they hold no values. */
function sketchOver(rings: readonly SliceRing[], from: number, to: number): DDSketch | undefined {
  const lists: Bins[] = [];
  for (const r of rings) r.closedBins(from, to, lists);
  return sketchOfBins(lists);
}

function exposure(cohorts: readonly Cohort[], t: number): number {
  let n = 0;
  for (const c of cohorts) for (const r of c.routes.values()) n += r.requestsAt(t);
  if (n > 0) return n;
  for (const c of cohorts) n += c.logLines.requestsAt(t);
  return n;
}

/** Routes of a cohort, capped, in first-seen order. */
function judgedRoutes(c: Cohort, cap: number): string[] {
  const out: string[] = [];
  for (const r of c.routes.keys()) {
    if (out.length >= cap) break;
    out.push(r);
  }
  return out;
}

/**
 * Summarises the closed slices up to `to` that the state has not seen yet: one count
 * stratum per route for errors, rank and exceedance contributions for latency, strata for
 * error signatures and metric distributions.
 */
export function summarise(state: JudgeState, cmp: Comparison, to: number, cfg: RulesConfig, known: ReadonlySet<string>): void {
  const canary = cmp.canary;
  const startAt = Number.isNaN(state.lastSlot) ? cmp.startSlot : Math.max(cmp.startSlot, state.lastSlot + 1);
  const routes = judgedRoutes(canary, cfg.window.maxRoutesPerService);
  const perRoute = routes.length > 1;
  const count = new Float64Array(COUNT_FIELDS);
  const countAll = new Float64Array(COUNT_FIELDS);
  const rankVec = new Float64Array(RANK_FIELDS);
  const stratum = (c: CountStratum, kind: string, name: string): void => {
    count.fill(0);
    addCountStratum(count, c);
    state.cumulativeOf(kind, name, COUNT_FIELDS).append(t, count);
  };
  const epochSlots = Math.max(1, Math.round(REFERENCE_EPOCH_MS / cfg.window.sliceMs));
  const refreshSlots = Math.max(1, Math.round(60_000 / cfg.window.sliceMs));
  /** Exceedance strata of the slice against the comparison's own recent tail. */
  const tails = (name: string, c1: readonly Bins[], c0: readonly Bins[]): void => {
    let ref = state.tailRefs.get(name);
    if (!ref) state.tailRefs.set(name, (ref = { epoch: Math.floor(t / epochSlots), current: undefined, previous: undefined, k95: Number.NaN, k99: Number.NaN, refreshedAt: -Infinity }));
    const epoch = Math.floor(t / epochSlots);
    if (epoch !== ref.epoch) {
      ref.previous = epoch === ref.epoch + 1 ? ref.current : undefined;
      ref.current = undefined;
      ref.epoch = epoch;
    }
    if (t - ref.refreshedAt >= refreshSlots) {
      const past: KeyCounts[] = [];
      if (ref.previous) past.push(ref.previous);
      if (ref.current) past.push(ref.current);
      let values = 0;
      for (const c of past) values += c.count;
      const enough = values >= MIN_REFERENCE;
      ref.k95 = enough ? quantileKeyOf(past, 0.95) : Number.NaN;
      ref.k99 = enough ? quantileKeyOf(past, 0.99) : Number.NaN;
      ref.refreshedAt = t;
    }
    if (!Number.isNaN(ref.k95)) {
      let n1 = 0, n0 = 0;
      let x95 = 0, x99 = 0, y95 = 0, y99 = 0;
      for (const b of c1) { n1 += binsCount(b); x95 += countAbove(b, ref.k95); x99 += countAbove(b, ref.k99); }
      for (const b of c0) { n0 += binsCount(b); y95 += countAbove(b, ref.k95); y99 += countAbove(b, ref.k99); }
      stratum({ n1, x1: x95, n0, x0: y95 }, 't95', name);
      stratum({ n1, x1: x99, n0, x0: y99 }, 't99', name);
    }
    // Only now does this slice join the reference: thresholds come from the past alone.
    if (c0.length > 0) {
      const current = (ref.current ??= new KeyCounts());
      for (const b of c0) current.add(b);
    }
  };
  let t = startAt;
  for (; t <= to; t++) {
    countAll.fill(0);
    let rankAll = NO_RANK;
    const canaryAll: Bins[] = [];
    const againstAll: Bins[] = [];
    for (const route of routes) {
      const ring = canary.routes.get(route) as SliceRing;
      const n1 = ring.requestsAt(t);
      const against = ringsOf(cmp.against, route, false);
      let n0 = 0, x0 = 0;
      for (const r of against) { n0 += r.requestsAt(t); x0 += r.errorsAt(t); }
      state.canaryEvidence += n1;
      state.comparisonEvidence += n0;
      if (n1 > 0 || n0 > 0) {
        const s = { n1, x1: ring.errorsAt(t), n0, x0 };
        addCountStratum(countAll, s);
        if (perRoute) stratum(s, 'e', route);
      }
      const c1 = ring.binsAt(t);
      if (!c1) continue;
      const c0 = binsAt(against, t);
      if (c0.length === 0) continue;
      canaryAll.push(c1);
      againstAll.push(...c0);
      const rank = rankOfBins([c1], c0);
      rankAll = addRank(rankAll, rank);
      if (perRoute) {
        state.cumulativeOf('l', route, RANK_FIELDS).append(t, rankVector(rank, rankVec));
        tails(route, [c1], c0);
      }
    }
    state.cumulativeOf('e', ALL, COUNT_FIELDS).append(t, countAll);
    if (rankAll.n1 > 0 && rankAll.n0 > 0) {
      state.cumulativeOf('l', ALL, RANK_FIELDS).append(t, rankVector(rankAll, rankVec));
      tails(ALL, canaryAll, againstAll);
    }
    // Error signatures: tracked from their first canary occurrence on; known ones never count.
    const sigs = canary.signatures.bySlot.get(t);
    if (sigs) for (const sig of sigs.keys()) if (!known.has(sig)) state.cumulativeOf('s', sig, COUNT_FIELDS);
    const signatureSeries = state.ofKind('s');
    let n1 = Number.NaN, n0 = Number.NaN;
    if (signatureSeries) for (const [sig, cum] of signatureSeries) {
      const x1 = sigs?.get(sig) ?? 0;
      if (x1 === 0 && Number.isNaN(cum.first)) continue;
      let x0 = 0;
      for (const c of cmp.against) x0 += c.signatures.bySlot.get(t)?.get(sig) ?? 0;
      if (Number.isNaN(n1)) { n1 = exposure([canary], t); n0 = exposure(cmp.against, t); }
      if (n1 === 0) continue;
      count.fill(0);
      addCountStratum(count, { n1, x1, n0, x0 });
      cum.append(t, count);
    }
    for (const [name, ring] of canary.metrics) {
      const c1 = ring.binsAt(t);
      state.canaryEvidence += ring.requestsAt(t);
      if (!c1) continue;
      const c0 = binsAt(ringsOf(cmp.against, name, true), t);
      if (c0.length === 0) continue;
      const lowerIsWorse = cfg.metrics.find((m) => m.name === name)?.worse === 'lower';
      const rank = rankOfBins([c1], c0);
      state.cumulative(`m|${name}`, RANK_FIELDS).append(t, rankVector(lowerIsWorse ? flipRank(rank) : rank, rankVec));
    }
  }
  state.lastSlot = Math.max(to, Number.isNaN(state.lastSlot) ? to : state.lastSlot);
}

/** Runs every test over the windows [from, to] (slice numbers, inclusive) from the summaries. */
export function judgeWindows(
  state: JudgeState, cmp: Comparison, froms: readonly number[], to: number, cfg: RulesConfig,
  known: ReadonlySet<string>, out: Candidate[],
): void {
  if (cmp.history) {
    for (const from of froms) judgeAgainstHistory(cmp, from, to, cfg, known, out);
    return;
  }
  const j = cfg.judge;
  const sliceMs = cfg.window.sliceMs;
  const recentFrom = to - Math.max(1, Math.round(j.recentMs / sliceMs)) + 1;
  const label = cmp.label;
  const vec = new Float64Array(COUNT_FIELDS);
  const rvec = new Float64Array(RANK_FIELDS);
  const countExcess = (v: Float64Array): number => (v[1] as number) - (v[4] as number);
  const rankExcess = (v: Float64Array): number => v[0] as number;
  /** Whether the canary is still worse in the most recent slices (no echo of an old burst). */
  const stillWorse = (cum: Cumulative, excess: (v: Float64Array) => number): boolean =>
    excess(cum.sum(recentFrom, to, new Float64Array(cum.fields))) > 0;
  // Mixture likelihood ratios (test martingales): by Ville's inequality, data with no
  // difference ever reach odds of A to 1 with probability at most 1/A, however often they are
  // looked at. Mixing over effect sizes keeps them from betting on one guess of the effect.
  const countFrom = (cum: Cumulative) => (slot: number): number => {
    const v = cum.sum(slot, to, new Float64Array(COUNT_FIELDS));
    const t = countTestFromSums(v);
    return countMixtureLogLR(t.x1, t.expected, t.x1 + t.x0);
  };
  const rankFrom = (cum: Cumulative, reference: RankSum) => (slot: number): number => {
    const r = rankOf(cum.sum(slot, to, new Float64Array(RANK_FIELDS)));
    return rankMixtureLogLR(r.excess, r.variance, reference.variance);
  };
  const canaryRings = (route: string | undefined): SliceRing[] =>
    (route === undefined ? [...cmp.canary.routes.keys()] : [route]).flatMap((r) => ringsOf([cmp.canary], r, false));
  const againstRings = (route: string | undefined): SliceRing[] =>
    (route === undefined ? [...cmp.canary.routes.keys()] : [route]).flatMap((r) => ringsOf(cmp.against, r, false));

  const changed = changedSeries(state, cmp, to, cfg);
  const seen = new Set<string>();
  for (const windowFrom of froms) {
    for (const [key, cum] of state.series) {
      const bar = key.indexOf('|');
      const kind = key.slice(0, bar);
      const name = key.slice(bar + 1);
      const route = name === ALL ? undefined : name;
      const restart = state.restartAfter.get(signalOf(kind));
      const from = restart === undefined ? windowFrom : Math.max(windowFrom, restart + 1);
      if (cum.last < from || from > to || seen.has(`${key}@${from}`)) continue;
      seen.add(`${key}@${from}`);
      const windowMs = (to - from + 1) * sliceMs;
      switch (kind) {
        case 'e': {
          const test = countTestFromSums(cum.sum(from, to, vec));
          if (test.x1 < j.minErrors || test.strata === 0) break;
          out.push({
            key: `errors|${name}`, signal: 'errors', route, p: test.p, weight: route === undefined ? MAIN_WEIGHT : 1, windowMs,
            counts: { observed: test.x1, expected: test.expected },
            confirmLR: countFrom(cum), changed: changed.has(key),
            describe: (robust = true) => {
              if (test.riskRatio < j.minErrorRatio || test.x1 / test.n1 - test.alignedRatio0 < j.minErrorRatioIncrease) return undefined;
              if (robust && !stillWorse(cum, countExcess)) return undefined;
              return errorEffect(test, label, route, windowMs);
            },
          });
          break;
        }
        case 'l': {
          const rank = rankOf(cum.sum(from, to, rvec));
          if (rank.n1 < j.minLatencySamples || rank.n0 < j.minLatencySamples) break;
          out.push({
            key: `latency|${name}`, signal: 'latency', route, p: rankTestP(rank), weight: route === undefined ? MAIN_WEIGHT : 1, windowMs,
            confirmLR: rankFrom(cum, rank), changed: changed.has(key),
            describe: (robust = true) => {
              if (robust && !stillWorse(cum, rankExcess)) return undefined;
              const c1 = sketchOver(canaryRings(route), from, to);
              const c0 = sketchOver(againstRings(route), from, to);
              const m1 = quantile(c1, 0.5), m0 = quantile(c0, 0.5);
              const ratio = m1 / m0;
              if (!(ratio >= j.minLatencyRatio)) return undefined;
              return {
                summary: `median latency ${ms(m1)} vs ${ms(m0)} on ${label} (${times(ratio)}), p99 ${ms(quantile(c1, 0.99))} vs ${ms(quantile(c0, 0.99))}, ${where(route)}, ${rank.n1} requests in ${minutes(windowMs)}`,
                severity: ratio >= 2 ? 'critical' : 'warning',
                magnitude: ratio,
              };
            },
          });
          break;
        }
        case 't95':
        case 't99': {
          const test = countTestFromSums(cum.sum(from, to, vec));
          if (test.n1 < j.minLatencySamples || test.n0 < j.minLatencySamples) break;
          const q = kind === 't99' ? 0.99 : 0.95;
          const qName = kind === 't99' ? 'p99' : 'p95';
          out.push({
            key: `latency-tail|${qName}|${name}`, signal: 'latency-tail', route, p: test.p, weight: route === undefined ? TAIL_WEIGHT : 1, windowMs,
            counts: { observed: test.x1, expected: test.expected },
            confirmLR: countFrom(cum), changed: changed.has(key),
            describe: (robust = true) => {
              if (robust && !stillWorse(cum, countExcess)) return undefined;
              const c1 = sketchOver(canaryRings(route), from, to), c0 = sketchOver(againstRings(route), from, to);
              const t1 = quantile(c1, q), t0 = quantile(c0, q);
              const ratio = t1 / t0;
              if (!(ratio >= j.minTailRatio)) return undefined;
              return {
                summary: `${qName} latency ${ms(t1)} vs ${ms(t0)} on ${label} (${times(ratio)}), median ${ms(quantile(c1, 0.5))} vs ${ms(quantile(c0, 0.5))}, ${where(route)}, ${test.n1} requests in ${minutes(windowMs)}`,
                severity: ratio >= 3 ? 'critical' : 'warning',
                magnitude: ratio,
              };
            },
          });
          break;
        }
        case 's': {
          if (known.has(name)) break;
          const test = countTestFromSums(cum.sum(from, to, vec));
          if (test.x0 > 0 || test.x1 < j.minNewSignatureCount) break;
          out.push({
            key: `new-error|${name}`, signal: 'new-error', route: undefined, p: test.p, weight: 1, windowMs,
            counts: { observed: test.x1, expected: test.expected },
            confirmLR: countFrom(cum),
            describe: (robust = true) => {
              if (robust && !stillWorse(cum, (v) => v[1] as number)) return undefined;
              return newErrorEffect(name, test.x1, cmp.canary.version, label, windowMs);
            },
          });
          break;
        }
        case 'm': {
          const rank = rankOf(cum.sum(from, to, rvec));
          if (rank.n1 < j.minLatencySamples / 5 || rank.n0 < j.minLatencySamples / 5) break;
          out.push({
            key: `metric|${name}`, signal: 'metric', route: undefined, p: rankTestP(rank), weight: TAIL_WEIGHT, windowMs,
            confirmLR: rankFrom(cum, rank),
            describe: (robust = true) => {
              if (robust && !stillWorse(cum, rankExcess)) return undefined;
              const c1 = sketchOver(ringsOf([cmp.canary], name, true), from, to);
              const c0 = sketchOver(ringsOf(cmp.against, name, true), from, to);
              return metricEffect(cfg, name, c1, c0, label, rank.n1, windowMs);
            },
          });
          break;
        }
      }
    }
  }
}

/** Effect sizes (odds ratios of an event falling on the canary) the count mixture bets on, equally. */
const MIXTURE_ODDS = [1.5, 2, 3, 5, 8, 13, 21];

/**
 * ln of the mixture likelihood ratio of `x` of `total` events falling on the canary where
 * `expected` were due (the conditional, binomial view of the stratified count test), against
 * odds ratios in MIXTURE_ODDS.
 */
export function countMixtureLogLR(x: number, expected: number, total: number): number {
  if (!(total > 0) || !(expected > 0)) return 0;
  const p0 = Math.min(expected / total, 1 - 1e-9);
  const terms = MIXTURE_ODDS.map((odds) => {
    const p1 = (odds * p0) / (1 - p0 + odds * p0);
    return x * Math.log(p1 / p0) + (total - x) * Math.log((1 - p1) / (1 - p0));
  });
  const top = Math.max(...terms);
  return top + Math.log(terms.reduce((a, t) => a + Math.exp(t - top), 0) / terms.length);
}

/**
 * ln of the normal-mixture likelihood ratio of a rank-sum excess `s` with variance `v`, the
 * drift drawn from a normal prior scaled to a reference variance; only an excess above zero counts.
 */
export function rankMixtureLogLR(s: number, v: number, reference: number): number {
  if (!(s > 0) || !(v > 0) || !(reference > 0)) return 0;
  const tau2 = 1 / reference;
  return -0.5 * Math.log(1 + tau2 * v) + (tau2 * s * s) / (2 * (1 + tau2 * v));
}

/**
 * The series the change detector watches, with their shares of its false-alarm budget: the
 * service-wide ones, which catch most regressions (per-route and per-message findings are
 * left to the windowed tests and their confirmation).
 */
const CHANGE_SHARES: ReadonlyMap<string, number> = new Map([['e|*', 0.35], ['l|*', 0.35], ['t95|*', 0.15], ['t99|*', 0.15]]);
/**
 * Drifts of the rank-sum excess per unit of its variance that the latency detector mixes
 * over: 12 x (P(canary slower than comparison) - 1/2), so 0.25 to 2 is about 2% to 17%.
 */
const CHANGE_RANK_DRIFTS = [0.25, 0.5, 1, 2];
/** Spacing of the change points the detector considers. */
const CHANGE_STEP_MS = 60_000;

/** A change point the detector considers: its first slice and ln of its prior weight. */
export interface ChangeStart {
  readonly slot: number;
  readonly logWeight: number;
}

/**
 * The per-slice log-likelihood ratios of one slice's summary `v`, one per effect size. For
 * counts, each event of the slice falls on the canary with its share of the traffic under
 * no difference (exactly binomial when events are Poisson at one rate per request), at odds
 * MIXTURE_ODDS under a change; the share is pooled over the slice's routes, which by
 * Jensen's inequality never overstates the per-route ratio. For ranks, the normal
 * likelihood ratio of the slice's rank-sum excess at drifts CHANGE_RANK_DRIFTS.
 */
export function changeTerms(kind: string, v: Float64Array, out: Float64Array): Float64Array {
  if (kind === 'l') {
    const excess = v[0] as number, variance = v[1] as number;
    for (let i = 0; i < CHANGE_RANK_DRIFTS.length; i++) {
      const d = CHANGE_RANK_DRIFTS[i] as number;
      out[i] = d * excess - (d * d * variance) / 2;
    }
    return out;
  }
  const x1 = v[1] as number, events = x1 + (v[3] as number), expected = v[4] as number;
  if (!(events > 0) || !(expected > 0)) return out.fill(0);
  const share = Math.min(expected / events, 1 - 1e-9);
  for (let i = 0; i < MIXTURE_ODDS.length; i++) {
    const odds = MIXTURE_ODDS[i] as number;
    out[i] = x1 * Math.log(odds) - events * Math.log1p((odds - 1) * share);
  }
  return out;
}

/** The detector's per-slice terms of one series, extended to slice `to` from the series' summaries. */
function changeTermsFor(state: JudgeState, key: string, kind: string, cum: Cumulative, to: number): Cumulative {
  const fields = kind === 'l' ? CHANGE_RANK_DRIFTS.length : MIXTURE_ODDS.length;
  let terms = state.changeTerms.get(key);
  if (!terms) state.changeTerms.set(key, (terms = new Cumulative(fields, state.ringSize)));
  if (Number.isNaN(cum.first)) return terms;
  const v = new Float64Array(cum.fields), out = new Float64Array(fields);
  const from = Math.max(Number.isNaN(terms.last) ? cum.first : terms.last + 1, to - state.ringSize + 1);
  for (let t = from; t <= Math.min(to, cum.last); t++) terms.append(t, changeTerms(kind, cum.at(t, v), out));
  return terms;
}

/**
 * The change points of a judgment at slice `to`: one a minute from its start, the k-th
 * with prior weight 1/((k+1)(k+2)) so that all of them together weigh at most 1, within
 * what the terms still hold. A signal's restart after a burst does not drop any: the
 * statistic leaves the strongest burst out by itself, and a burst that is over would
 * otherwise cost the evidence of a regression that began with it.
 */
export function changeStarts(startSlot: number, to: number, stepSlots: number, held: number): ChangeStart[] {
  const out: ChangeStart[] = [];
  for (let k = 0, slot = startSlot; slot <= to; k++, slot += stepSlots) {
    // Only points whose data the terms still hold whole: a clipped one would be a different bet.
    if (slot < to - held + 2) continue;
    out.push({ slot, logWeight: -Math.log((k + 1) * (k + 2)) });
  }
  return out;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * ln of the change detector's statistic at slice `to`: the prior-weighted sum over change
 * points of the likelihood ratio of the data since that point, mixed equally over effect
 * sizes (a Shiryaev-Roberts style mixture). Under no difference it is a mixture of test
 * martingales that weighs at most 1, so by Ville's inequality it ever reaches e^b with
 * probability at most e^-b, however long and often it is watched. Each ratio first loses
 * the strongest run of `burstSlots + 1` slices since its change point (a burst of up to
 * `burstSlots` slices, however aligned), which only lowers it: a burst alone never gets
 * there. Returns early, with a bound of the plain statistic, when even that stays below
 * `atLeast`.
 */
export function changeLogStatistic(terms: Cumulative, starts: readonly ChangeStart[], to: number, burstSlots: number, atLeast = -Infinity): number {
  if (starts.length === 0 || Number.isNaN(terms.first)) return -Infinity;
  const k = terms.fields;
  const logMix = -Math.log(k);
  const sums = starts.map((s) => terms.sum(s.slot, to, new Float64Array(k)));
  // The largest term times the number of terms bounds the sum: most looks end here, without exp.
  let top = -Infinity;
  for (let i = 0; i < starts.length; i++) {
    const w = (starts[i] as ChangeStart).logWeight + logMix;
    for (let f = 0; f < k; f++) top = Math.max(top, w + ((sums[i] as Float64Array)[f] as number));
  }
  const ceiling = top + Math.log(starts.length * k);
  if (ceiling < atLeast) return ceiling;
  let plain = -Infinity;
  for (let i = 0; i < starts.length; i++) {
    for (let f = 0; f < k; f++) plain = logAdd(plain, (starts[i] as ChangeStart).logWeight + logMix + ((sums[i] as Float64Array)[f] as number));
  }
  if (plain < atLeast) return plain;
  // Per effect size, the strongest run of b slices starting at or after each slice (suffix maxima).
  const b = burstSlots + 1;
  const lo = (starts[0] as ChangeStart).slot;
  const width = to - lo + 1;
  const per = new Float64Array(width * k);
  const one = new Float64Array(k);
  for (let t = lo; t <= to; t++) {
    terms.at(t, one);
    for (let f = 0; f < k; f++) per[(t - lo) * k + f] = one[f] as number;
  }
  const best = new Float64Array(width * k).fill(-Infinity);
  for (let f = 0; f < k; f++) {
    let run = 0;
    for (let t = to; t >= lo; t--) {
      run += per[(t - lo) * k + f] as number;
      if (t + b <= to) run -= per[(t + b - lo) * k + f] as number;
      const here = t + b - 1 <= to ? run : -Infinity;
      const later = t < to ? (best[(t + 1 - lo) * k + f] as number) : -Infinity;
      best[(t - lo) * k + f] = Math.max(here, later);
    }
  }
  let robust = -Infinity;
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i] as ChangeStart;
    for (let f = 0; f < k; f++) {
      const l = (sums[i] as Float64Array)[f] as number;
      const strongest = s.slot + b - 1 <= to ? (best[(s.slot - lo) * k + f] as number) : l;
      robust = logAdd(robust, s.logWeight + logMix + l - Math.max(0, strongest));
    }
  }
  return robust;
}

/**
 * Which of the watched series' change detectors stand above their bounds at slice `to`:
 * the judgment's change-point budget `changeAlpha` split by CHANGE_SHARES.
 */
function changedSeries(state: JudgeState, cmp: Comparison, to: number, cfg: RulesConfig): Set<string> {
  const out = new Set<string>();
  const sliceMs = cfg.window.sliceMs;
  const burstSlots = Math.ceil(cfg.judge.blipMs / sliceMs);
  const step = Math.max(1, Math.round(CHANGE_STEP_MS / sliceMs));
  for (const [key, share] of CHANGE_SHARES) {
    const cum = state.series.get(key);
    if (!cum || Number.isNaN(cum.first)) continue;
    const kind = key.slice(0, key.indexOf('|'));
    const terms = changeTermsFor(state, key, kind, cum, to);
    const starts = changeStarts(cmp.originSlot, to, step, terms.size);
    const bound = -Math.log(cfg.judge.changeAlpha * share);
    if (changeLogStatistic(terms, starts, to, burstSlots, bound) >= bound) out.add(key);
  }
  return out;
}

/** The signal of a test from its summary kind. */
function signalOf(kind: string): Signal {
  switch (kind) {
    case 'e': return 'errors';
    case 'l': return 'latency';
    case 't95': case 't99': return 'latency-tail';
    case 's': return 'new-error';
    default: return 'metric';
  }
}

function errorEffect(test: CountTest, label: string, route: string | undefined, windowMs: number): Effect {
  const r1 = test.x1 / test.n1;
  const r0 = test.alignedRatio0;
  return {
    summary: `5xx ratio ${pct(r1)} vs ${pct(r0)} on ${label} (${times(test.riskRatio)}) ${where(route)}, ${test.n1} requests in ${minutes(windowMs)}`,
    severity: r1 >= 0.05 || test.riskRatio >= 10 ? 'critical' : 'warning',
    magnitude: Math.min(test.riskRatio, 1000),
  };
}

function newErrorEffect(sig: string, count: number, version: string, label: string, windowMs: number): Effect {
  return {
    summary: `new error "${sig}" logged ${count} times by ${version} in ${minutes(windowMs)}, never seen on ${label}`,
    severity: 'warning',
    magnitude: count,
  };
}

function metricEffect(cfg: RulesConfig, name: string, c1: DDSketch | undefined, c0: DDSketch | undefined, label: string, n: number, windowMs: number): Effect | undefined {
  const lowerIsWorse = cfg.metrics.find((m) => m.name === name)?.worse === 'lower';
  const m1 = quantile(c1, 0.5), m0 = quantile(c0, 0.5);
  const ratio = lowerIsWorse ? m0 / m1 : m1 / m0;
  if (!(ratio >= cfg.judge.minMetricRatio)) return undefined;
  return {
    summary: `${name} median ${fmt(m1)} vs ${fmt(m0)} on ${label} (${lowerIsWorse ? 'lower' : 'higher'} is worse, ${times(ratio)}), ${n} samples in ${minutes(windowMs)}`,
    severity: 'warning',
    magnitude: ratio,
  };
}

/**
 * Tests against the previous version's history when the two never ran side by side (a
 * fleet-wide rollout): each test pools the window and the history into one stratum.
 */
function judgeAgainstHistory(cmp: Comparison, from: number, to: number, cfg: RulesConfig, known: ReadonlySet<string>, out: Candidate[]): void {
  const hist = cmp.history as { from: number; to: number };
  const j = cfg.judge;
  const windowMs = (to - from + 1) * cfg.window.sliceMs;
  const label = cmp.label;
  const routes = judgedRoutes(cmp.canary, cfg.window.maxRoutesPerService);
  const pooled = (route: string): CountStratum => {
    let n1 = 0, x1 = 0, n0 = 0, x0 = 0;
    const ring = cmp.canary.routes.get(route);
    if (ring) for (let t = from; t <= to; t++) { n1 += ring.requestsAt(t); x1 += ring.errorsAt(t); }
    for (const r of ringsOf(cmp.against, route, false)) for (let t = hist.from; t <= hist.to; t++) { n0 += r.requestsAt(t); x0 += r.errorsAt(t); }
    return { n1, x1, n0, x0 };
  };
  const vAll = new Float64Array(COUNT_FIELDS);
  for (const route of routes) {
    const s = pooled(route);
    addCountStratum(vAll, s);
    if (routes.length > 1) {
      const v = new Float64Array(COUNT_FIELDS);
      addCountStratum(v, s);
      pushError(v, route);
    }
  }
  pushError(vAll, undefined);

  function pushError(v: Float64Array, route: string | undefined): void {
    const test = countTestFromSums(v);
    if (test.x1 < j.minErrors || test.strata === 0) return;
    out.push({
      key: `errors|${route ?? ALL}`, signal: 'errors', route, p: test.p, weight: route === undefined ? MAIN_WEIGHT : 1, windowMs,
      describe: () => (test.riskRatio >= j.minErrorRatio && test.x1 / test.n1 - test.alignedRatio0 >= j.minErrorRatioIncrease
        ? errorEffect(test, label, route, windowMs) : undefined),
    });
  }

  const c1 = sketchOver(routes.flatMap((r) => ringsOf([cmp.canary], r, false)), from, to);
  const c0 = sketchOver(routes.flatMap((r) => ringsOf(cmp.against, r, false)), hist.from, hist.to);
  if (c1 && c0 && c1.count >= j.minLatencySamples && c0.count >= j.minLatencySamples) {
    const rank = rankOfSketches([c1], [c0]);
    out.push({
      key: `latency|${ALL}`, signal: 'latency', route: undefined, p: rankTestP(rank), weight: MAIN_WEIGHT, windowMs,
      describe: () => {
        const ratio = quantile(c1, 0.5) / quantile(c0, 0.5);
        return ratio >= j.minLatencyRatio ? {
          summary: `median latency ${ms(quantile(c1, 0.5))} vs ${ms(quantile(c0, 0.5))} on ${label} (${times(ratio)}), ${c1.count} requests in ${minutes(windowMs)}`,
          severity: ratio >= 2 ? 'critical' : 'warning', magnitude: ratio,
        } : undefined;
      },
    });
  }

  const sigs = new Map<string, number>();
  for (let t = from; t <= to; t++) for (const [sig, c] of cmp.canary.signatures.bySlot.get(t) ?? []) sigs.set(sig, (sigs.get(sig) ?? 0) + c);
  let n1 = 0, n0 = 0;
  for (let t = from; t <= to; t++) n1 += exposure([cmp.canary], t);
  for (let t = hist.from; t <= hist.to; t++) n0 += exposure(cmp.against, t);
  for (const [sig, x1] of [...sigs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (known.has(sig) || x1 < j.minNewSignatureCount) continue;
    const v = new Float64Array(COUNT_FIELDS);
    addCountStratum(v, { n1, x1, n0, x0: 0 });
    const test = countTestFromSums(v);
    out.push({
      key: `new-error|${sig}`, signal: 'new-error', route: undefined, p: test.p, weight: 1, windowMs,
      describe: () => newErrorEffect(sig, x1, cmp.canary.version, label, windowMs),
    });
  }
}
