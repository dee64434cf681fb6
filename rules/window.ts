/**
 * Event-time storage: per service, per cohort (a version, or the baseline instances of one),
 * per route, a ring of time slices. Counts live in typed arrays so that many idle series
 * cost little; latency sketches are kept per slice only while the service is being judged.
 */
import type { DDSketch } from '@datadog/sketches-js';
import { openSketch, releaseSketch } from './aggregate.js';
import { type Bins, BinLog } from './bins.js';

/** Route name of the series that collects what exceeds the per-service series cap. */
export const OVERFLOW_ROUTE = '(overflow)';

/**
 * A ring of per-slice counts for one route of one cohort, and, while its service is judged,
 * latency sketches: one per open slice, packed into bins when the watermark closes it.
 * Slices come in nearly increasing order (lateness is bounded far below the ring's length),
 * so the ring only remembers its newest slice and clears positions as it moves past them:
 * one typed array per idle series.
 */
export class SliceRing {
  /** Requests of a slice at 2i, errors at 2i+1. Counts per slice fit single precision (exact up to 16M). */
  private readonly counts: Float32Array;
  /** Newest slice written; the ring holds slices (head - size, head]. */
  private head = Number.NEGATIVE_INFINITY;
  /** Slices not closed yet that have latency values, and their sketches (parallel arrays). */
  private openSlots: number[] | undefined;
  private openSketches: DDSketch[] | undefined;
  /** Bins of the closed slices the ring holds. */
  private closed: BinLog | undefined;

  constructor(readonly size: number) {
    this.counts = new Float32Array(2 * size);
  }

  private index(s: number): number {
    return ((s % this.size) + this.size) % this.size;
  }

  /** Whether the ring holds slice `s`. */
  private holds(s: number): boolean {
    return s <= this.head && s > this.head - this.size;
  }

  /** The ring position of slice `s`, after clearing the positions of slices it moves past; -1 when `s` is older than the ring holds. */
  private position(s: number): number {
    if (s > this.head) {
      for (let t = Math.max(this.head + 1, s - this.size + 1); t <= s; t++) {
        const i = this.index(t);
        this.counts[2 * i] = 0;
        this.counts[2 * i + 1] = 0;
      }
      this.head = s;
      this.closed?.dropBefore(s - this.size + 1);
    } else if (s <= this.head - this.size) {
      return -1;
    }
    return this.index(s);
  }

  /** Adds counts (and a latency sample while tracked) to slice `s`. */
  add(s: number, requests: number, errors: number, latency: number | undefined, tracked: boolean): void {
    const i = this.position(s);
    if (i < 0) return;
    this.counts[2 * i] = (this.counts[2 * i] as number) + requests;
    this.counts[2 * i + 1] = (this.counts[2 * i + 1] as number) + errors;
    if (latency !== undefined && tracked) this.sketchFor(s).accept(latency);
  }

  private sketchFor(s: number): DDSketch {
    const slots = (this.openSlots ??= []), sketches = (this.openSketches ??= []);
    for (let i = 0; i < slots.length; i++) if (slots[i] === s) return sketches[i] as DDSketch;
    const sketch = openSketch();
    slots.push(s);
    sketches.push(sketch);
    return sketch;
  }

  /**
   * Packs the sketches of the open slices up to `s`, which the watermark has closed: from
   * here on they are read, never added to. Returns how many slices stay open.
   */
  close(s: number): number {
    const slots = this.openSlots, sketches = this.openSketches;
    if (!slots || !sketches || slots.length === 0) return 0;
    // Oldest first: the packed log is in slice order. There are only a few open slices.
    for (;;) {
      let oldest = -1;
      for (let i = 0; i < slots.length; i++) if ((slots[i] as number) <= s && (oldest < 0 || (slots[i] as number) < (slots[oldest] as number))) oldest = i;
      if (oldest < 0) break;
      const slot = slots[oldest] as number, sketch = sketches[oldest] as DDSketch;
      if (slot > this.head - this.size) (this.closed ??= new BinLog()).append(slot, sketch);
      releaseSketch(sketch);
      slots[oldest] = slots[slots.length - 1] as number;
      sketches[oldest] = sketches[sketches.length - 1] as DDSketch;
      slots.pop();
      sketches.pop();
    }
    return slots.length;
  }

  /** Requests in slice `s` (0 when the ring no longer holds it). */
  requestsAt(s: number): number {
    return this.holds(s) ? (this.counts[2 * this.index(s)] as number) : 0;
  }

  errorsAt(s: number): number {
    return this.holds(s) ? (this.counts[2 * this.index(s) + 1] as number) : 0;
  }

  /** Latency bins of closed slice `s`; undefined when it had no latency values or is no longer held. */
  binsAt(s: number): Bins | undefined {
    return this.closed && this.holds(s) ? this.closed.at(s) : undefined;
  }

  /** Appends the latency bins of the closed slices in [from, to] to `out`. */
  closedBins(from: number, to: number, out: Bins[]): void {
    this.closed?.forEach(Math.max(from, this.head - this.size + 1), to, (bins) => out.push(bins));
  }
}

/** Which instances of a version a cohort holds: the version's own, or its baseline instances. */
export type Flavor = 'main' | 'baseline';

/** Error-signature counts of one cohort, per slice, pruned to the horizon. */
export class SignatureSlices {
  readonly bySlot = new Map<number, Map<string, number>>();

  add(s: number, signature: string): void {
    let m = this.bySlot.get(s);
    if (!m) this.bySlot.set(s, (m = new Map()));
    m.set(signature, (m.get(signature) ?? 0) + 1);
  }

  /** Drops slices older than `oldest`. */
  prune(oldest: number): void {
    for (const s of this.bySlot.keys()) if (s < oldest) this.bySlot.delete(s);
  }
}

/** The series of one version (or its baseline instances) in one service. */
export class Cohort {
  readonly routes = new Map<string, SliceRing>();
  readonly metrics = new Map<string, SliceRing>();
  readonly signatures = new SignatureSlices();
  /** Log lines per slice: the exposure for signatures when a service sends no requests. */
  readonly logLines: SliceRing;
  firstSlot = -1;
  lastSlot = -1;
  requestsTotal = 0;

  constructor(readonly service: string, readonly version: string, readonly flavor: Flavor, readonly ringSize: number) {
    this.logLines = new SliceRing(ringSize);
  }

  /** Marks slice `s` as having traffic. */
  touch(s: number): void {
    if (this.firstSlot < 0 || s < this.firstSlot) this.firstSlot = s;
    if (s > this.lastSlot) this.lastSlot = s;
  }
}

/** All cohorts of one service, with the cap on distinct series. */
export class ServiceWindows {
  readonly cohorts = new Map<string, { main?: Cohort; baseline?: Cohort }>();
  seriesCount = 0;
  overflowed = 0;
  /** Distinct signatures of the service, up to the cap. */
  readonly signatureNames = new Set<string>();
  /** Signatures seen on versions that are not under judgment (the service's known errors). */
  readonly knownSignatures = new Set<string>();
  /** True while some version of the service is being judged: per-slice sketches are kept. */
  tracked = false;
  /** Open slices with latency sketches left when the service was last closed (they outlive tracking). */
  openSketches = 0;

  constructor(readonly service: string) {}

  cohort(version: string, flavor: Flavor, ringSize: number): Cohort {
    let pair = this.cohorts.get(version);
    if (!pair) this.cohorts.set(version, (pair = {}));
    let c = pair[flavor];
    if (!c) pair[flavor] = c = new Cohort(this.service, version, flavor, ringSize);
    return c;
  }

  /** Packs the latency sketches of slices up to `s`, which the watermark has closed. */
  closeSlice(s: number): void {
    if (!this.tracked && this.openSketches === 0) return;
    let open = 0;
    for (const c of this.allCohorts()) {
      for (const r of c.routes.values()) open += r.close(s);
      for (const r of c.metrics.values()) open += r.close(s);
    }
    this.openSketches = open;
  }

  /** Every cohort, in a stable order (insertion), for deterministic judging. */
  *allCohorts(): Iterable<Cohort> {
    for (const pair of this.cohorts.values()) {
      if (pair.main) yield pair.main;
      if (pair.baseline) yield pair.baseline;
    }
  }
}
