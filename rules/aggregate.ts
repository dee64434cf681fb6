/**
 * Latency sketches and what the judge reads from them. Merging sketches is associative
 * with the empty sketch as identity (bins add up), which is what lets slices combine into
 * windows in any grouping; the count side of a slice is a vector that simply adds.
 */
import { DDSketch } from '@datadog/sketches-js';
import { type RankContribution, NO_RANK, rankContribution, rankFromU } from './stats.js';

/** Relative accuracy shared by every sketch, so any two can merge. */
export let sketchAccuracy = 0.02;

/** Sets the sketch accuracy; only before any sketch exists (engine creation). */
export function setSketchAccuracy(relativeAccuracy: number): void {
  sketchAccuracy = relativeAccuracy;
}

/** Order key of zero values: above every negative value's key, below every positive one's. */
export const ZERO_KEY = -1e9 + 1e8;
/** A negative value's order key is this minus its negative-store key, so that keys sort like values. */
export const NEGATIVE_BASE = -1e9;

/** Bins a sketch's stores grow by: small, since most slices hold few values. */
const SKETCH_CHUNK_BINS = 16;
let sharedMapping: DDSketch['mapping'] | undefined;

/**
 * A new, empty latency sketch. Judged services keep one per slice and route, mostly with a
 * handful of values, so the stores grow in small steps and all sketches share one mapping
 * (it holds only the accuracy constants) instead of the library's 128-bin first step each.
 */
export function newSketch(chunkBins = SKETCH_CHUNK_BINS): DDSketch {
  const s = new DDSketch({ relativeAccuracy: sketchAccuracy });
  if (sharedMapping?.relativeAccuracy !== s.mapping.relativeAccuracy) sharedMapping = s.mapping;
  s.mapping = sharedMapping;
  s.store.chunkSize = chunkBins;
  s.negativeStore.chunkSize = chunkBins;
  return s;
}

/** Emptied open-slice sketches, waiting to be used again. */
const spare: DDSketch[] = [];
const SPARE_LIMIT = 1 << 16;
/** Sketches whose bins grew past this are not kept for reuse. */
const SPARE_MAX_BINS = 64;

/** An empty sketch for an open slice: a spare one when there is one. */
export function openSketch(): DDSketch {
  const s = spare.pop();
  return s !== undefined && s.mapping === sharedMapping ? s : newSketch();
}

/**
 * Empties a sketch whose values have been read out (its slice closed and was packed) and
 * keeps it for the next open slice. A slice's sketch lives for seconds of event time: made
 * anew each time, each one outlives the young generation and dies in the old one, where
 * collecting it costs far more than emptying it here does.
 */
export function releaseSketch(s: DDSketch): void {
  if (spare.length >= SPARE_LIMIT || s.mapping !== sharedMapping) return;
  if (s.store.bins.length > SPARE_MAX_BINS || s.negativeStore.bins.length > SPARE_MAX_BINS) return;
  emptyStore(s.store);
  emptyStore(s.negativeStore);
  s.zeroCount = 0;
  s.count = 0;
  s.min = Infinity;
  s.max = -Infinity;
  s.sum = 0;
  spare.push(s);
}

/**
 * Empties a store but keeps its bins, marked as spanning their whole key range: values that
 * fall in it are then added without the store laying its bins out again (which allocates).
 * Readers skip empty bins, so the wider range changes no count or quantile.
 */
function emptyStore(st: DDSketch['store']): void {
  st.count = 0;
  if (st.bins.length === 0) {
    st.minKey = Infinity;
    st.maxKey = -Infinity;
    return;
  }
  st.bins.fill(0);
  st.minKey = st.offset;
  st.maxKey = st.offset + st.bins.length - 1;
}

/** Adds `from`'s sketch into `into` (created when absent); returns the sketch. */
export function mergeSketchInto(into: DDSketch | undefined, from: DDSketch | undefined): DDSketch | undefined {
  if (!from || from.count === 0) return into;
  const target = into ?? newSketch();
  // Bin by bin rather than with the library's merge: its store merge can drop bins when the
  // keys of one store reach far past the other's range, and it leaves the negative store out
  // altogether (DataDog/sketches-js#22). Adding a bin is what accept() does, well trodden.
  addStore(target.store, from.store);
  addStore(target.negativeStore, from.negativeStore);
  target.zeroCount += from.zeroCount;
  target.count += from.count;
  target.sum += from.sum;
  if (from.min < target.min) target.min = from.min;
  if (from.max > target.max) target.max = from.max;
  return target;
}

function addStore(to: DDSketch['store'], from: DDSketch['store']): void {
  if (from.count === 0) return;
  for (let k = from.minKey; k <= from.maxKey; k++) {
    const c = from.bins[k - from.offset] ?? 0;
    if (c > 0) to.add(k, c);
  }
}

/**
 * The bins of a sketch in ascending value order, as parallel arrays of an order key and
 * a count: negative values first, then zeros, then positive values. This is what the
 * rank tests read; quantiles come from the sketch itself.
 */
export function sketchBins(s: DDSketch | undefined): { keys: number[]; counts: number[] } {
  const keys: number[] = [];
  const counts: number[] = [];
  if (!s || s.count === 0) return { keys, counts };
  const neg = s.negativeStore;
  if (neg.count > 0) {
    // Larger negative-store keys are more negative values, so walk them downwards.
    for (let k = neg.maxKey; k >= neg.minKey; k--) {
      const c = neg.bins[k - neg.offset] ?? 0;
      if (c > 0) { keys.push(NEGATIVE_BASE - k); counts.push(c); }
    }
  }
  if (s.zeroCount > 0) { keys.push(ZERO_KEY); counts.push(s.zeroCount); }
  const pos = s.store;
  if (pos.count > 0) {
    for (let k = pos.minKey; k <= pos.maxKey; k++) {
      const c = pos.bins[k - pos.offset] ?? 0;
      if (c > 0) { keys.push(k); counts.push(c); }
    }
  }
  return { keys, counts };
}

/** Values at the given quantiles, or NaN for an empty sketch. */
export function quantile(s: DDSketch | undefined, q: number): number {
  if (!s || s.count === 0) return NaN;
  return s.getValueAtQuantile(q);
}

/** Whether every sketch holds only zero and positive values (the fast paths below need that). */
function nonNegative(sketches: readonly DDSketch[]): boolean {
  for (const s of sketches) if (s.negativeStore.count > 0) return false;
  return true;
}

/** Sum of the bins of several sketches' positive stores at `key`. */
function binAt(sketches: readonly DDSketch[], key: number): number {
  let c = 0;
  for (const s of sketches) {
    const st = s.store;
    if (st.count > 0 && key >= st.minKey && key <= st.maxKey) c += st.bins[key - st.offset] ?? 0;
  }
  return c;
}

function keyRange(sketches: readonly DDSketch[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const s of sketches) {
    if (s.store.count === 0) continue;
    if (s.store.minKey < lo) lo = s.store.minKey;
    if (s.store.maxKey > hi) hi = s.store.maxKey;
  }
  return [lo, hi];
}

function totals(sketches: readonly DDSketch[]): { n: number; zeros: number } {
  let n = 0, zeros = 0;
  for (const s of sketches) { n += s.count; zeros += s.zeroCount; }
  return { n, zeros };
}

function merged(sketches: readonly DDSketch[]): DDSketch | undefined {
  let m: DDSketch | undefined;
  for (const s of sketches) m = mergeSketchInto(m, s);
  return m;
}

/**
 * Rank-sum contribution of the canary's sketches against the comparison's, read straight
 * from the bins of both sides (no merged copies): the hot loop of the latency judge.
 */
export function rankOfSketches(c1: readonly DDSketch[], c0: readonly DDSketch[]): RankContribution {
  if (!nonNegative(c1) || !nonNegative(c0)) {
    const b1 = sketchBins(merged(c1)), b0 = sketchBins(merged(c0));
    return rankContribution(b1.keys, b1.counts, b0.keys, b0.counts);
  }
  const t1 = totals(c1), t0 = totals(c0);
  if (t1.n === 0 || t0.n === 0) return NO_RANK;
  let u = t1.zeros * (t0.zeros / 2);
  let below0 = t0.zeros;
  let tie = (t1.zeros + t0.zeros) ** 3 - (t1.zeros + t0.zeros);
  const [lo, hi] = keyRange([...c1, ...c0]);
  for (let k = lo; k <= hi; k++) {
    const a = binAt(c1, k), b = binAt(c0, k);
    if (a === 0 && b === 0) continue;
    u += a * (below0 + b / 2);
    below0 += b;
    const t = a + b;
    tie += t * t * t - t;
  }
  return rankFromU(u, t1.n, t0.n, tie);
}

/** The key of the value a sketch gives for bin `key` (what quantileKey returns for a quantile in that bin). */
export function roundTripKey(key: number): number {
  const mapping = sharedMapping?.relativeAccuracy === sketchAccuracy ? sharedMapping : newSketch().mapping;
  return mapping.key(mapping.value(key));
}

/** The bin key of a sketch's `q` quantile; -Infinity when that quantile is zero or below. */
export function quantileKey(s: DDSketch, q: number): number {
  const v = s.getValueAtQuantile(q);
  return v > 0 ? s.mapping.key(v) : -Infinity;
}
