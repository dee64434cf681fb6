/**
 * What the reference judges keep of the traffic: request and error counts and latency
 * samples per service, version and 10-second slice, and the event-time clock that calls
 * their evaluations. Both peers read the same events through this, so their differences
 * are in the rule they apply, not in what they see.
 */
import { isErrorRequest, type VigilEvent } from '../../rules/events.js';
import { ReleaseTags } from './release-tags.js';

/** Width of a slice; windows are whole numbers of slices. */
export const SLICE_MS = 10_000;
/** Slices older than this behind the newest event are dropped. */
const KEEP_MS = 15 * 60_000;

/** Requests, errors and latency samples of one version over a window. */
export interface WindowTraffic {
  readonly requests: number;
  readonly errors: number;
  readonly latencies: readonly number[];
}

interface Slice {
  requests: number;
  errors: number;
  readonly latencies: number[];
}

/** Slices per service and version. */
export class TrafficSlices {
  private readonly slices = new Map<string, Map<string, Map<number, Slice>>>();

  /** Adds requests, errors and at most one latency sample at event time `ts`. */
  add(service: string, version: string, ts: number, requests: number, errors: number, latencyMs: number | undefined): void {
    const byVersion = this.slices.get(service) ?? new Map<string, Map<number, Slice>>();
    this.slices.set(service, byVersion);
    const bySlice = byVersion.get(version) ?? new Map<number, Slice>();
    byVersion.set(version, bySlice);
    const index = Math.floor(ts / SLICE_MS);
    let slice = bySlice.get(index);
    if (slice === undefined) {
      slice = { requests: 0, errors: 0, latencies: [] };
      bySlice.set(index, slice);
    }
    slice.requests += requests;
    slice.errors += errors;
    if (latencyMs !== undefined) slice.latencies.push(latencyMs);
  }

  /** The traffic of the given versions of a service in [fromMs, toMs). */
  window(service: string, versions: readonly string[], fromMs: number, toMs: number): WindowTraffic {
    let requests = 0;
    let errors = 0;
    const latencies: number[] = [];
    const byVersion = this.slices.get(service);
    for (const version of versions) {
      const bySlice = byVersion?.get(version);
      if (bySlice === undefined) continue;
      for (let i = Math.floor(fromMs / SLICE_MS); i * SLICE_MS < toMs; i++) {
        const slice = bySlice.get(i);
        if (slice === undefined) continue;
        requests += slice.requests;
        errors += slice.errors;
        for (const l of slice.latencies) latencies.push(l);
      }
    }
    return { requests, errors, latencies };
  }

  /** Drops slices that end before `beforeMs`. */
  prune(beforeMs: number): void {
    const oldest = Math.floor(beforeMs / SLICE_MS);
    for (const byVersion of this.slices.values()) {
      for (const bySlice of byVersion.values()) {
        for (const index of bySlice.keys()) if (index < oldest) bySlice.delete(index);
      }
    }
  }
}

/**
 * Feeds events into tags and slices and calls `onTick(t)` for every multiple of `tickMs`
 * that the newest event time has passed, in order: an evaluation at `t` sees the events
 * before `t` that had arrived by then, as a rule evaluated on a schedule does.
 */
export class PeerInput {
  readonly tags = new ReleaseTags();
  readonly slices = new TrafficSlices();
  private newestMs = Number.NEGATIVE_INFINITY;
  private nextTickMs: number | undefined;

  constructor(
    private readonly tickMs: number,
    private readonly onTick: (tickMs: number) => void,
  ) {}

  /** Takes one event. */
  push(e: VigilEvent): void {
    this.advance(e.ts);
    switch (e.type) {
      case 'deploy':
        this.tags.observeDeploy(e);
        return;
      case 'request': {
        const version = this.tags.versionOf(e);
        if (version !== undefined) this.slices.add(e.service, version, e.ts, 1, isErrorRequest(e) ? 1 : 0, e.latencyMs);
        return;
      }
      case 'metric': {
        const version = this.tags.versionOf(e);
        if (version === undefined) return;
        if (e.name === 'requests') this.slices.add(e.service, version, e.ts, e.value, 0, undefined);
        else if (e.name === 'errors') this.slices.add(e.service, version, e.ts, 0, e.value, undefined);
        else if (e.name === 'latency_ms') this.slices.add(e.service, version, e.ts, 0, 0, e.value);
        return;
      }
      case 'log':
      case 'webhook':
        // Threshold rules and canary tests of this kind read request metrics only.
        return;
    }
  }

  /** Ends the stream: one last evaluation covering the newest events. */
  finish(): void {
    if (this.nextTickMs === undefined) return;
    this.advance(this.nextTickMs);
  }

  private advance(ts: number): void {
    if (ts <= this.newestMs) return;
    this.newestMs = ts;
    if (this.nextTickMs === undefined) this.nextTickMs = (Math.floor(ts / this.tickMs) + 1) * this.tickMs;
    while (this.nextTickMs <= ts) {
      this.onTick(this.nextTickMs);
      this.nextTickMs += this.tickMs;
      this.slices.prune(this.nextTickMs - KEEP_MS);
    }
  }
}
