/**
 * Closed slices' latency bins, packed. A slice's sketch takes values only while its slice is
 * open; once the watermark closes it, what the judge reads from it is its list of non-empty
 * bins. A judged series keeps those lists for every slice of the horizon, mostly a handful of
 * bins each, so they live in one growing Int32Array per series rather than as one sketch
 * object per slice (which costs hundreds of bytes even when it holds a single value).
 *
 * Bins are identified by an order key that sorts like the values they hold: a positive
 * value's key is the sketch mapping's key, zeros share ZERO_KEY, and a negative value's key
 * is NEGATIVE_BASE minus its negative-store key (aggregate.ts).
 */
import type { DDSketch } from '@datadog/sketches-js';
import { NEGATIVE_BASE, ZERO_KEY, newSketch, roundTripKey } from './aggregate.js';
import { type RankContribution, rankContribution } from './stats.js';


/** A slice's bins: order keys ascending, each followed by its count, as [k, c, k, c, ...]. */
export type Bins = Int32Array;

/**
 * The packed bins of one series' closed slices, oldest first. A record is
 * [slot - base, number of bins, key, count, key, count, ...]; counts are whole numbers,
 * since slice sketches take single values and are never merged into.
 */
export class BinLog {
  private data = new Int32Array(0);
  /** Offsets of the oldest record, the newest record, and the end of the records. */
  private first = 0;
  private newest = -1;
  private end = 0;
  private base = Number.NaN;
  /**
   * Offset of the record at() found last (-1: none): the judge reads slices in increasing
   * order, so the next search starts there rather than at the oldest record.
   */
  private cursor = -1;

  /** Appends slice `slot`'s sketch; slots come in increasing order. Empty sketches are skipped. */
  append(slot: number, s: DDSketch): void {
    if (s.count === 0) return;
    if (Number.isNaN(this.base)) this.base = slot;
    const neg = s.negativeStore, pos = s.store;
    const width = (neg.count > 0 ? neg.maxKey - neg.minKey + 1 : 0) + 1 + (pos.count > 0 ? pos.maxKey - pos.minKey + 1 : 0);
    this.reserve(2 + 2 * width);
    const d = this.data;
    const at = this.end;
    let o = at + 2, n = 0;
    if (neg.count > 0) {
      // Larger negative-store keys are more negative values: walk them downwards.
      for (let k = neg.maxKey; k >= neg.minKey; k--) {
        const c = neg.bins[k - neg.offset] ?? 0;
        if (c > 0) { d[o++] = NEGATIVE_BASE - k; d[o++] = c; n++; }
      }
    }
    if (s.zeroCount > 0) { d[o++] = ZERO_KEY; d[o++] = s.zeroCount; n++; }
    if (pos.count > 0) {
      for (let k = pos.minKey; k <= pos.maxKey; k++) {
        const c = pos.bins[k - pos.offset] ?? 0;
        if (c > 0) { d[o++] = k; d[o++] = c; n++; }
      }
    }
    d[at] = slot - this.base;
    d[at + 1] = n;
    this.newest = at;
    this.end = o;
  }

  /** Forgets the slices before `oldest`. */
  dropBefore(oldest: number): void {
    const rel = oldest - this.base;
    while (this.first < this.end && (this.data[this.first] as number) < rel) {
      this.first += 2 + 2 * (this.data[this.first + 1] as number);
    }
    if (this.first >= this.end) {
      this.first = this.end = 0;
      this.newest = -1;
    }
    if (this.cursor < this.first || this.cursor >= this.end) this.cursor = -1;
  }

  /** The bins of slice `slot`, or undefined when it had no values (or is no longer kept). */
  at(slot: number): Bins | undefined {
    const rel = slot - this.base;
    if (this.newest >= 0 && this.data[this.newest] === rel) return this.view(this.newest);
    const from = this.cursor >= 0 && (this.data[this.cursor] as number) <= rel ? this.cursor : this.first;
    for (let o = from; o < this.end; o += 2 + 2 * (this.data[o + 1] as number)) {
      const r = this.data[o] as number;
      if (r === rel) {
        this.cursor = o;
        return this.view(o);
      }
      if (r > rel) break;
    }
    return undefined;
  }

  /** Calls `f` with the bins of every kept slice in [from, to], oldest first. */
  forEach(from: number, to: number, f: (bins: Bins) => void): void {
    const lo = from - this.base, hi = to - this.base;
    for (let o = this.first; o < this.end; o += 2 + 2 * (this.data[o + 1] as number)) {
      const r = this.data[o] as number;
      if (r > hi) break;
      if (r >= lo) f(this.view(o));
    }
  }

  private view(o: number): Bins {
    return this.data.subarray(o + 2, o + 2 + 2 * (this.data[o + 1] as number));
  }

  /** Room for `need` more entries: the live records move to the front, into a larger array when needed. */
  private reserve(need: number): void {
    if (this.end + need <= this.data.length) return;
    const live = this.end - this.first;
    const target = live + need;
    // Moving the records costs a copy of them: room for a quarter more keeps that rare enough.
    const next = target <= this.data.length * 0.75 ? this.data : new Int32Array(Math.ceil((target * 1.5) / 64) * 64);
    if (next === this.data) this.data.copyWithin(0, this.first, this.end);
    else next.set(this.data.subarray(this.first, this.end));
    this.newest = this.newest >= 0 ? this.newest - this.first : -1;
    this.cursor = -1;
    this.end = live;
    this.first = 0;
    this.data = next;
  }
}

/**
 * One sketch holding the values of all the lists (a window's slices): the inverse of
 * packing. The stores are laid out once over the key range instead of growing bin by bin.
 */
export function sketchOfBins(lists: readonly Bins[]): DDSketch | undefined {
  let posLo = Infinity, posHi = -Infinity, negLo = Infinity, negHi = -Infinity, zeros = 0, total = 0;
  for (const b of lists) {
    for (let i = 0; i < b.length; i += 2) {
      const k = b[i] as number, c = b[i + 1] as number;
      total += c;
      if (k > ZERO_KEY) { if (k < posLo) posLo = k; if (k > posHi) posHi = k; }
      else if (k === ZERO_KEY) zeros += c;
      else { const nk = NEGATIVE_BASE - k; if (nk < negLo) negLo = nk; if (nk > negHi) negHi = nk; }
    }
  }
  if (total === 0) return undefined;
  const s = newSketch();
  const lay = (store: DDSketch['store'], lo: number, hi: number): void => {
    if (lo > hi) return;
    store.bins = new Array<number>(hi - lo + 1).fill(0);
    store.offset = lo;
    store.minKey = lo;
    store.maxKey = hi;
  };
  lay(s.store, posLo, posHi);
  lay(s.negativeStore, negLo, negHi);
  for (const b of lists) {
    for (let i = 0; i < b.length; i += 2) {
      const k = b[i] as number, c = b[i + 1] as number;
      if (k > ZERO_KEY) { const i = k - posLo; s.store.bins[i] = (s.store.bins[i] as number) + c; s.store.count += c; }
      else if (k < ZERO_KEY) {
        const i = NEGATIVE_BASE - k - negLo;
        s.negativeStore.bins[i] = (s.negativeStore.bins[i] as number) + c;
        s.negativeStore.count += c;
      }
    }
  }
  s.zeroCount = zeros;
  s.count = total;
  return s;
}

/** Adds bins to a sketch: the inverse of packing, for window quantiles and references. */
export function addBins(s: DDSketch, bins: Bins): void {
  for (let i = 0; i < bins.length; i += 2) {
    const k = bins[i] as number, c = bins[i + 1] as number;
    if (k > ZERO_KEY) s.store.add(k, c);
    else if (k === ZERO_KEY) s.zeroCount += c;
    else s.negativeStore.add(NEGATIVE_BASE - k, c);
    s.count += c;
  }
}

/** Values in the bins, all of them. */
export function binsCount(bins: Bins): number {
  let n = 0;
  for (let i = 1; i < bins.length; i += 2) n += bins[i] as number;
  return n;
}

/** Values in bins of positive values with a mapping key above `key` (zeros and negatives never are). */
export function countAbove(bins: Bins, key: number): number {
  const floor = Math.max(key, ZERO_KEY);
  let n = 0;
  for (let i = bins.length - 2; i >= 0 && (bins[i] as number) > floor; i -= 2) n += bins[i + 1] as number;
  return n;
}

/**
 * Merges several slices' bins into one sorted (key, count) list, written into `keys` and
 * `counts` (reused scratch arrays, cut to length).
 */
export function mergeBins(lists: readonly Bins[], keys: number[], counts: number[]): void {
  keys.length = 0;
  counts.length = 0;
  if (lists.length === 1) {
    const b = lists[0] as Bins;
    for (let i = 0; i < b.length; i += 2) { keys.push(b[i] as number); counts.push(b[i + 1] as number); }
    return;
  }
  const pos = lists.map(() => 0);
  for (;;) {
    let k = Infinity;
    for (let l = 0; l < lists.length; l++) {
      const b = lists[l] as Bins, p = pos[l] as number;
      if (p < b.length && (b[p] as number) < k) k = b[p] as number;
    }
    if (k === Infinity) return;
    let c = 0;
    for (let l = 0; l < lists.length; l++) {
      const b = lists[l] as Bins, p = pos[l] as number;
      if (p < b.length && b[p] === k) { c += b[p + 1] as number; pos[l] = p + 2; }
    }
    keys.push(k);
    counts.push(c);
  }
}

const scratchKeys1: number[] = [], scratchCounts1: number[] = [], scratchKeys0: number[] = [], scratchCounts0: number[] = [];

/** Rank-sum contribution of one stratum: the canary's bins against the comparison's, each side merged. */
export function rankOfBins(c1: readonly Bins[], c0: readonly Bins[]): RankContribution {
  mergeBins(c1, scratchKeys1, scratchCounts1);
  mergeBins(c0, scratchKeys0, scratchCounts0);
  return rankContribution(scratchKeys1, scratchCounts1, scratchKeys0, scratchCounts0);
}

/**
 * How many values fell in each bin over many slices: a sketch's counts without its object
 * and store growth, for a reference that takes thousands of bins and is read only for its
 * quantiles. Positive keys are counted one by one; zeros and negative values only in total,
 * since a quantile among them is never a positive threshold.
 */
export class KeyCounts {
  /** Counts of positive keys from `offset` on. */
  private positive = new Float64Array(0);
  private offset = 0;
  private positiveCount = 0;
  zeroCount = 0;
  negativeCount = 0;

  /** Values counted, of every sign. */
  get count(): number {
    return this.positiveCount + this.zeroCount + this.negativeCount;
  }

  /** Counts a slice's bins. */
  add(bins: Bins): void {
    for (let i = 0; i < bins.length; i += 2) {
      const k = bins[i] as number, c = bins[i + 1] as number;
      if (k > ZERO_KEY) {
        this.reach(k);
        const at = k - this.offset;
        this.positive[at] = (this.positive[at] as number) + c;
        this.positiveCount += c;
      } else if (k === ZERO_KEY) {
        this.zeroCount += c;
      } else {
        this.negativeCount += c;
      }
    }
  }

  /** Count of positive key `k`. */
  at(k: number): number {
    const i = k - this.offset;
    return i >= 0 && i < this.positive.length ? (this.positive[i] as number) : 0;
  }

  /** Lowest and highest positive key counted so far ([Infinity, -Infinity] before any). */
  range(): [number, number] {
    return this.positive.length === 0 ? [Infinity, -Infinity] : [this.offset, this.offset + this.positive.length - 1];
  }

  private reach(k: number): void {
    const n = this.positive.length;
    if (n === 0) {
      this.positive = new Float64Array(64);
      this.offset = k - 32;
      return;
    }
    if (k >= this.offset && k < this.offset + n) return;
    const lo = Math.min(this.offset, k), hi = Math.max(this.offset + n - 1, k);
    // Doubling (at least) keeps the copies rare over a reference's life.
    const size = Math.max(2 * n, hi - lo + 1 + 32);
    const offset = k < this.offset ? hi - size + 1 : lo;
    const next = new Float64Array(size);
    next.set(this.positive, this.offset - offset);
    this.positive = next;
    this.offset = offset;
  }
}

/**
 * The order key of the `q` quantile of the values of all the counts together, as the
 * library's sketch of them would give it (rank q x (n - 1), first bin whose running count
 * exceeds it), mapped to a value and back to its key; -Infinity when that quantile is zero
 * or below. NaN when there are no values.
 */
export function quantileKeyOf(all: readonly KeyCounts[], q: number): number {
  let count = 0, zeros = 0, negatives = 0, lo = Infinity, hi = -Infinity;
  for (const c of all) {
    count += c.count;
    zeros += c.zeroCount;
    negatives += c.negativeCount;
    const [a, b] = c.range();
    if (a < lo) lo = a;
    if (b > hi) hi = b;
  }
  if (count === 0) return Number.NaN;
  const rank = q * (count - 1);
  if (rank < zeros + negatives) return -Infinity;
  const positiveRank = rank - zeros - negatives;
  let running = 0, key = hi;
  for (let k = lo; k <= hi; k++) {
    for (const c of all) running += c.at(k);
    if (running > positiveRank) { key = k; break; }
  }
  return roundTripKey(key);
}
