/**
 * The aggregate of a set of requests: counts and a latency sketch. `empty`, `add` and
 * `merge` obey the monoid laws (merge is associative, `empty` is its identity), which is
 * what lets slices be combined into windows in any grouping.
 */
import { DDSketch } from '@datadog/sketches-js';

/** Requests, errors and the latency distribution of a set of requests. */
export interface RequestAggregate {
  requests: number;
  errors: number;
  latency: DDSketch | undefined;
}

/** Relative accuracy shared by every sketch, so any two can merge. */
export let sketchAccuracy = 0.02;

/** Sets the sketch accuracy; only before any sketch exists (engine creation). */
export function setSketchAccuracy(relativeAccuracy: number): void {
  sketchAccuracy = relativeAccuracy;
}

/** A new, empty latency sketch. */
export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: sketchAccuracy });
}

/** The identity of `mergeAggregates`. */
export function emptyAggregate(): RequestAggregate {
  return { requests: 0, errors: 0, latency: undefined };
}

/** Adds one request to an aggregate in place. */
export function addRequest(a: RequestAggregate, isError: boolean, latencyMs: number | undefined): void {
  a.requests++;
  if (isError) a.errors++;
  if (latencyMs !== undefined) (a.latency ??= newSketch()).accept(latencyMs);
}

/** A new aggregate holding both inputs; neither input changes. */
export function mergeAggregates(a: RequestAggregate, b: RequestAggregate): RequestAggregate {
  let latency: DDSketch | undefined;
  if (a.latency || b.latency) {
    latency = newSketch();
    if (a.latency) latency.merge(a.latency);
    if (b.latency) latency.merge(b.latency);
  }
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, latency };
}

/** Adds `from`'s sketch into `into` (created when absent); returns the sketch. */
export function mergeSketchInto(into: DDSketch | undefined, from: DDSketch | undefined): DDSketch | undefined {
  if (!from || from.count === 0) return into;
  const target = into ?? newSketch();
  target.merge(from);
  return target;
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
      if (c > 0) { keys.push(-1e9 - k); counts.push(c); }
    }
  }
  if (s.zeroCount > 0) { keys.push(-1e9 + 1e8); counts.push(s.zeroCount); }
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
