/**
 * Event-time storage: per service, per cohort (a version, or the baseline instances of one),
 * per route, a ring of time slices. Counts live in typed arrays so that many idle series
 * cost little; latency sketches are kept per slice only while the service is being judged.
 */
import type { DDSketch } from '@datadog/sketches-js';
import { newSketch } from './aggregate.js';

/** Route name of the series that collects what exceeds the per-service series cap. */
export const OVERFLOW_ROUTE = '(overflow)';

/** A ring of per-slice counts (and sketches while tracked) for one route of one cohort. */
export class SliceRing {
  readonly slot: Int32Array;
  // Counts per slice fit single precision (exact up to 16M per slice) at half the memory.
  readonly requests: Float32Array;
  readonly errors: Float32Array;
  sketches: (DDSketch | undefined)[] | undefined;

  constructor(readonly size: number) {
    this.slot = new Int32Array(size).fill(-1);
    this.requests = new Float32Array(size);
    this.errors = new Float32Array(size);
  }

  /** The ring position of slice `s`, cleared first when it held an older slice. */
  private position(s: number, tracked: boolean): number {
    const i = s % this.size;
    if (this.slot[i] !== s) {
      this.slot[i] = s;
      this.requests[i] = 0;
      this.errors[i] = 0;
      if (this.sketches) this.sketches[i] = undefined;
    }
    if (tracked && !this.sketches) this.sketches = new Array<DDSketch | undefined>(this.size);
    return i;
  }

  /** Adds counts (and a latency sample while tracked) to slice `s`. */
  add(s: number, requests: number, errors: number, latency: number | undefined, tracked: boolean): void {
    const i = this.position(s, tracked);
    this.requests[i] = (this.requests[i] as number) + requests;
    this.errors[i] = (this.errors[i] as number) + errors;
    if (latency !== undefined && tracked && this.sketches) {
      let sk = this.sketches[i];
      if (!sk) this.sketches[i] = sk = newSketch();
      sk.accept(latency);
    }
  }

  /** Requests in slice `s` (0 when the ring no longer holds it). */
  requestsAt(s: number): number {
    const i = s % this.size;
    return this.slot[i] === s ? (this.requests[i] as number) : 0;
  }

  errorsAt(s: number): number {
    const i = s % this.size;
    return this.slot[i] === s ? (this.errors[i] as number) : 0;
  }

  sketchAt(s: number): DDSketch | undefined {
    const i = s % this.size;
    return this.slot[i] === s && this.sketches ? this.sketches[i] : undefined;
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

  constructor(readonly service: string) {}

  cohort(version: string, flavor: Flavor, ringSize: number): Cohort {
    let pair = this.cohorts.get(version);
    if (!pair) this.cohorts.set(version, (pair = {}));
    let c = pair[flavor];
    if (!c) pair[flavor] = c = new Cohort(this.service, version, flavor, ringSize);
    return c;
  }

  /** Every cohort, in a stable order (insertion), for deterministic judging. */
  *allCohorts(): Iterable<Cohort> {
    for (const pair of this.cohorts.values()) {
      if (pair.main) yield pair.main;
      if (pair.baseline) yield pair.baseline;
    }
  }
}
