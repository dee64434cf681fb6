/**
 * The canary judge: one version's series against a time-aligned comparison (its baseline,
 * else the stable fleet), slice for slice, per signal and per route. It proposes tests with
 * p-values; the caller splits the false-alarm budget over all of them and keeps the
 * findings that clear it and the practical effect floors.
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { RulesConfig } from './config.js';
import type { Severity } from './decisions.js';
import {
  type CountStratum, type RankContribution, NO_RANK, addRank, rankContribution, rankTestP,
  stratifiedCountTest, withoutWorst,
} from './stats.js';
import { mergeSketchInto, quantile, sketchBins } from './aggregate.js';
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
  readonly windowMs: number;
  /** Checks the effect floors and writes the sentence; undefined when the effect is too small to matter. */
  readonly describe: () => Effect | undefined;
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
  /** First slice of the canary's life (the judge never looks earlier). */
  readonly startSlot: number;
  /**
   * For a rollout with no overlap, the slices of the previous version's history that
   * stand in for a time-aligned comparison (pooled as one stratum).
   */
  readonly history?: { readonly from: number; readonly to: number };
}

/**
 * Per-slice test contributions cached per comparison. A closed slice never changes (late
 * events past the watermark are dropped), so each is computed once, not once per evaluation.
 */
export class SliceCache {
  private readonly entries = new Map<string, unknown>();
  constructor(readonly signature: string) {}
  get<T>(key: string, compute: () => T): T {
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const v = compute();
    this.entries.set(key, v);
    return v;
  }
  prune(oldestSlot: number): void {
    for (const k of this.entries.keys()) {
      const slot = Number(k.slice(0, k.indexOf('|')));
      if (slot < oldestSlot) this.entries.delete(k);
    }
  }
}

const ALL = undefined;

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

function minutes(windowMs: number): string {
  const m = windowMs / 60_000;
  return m >= 1 ? `${Number.isInteger(m) ? m : m.toFixed(1)} min` : `${Math.round(windowMs / 1000)} s`;
}

function where(route: string | undefined): string {
  return route === undefined ? 'across all routes' : `on ${route}`;
}

/** Sum of one route's requests and errors over a set of cohorts at a slice. */
function countsAt(cohorts: readonly Cohort[], route: string, slot: number): { n: number; x: number } {
  let n = 0, x = 0;
  for (const c of cohorts) {
    const r = c.routes.get(route);
    if (r) { n += r.requestsAt(slot); x += r.errorsAt(slot); }
  }
  return { n, x };
}

function ringsOf(cohorts: readonly Cohort[], route: string, metric: boolean): SliceRing[] {
  const out: SliceRing[] = [];
  for (const c of cohorts) {
    const r = (metric ? c.metrics : c.routes).get(route);
    if (r) out.push(r);
  }
  return out;
}

function sketchOver(rings: readonly SliceRing[], from: number, to: number, only?: ReadonlySet<number>): DDSketch | undefined {
  let s: DDSketch | undefined;
  for (const r of rings) for (let t = from; t <= to; t++) if (!only || only.has(t)) s = mergeSketchInto(s, r.sketchAt(t));
  return s;
}

/** Runs every test for one comparison over one window [from, to] (slice numbers, inclusive). */
export function judgeWindow(
  cmp: Comparison, from: number, to: number, cfg: RulesConfig, cache: SliceCache,
  knownSignatures: ReadonlySet<string>, out: Candidate[],
): void {
  const j = cfg.judge;
  const sliceMs = cfg.window.sliceMs;
  const windowMs = (to - from + 1) * sliceMs;
  const drop = Math.round(j.blipMs / sliceMs);
  const canary = cmp.canary;
  const hist = cmp.history;
  const label = cmp.label;

  // Routes the canary served in the window, busiest first, capped.
  const routeTraffic: [string, number][] = [];
  for (const [route, ring] of canary.routes) {
    let n = 0;
    for (let t = from; t <= to; t++) n += ring.requestsAt(t);
    if (n > 0) routeTraffic.push([route, n]);
  }
  routeTraffic.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const routes = routeTraffic.slice(0, cfg.window.maxRoutesPerService).map((r) => r[0]);
  const canaryRequests = routeTraffic.reduce((a, r) => a + r[1], 0);
  if (canaryRequests === 0 && canary.metrics.size === 0 && canary.signatures.bySlot.size === 0) return;

  // ---- error ratio: strata are (slice, route); a pooled history stratum stands in when not aligned.
  const errorStrata = (route: string | undefined): { slot: number; s: CountStratum }[] => {
    const list: { slot: number; s: CountStratum }[] = [];
    const rs = route === ALL ? routes : [route];
    for (const r of rs) {
      const ring = canary.routes.get(r);
      if (!ring) continue;
      if (hist) {
        let n1 = 0, x1 = 0;
        for (let t = from; t <= to; t++) { n1 += ring.requestsAt(t); x1 += ring.errorsAt(t); }
        let n0 = 0, x0 = 0;
        for (let t = hist.from; t <= hist.to; t++) { const c = countsAt(cmp.against, r, t); n0 += c.n; x0 += c.x; }
        list.push({ slot: from, s: { n1, x1, n0, x0 } });
        continue;
      }
      for (let t = from; t <= to; t++) {
        const n1 = ring.requestsAt(t);
        if (n1 === 0) continue;
        const c = countsAt(cmp.against, r, t);
        list.push({ slot: t, s: { n1, x1: ring.errorsAt(t), n0: c.n, x0: c.x } });
      }
    }
    return list;
  };

  const trimBySlot = <T extends { slot: number }>(list: T[], excess: (e: T) => number): T[] => {
    if (hist || drop <= 0) return list;
    const bySlot = new Map<number, number>();
    for (const e of list) bySlot.set(e.slot, (bySlot.get(e.slot) ?? 0) + excess(e));
    const worst = withoutWorst([...bySlot.entries()], drop, (s) => s[1]);
    const keep = new Set(worst.map((s) => s[0]));
    return list.filter((e) => keep.has(e.slot));
  };

  const countExcess = (e: { s: CountStratum }): number => {
    const n = e.s.n1 + e.s.n0;
    return n > 0 && e.s.n0 > 0 ? e.s.x1 - (e.s.n1 * (e.s.x1 + e.s.x0)) / n : 0;
  };

  const recentFrom = to - Math.max(1, Math.round(j.recentMs / sliceMs)) + 1;
  /** Whether the canary is still worse in the most recent slices (no echo of an old burst). */
  const stillWorse = <T extends { slot: number }>(list: readonly T[], excess: (e: T) => number): boolean => {
    if (hist) return true;
    let sum = 0;
    for (const e of list) if (e.slot >= recentFrom) sum += excess(e);
    return sum > 0;
  };

  const errorCandidate = (route: string | undefined): void => {
    const all = errorStrata(route);
    const test = stratifiedCountTest(all.map((e) => e.s));
    if (test.x1 < j.minErrors || test.strata === 0) return;
    out.push({
      key: `errors|${route ?? '*'}`, signal: 'errors', route, p: test.p, windowMs,
      describe: () => {
        // The effect must survive leaving out the worst burst, and still be there now.
        const trimmed = stratifiedCountTest(trimBySlot(all, countExcess).map((e) => e.s));
        if (trimmed.p > j.confirmAlpha || !stillWorse(all, countExcess)) return undefined;
        const floor = (t: typeof test): boolean =>
          t.riskRatio >= j.minErrorRatio && t.x1 / t.n1 - t.alignedRatio0 >= j.minErrorRatioIncrease;
        if (!floor(test) || !floor(trimmed)) return undefined;
        const r1 = test.x1 / test.n1;
        const r0 = test.alignedRatio0;
        return {
          summary: `5xx ratio ${pct(r1)} vs ${pct(r0)} on ${label} (${times(test.riskRatio)}) ${where(route)}, ${test.n1} requests in ${minutes(windowMs)}`,
          severity: r1 >= 0.05 || test.riskRatio >= 10 ? 'critical' : 'warning',
          magnitude: Math.min(test.riskRatio, 1000),
        };
      },
    });
  };

  errorCandidate(ALL);
  if (routes.length > 1) for (const r of routes) errorCandidate(r);

  // ---- latency: whole distribution (stratified rank-sum) and tail (exceedance of the pooled quantile).
  const rankAt = (route: string, slot: number, metric: boolean): RankContribution => {
    return cache.get<RankContribution>(`${slot}|${metric ? 'm' : 'r'}|${route}`, () => {
      const c1 = (metric ? canary.metrics : canary.routes).get(route)?.sketchAt(slot);
      if (!c1 || c1.count === 0) return NO_RANK;
      let c0: DDSketch | undefined;
      for (const r of ringsOf(cmp.against, route, metric)) c0 = mergeSketchInto(c0, r.sketchAt(slot));
      if (!c0) return NO_RANK;
      const b1 = sketchBins(c1);
      const b0 = sketchBins(c0);
      return rankContribution(b1.keys, b1.counts, b0.keys, b0.counts);
    });
  };

  const pooledRank = (route: string, metric: boolean): RankContribution => {
    if (!hist) return NO_RANK;
    const c1 = sketchOver(ringsOf([canary], route, metric), from, to);
    const c0 = sketchOver(ringsOf(cmp.against, route, metric), hist.from, hist.to);
    if (!c1 || !c0) return NO_RANK;
    const b1 = sketchBins(c1);
    const b0 = sketchBins(c0);
    return rankContribution(b1.keys, b1.counts, b0.keys, b0.counts);
  };

  const rankOver = (rs: readonly string[], metric: boolean, flip: boolean): { total: RankContribution; recent: boolean } => {
    if (hist) {
      let acc = NO_RANK;
      for (const r of rs) acc = addRank(acc, pooledRank(r, metric));
      return { total: flip ? flipRank(acc) : acc, recent: true };
    }
    const perSlot: { slot: number; c: RankContribution }[] = [];
    for (let t = from; t <= to; t++) {
      let acc = NO_RANK;
      for (const r of rs) acc = addRank(acc, rankAt(r, t, metric));
      if (acc.pairs > 0) perSlot.push({ slot: t, c: flip ? flipRank(acc) : acc });
    }
    let total = NO_RANK;
    for (const e of perSlot) total = addRank(total, e.c);
    let trimmed = NO_RANK;
    for (const e of trimBySlot(perSlot, (x) => x.c.excess / Math.sqrt(x.c.variance || 1))) trimmed = addRank(trimmed, e.c);
    return { total, recent: stillWorse(perSlot, (e) => e.c.excess) && rankTestP(trimmed) <= j.confirmAlpha };
  };

  const compareRange = (rs: readonly string[], metric: boolean): { c1?: DDSketch; c0?: DDSketch } => {
    const c1 = sketchOver(rs.flatMap((r) => ringsOf([canary], r, metric)), from, to);
    const c0 = hist
      ? sketchOver(rs.flatMap((r) => ringsOf(cmp.against, r, metric)), hist.from, hist.to)
      : sketchOver(rs.flatMap((r) => ringsOf(cmp.against, r, metric)), from, to);
    return { c1, c0 };
  };

  const latencyCandidates = (route: string | undefined): void => {
    const rs = route === ALL ? routes : [route];
    const { total: rank, recent } = rankOver(rs, false, false);
    if (rank.n1 < j.minLatencySamples || rank.n0 < j.minLatencySamples) return;
    out.push({
      key: `latency|${route ?? '*'}`, signal: 'latency', route, p: rankTestP(rank), windowMs,
      describe: () => {
        if (!recent) return undefined;
        // Medians barely move for a short burst, so the floor on them needs no trimming.
        const { c1, c0 } = compareRange(rs, false);
        const m1 = quantile(c1, 0.5), m0 = quantile(c0, 0.5);
        const ratio = m1 / m0;
        if (!(ratio >= j.minLatencyRatio)) return undefined;
        const p99a = quantile(c1, 0.99), p99b = quantile(c0, 0.99);
        return {
          summary: `median latency ${ms(m1)} vs ${ms(m0)} on ${label} (${times(ratio)}), p99 ${ms(p99a)} vs ${ms(p99b)}, ${where(route)}, ${rank.n1} requests in ${minutes(windowMs)}`,
          severity: ratio >= 2 ? 'critical' : 'warning',
          magnitude: ratio,
        };
      },
    });
    for (const q of [0.95, 0.99]) tailCandidate(route, rs, q);
  };

  const tailCandidate = (route: string | undefined, rs: readonly string[], q: number): void => {
    const strata: { slot: number; s: CountStratum }[] = [];
    const exceedance = (c1: DDSketch | undefined, c0: DDSketch | undefined): CountStratum | undefined => {
      if (!c1 || !c0 || c1.count === 0 || c0.count === 0) return undefined;
      // The threshold comes from the pooled slice, so canary and comparison are exchangeable under no difference.
      const pooled = mergeSketchInto(mergeSketchInto(undefined, c1), c0);
      const threshold = quantile(pooled, q);
      return { n1: c1.count, x1: countAbove(c1, threshold), n0: c0.count, x0: countAbove(c0, threshold) };
    };
    const canaryRings = rs.flatMap((r) => ringsOf([canary], r, false));
    const againstRings = rs.flatMap((r) => ringsOf(cmp.against, r, false));
    if (hist) {
      const { c1, c0 } = compareRange(rs, false);
      const s = exceedance(c1, c0);
      if (s) strata.push({ slot: from, s });
    } else {
      for (let t = from; t <= to; t++) {
        const s = cache.get<CountStratum | undefined>(`${t}|q${q}|${route ?? '*'}`,
          () => exceedance(sketchOver(canaryRings, t, t), sketchOver(againstRings, t, t)));
        if (s) strata.push({ slot: t, s });
      }
    }
    const test = stratifiedCountTest(strata.map((e) => e.s));
    if (test.n1 < j.minLatencySamples || test.n0 < j.minLatencySamples) return;
    const label99 = q === 0.99 ? 'p99' : 'p95';
    out.push({
      key: `latency-tail|${label99}|${route ?? '*'}`, signal: 'latency-tail', route, p: test.p, windowMs,
      describe: () => {
        if (!stillWorse(strata, countExcess)) return undefined;
        if (stratifiedCountTest(trimBySlot(strata, countExcess).map((e) => e.s)).p > j.confirmAlpha) return undefined;
        const { c1, c0 } = compareRange(rs, false);
        const t1 = quantile(c1, q), t0 = quantile(c0, q);
        const ratio = t1 / t0;
        if (!(ratio >= j.minTailRatio)) return undefined;
        // A tail made by one short burst is not a regression: the quantile without the worst slices must move too.
        if (!hist) {
          const keep = new Set(trimBySlot(strata, countExcess).map((e) => e.slot));
          const k1 = sketchOver(canaryRings, from, to, keep);
          const k0 = sketchOver(againstRings, from, to, keep);
          if (!(quantile(k1, q) / quantile(k0, q) >= j.minTailRatio)) return undefined;
        }
        const m1 = quantile(c1, 0.5), m0 = quantile(c0, 0.5);
        return {
          summary: `${label99} latency ${ms(t1)} vs ${ms(t0)} on ${label} (${times(ratio)}), median ${ms(m1)} vs ${ms(m0)}, ${where(route)}, ${test.n1} requests in ${minutes(windowMs)}`,
          severity: ratio >= 3 ? 'critical' : 'warning',
          magnitude: ratio,
        };
      },
    });
  };

  if (canaryRequests > 0) {
    latencyCandidates(ALL);
    if (routes.length > 1) for (const r of routes) latencyCandidates(r);
  }

  // ---- new error signatures: present in the canary, never on the comparison or the known fleet.
  const canarySigs = new Map<string, number>();
  for (let t = from; t <= to; t++) {
    const m = canary.signatures.bySlot.get(t);
    if (m) for (const [sig, c] of m) canarySigs.set(sig, (canarySigs.get(sig) ?? 0) + c);
  }
  const exposure = (cohorts: readonly Cohort[], t: number): number => {
    let n = 0;
    for (const c of cohorts) {
      for (const r of c.routes.values()) n += r.requestsAt(t);
    }
    if (n > 0) return n;
    for (const c of cohorts) n += c.logLines.requestsAt(t);
    return n;
  };
  for (const [sig, count] of [...canarySigs.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (count < j.minNewSignatureCount || knownSignatures.has(sig)) continue;
    const strata: { slot: number; s: CountStratum }[] = [];
    for (let t = from; t <= to; t++) {
      const n1 = exposure([canary], t);
      if (n1 === 0) continue;
      let x0 = 0;
      for (const c of cmp.against) x0 += c.signatures.bySlot.get(t)?.get(sig) ?? 0;
      const n0 = hist ? 0 : exposure(cmp.against, t);
      strata.push({ slot: t, s: { n1, x1: canary.signatures.bySlot.get(t)?.get(sig) ?? 0, n0, x0 } });
    }
    if (hist) {
      // Against history: the signature is new if the old version never logged it; test its rate
      // against the old version's exposure as one stratum.
      let n1 = 0, x1 = 0, n0 = 0;
      for (const e of strata) { n1 += e.s.n1; x1 += e.s.x1; }
      for (let t = hist.from; t <= hist.to; t++) n0 += exposure(cmp.against, t);
      strata.length = 0;
      strata.push({ slot: from, s: { n1, x1, n0, x0: 0 } });
    }
    const test = stratifiedCountTest(strata.map((e) => e.s));
    if (test.x0 > 0 || test.x1 < j.minNewSignatureCount) continue;
    out.push({
      key: `new-error|${sig}`, signal: 'new-error', route: undefined, p: test.p, windowMs,
      describe: () => stillWorse(strata, (e) => e.s.x1) &&
        stratifiedCountTest(trimBySlot(strata, countExcess).map((e) => e.s)).p <= j.confirmAlpha ? ({
        summary: `new error "${sig}" logged ${test.x1} times by ${canary.version} in ${minutes(windowMs)}, never seen on ${label}`,
        severity: 'warning',
        magnitude: test.x1,
      }) : undefined,
    });
  }

  // ---- other metrics: judged as distributions, direction from the rules.
  for (const name of [...canary.metrics.keys()].sort()) {
    const lowerIsWorse = cfg.metrics.find((m) => m.name === name)?.worse === 'lower';
    const { total: rank, recent } = rankOver([name], true, lowerIsWorse);
    if (rank.n1 < j.minLatencySamples / 5 || rank.n0 < j.minLatencySamples / 5) continue;
    out.push({
      key: `metric|${name}`, signal: 'metric', route: undefined, p: rankTestP(rank), windowMs,
      describe: () => {
        if (!recent) return undefined;
        const { c1, c0 } = compareRange([name], true);
        const m1 = quantile(c1, 0.5), m0 = quantile(c0, 0.5);
        const ratio = lowerIsWorse ? m0 / m1 : m1 / m0;
        if (!(ratio >= j.minMetricRatio)) return undefined;
        return {
          summary: `${name} median ${fmt(m1)} vs ${fmt(m0)} on ${label} (${lowerIsWorse ? 'lower' : 'higher'} is worse, ${times(ratio)}), ${rank.n1} samples in ${minutes(windowMs)}`,
          severity: 'warning',
          magnitude: ratio,
        };
      },
    });
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function flipRank(c: RankContribution): RankContribution {
  return { ...c, excess: -c.excess, u: c.pairs - c.u };
}

/** Count of a sketch's values above a threshold (bins whose value exceeds it). */
function countAbove(s: DDSketch, threshold: number): number {
  const { keys, counts } = sketchBins(s);
  if (keys.length === 0) return 0;
  // Bin order keys of positive values are mapping keys; compare through the mapping.
  const tKey = threshold > 0 ? s.mapping.key(threshold) : -Infinity;
  let above = 0;
  for (let i = 0; i < keys.length; i++) if ((keys[i] as number) > tKey) above += counts[i] as number;
  return above;
}
