/**
 * How scheduled faults change one request. Faults are matched to an instance once, then
 * evaluated per request by time and route only, which keeps generation fast.
 */
import type { Fault, FaultTarget } from './model.js';
import { compileTemplate, type MessageTemplate } from './messages.js';
import { normalQuantile } from './random.js';

/** A fault that applies to one instance, with its message compiled and tail threshold solved. */
export interface BoundFault {
  readonly fault: Fault;
  readonly endMs: number;
  readonly routes: ReadonlySet<string> | undefined;
  readonly message: MessageTemplate | undefined;
  /** For tail faults: requests whose latency draw z exceeds this are in the tail. */
  readonly tailZ: number;
}

/** What the active faults do to one request. */
export interface Effect {
  readonly errorMultiplier: number;
  readonly addedErrorRatio: number;
  readonly outageStatus: number;
  readonly outageMessage: MessageTemplate | undefined;
  readonly latencyMultiplier: number;
  readonly tails: readonly { readonly z: number; readonly multiplier: number }[];
  readonly bug: { readonly ratio: number; readonly message: MessageTemplate; readonly failsRequest: boolean; readonly status: number } | undefined;
}

/** The effect when no fault is active. */
export const NO_EFFECT: Effect = {
  errorMultiplier: 1,
  addedErrorRatio: 0,
  outageStatus: 503,
  outageMessage: undefined,
  latencyMultiplier: 1,
  tails: [],
  bug: undefined,
};

/** Whether a fault's target covers an instance of a version (routes are checked per request). */
export function targets(target: FaultTarget, service: string, version: string, instance: string): boolean {
  if (target.service !== service) return false;
  if (target.versions !== undefined && !target.versions.includes(version)) return false;
  if (target.instances !== undefined && !target.instances.includes(instance)) return false;
  return true;
}

/** The faults that can touch one instance, prepared for per-request evaluation. */
export function bindFaults(faults: readonly Fault[], service: string, version: string, instance: string): readonly BoundFault[] {
  return faults
    .filter((f) => targets(f.target, service, version, instance))
    .map((fault) => ({
      fault,
      endMs: fault.durationMs === undefined ? Number.POSITIVE_INFINITY : fault.startMs + fault.durationMs,
      routes: fault.target.routes === undefined ? undefined : new Set(fault.target.routes),
      message: fault.kind === 'newError' || fault.kind === 'outage' ? compileTemplate(fault.message) : undefined,
      tailZ: fault.kind === 'tailLatency' ? normalQuantile(1 - fault.tailShare) : 0,
    }));
}

/** Scales a multiplier by how far a ramp has progressed: 1 at the start, full at the end. */
function ramped(multiplier: number, intensity: number): number {
  return 1 + (multiplier - 1) * intensity;
}

/** Combines the faults active at `tMs` on `route`; multipliers compose, added ratios sum. */
export function effectAt(bound: readonly BoundFault[], tMs: number, route: string): Effect {
  if (bound.length === 0) return NO_EFFECT;
  let active = false;
  let errorMultiplier = 1;
  let addedErrorRatio = 0;
  let outageStatus = 503;
  let outageMessage: MessageTemplate | undefined;
  let latencyMultiplier = 1;
  const tails: { z: number; multiplier: number }[] = [];
  let bug: Effect['bug'];
  for (const b of bound) {
    const f = b.fault;
    if (tMs < f.startMs || tMs >= b.endMs) continue;
    if (b.routes !== undefined && !b.routes.has(route)) continue;
    active = true;
    const intensity = f.rampMs === undefined || f.rampMs <= 0 ? 1 : Math.min(1, (tMs - f.startMs) / f.rampMs);
    switch (f.kind) {
      case 'errorRatio':
        errorMultiplier *= ramped(f.multiplier, intensity);
        break;
      case 'latency':
        latencyMultiplier *= ramped(f.multiplier, intensity);
        break;
      case 'tailLatency':
        tails.push({ z: b.tailZ, multiplier: ramped(f.multiplier, intensity) });
        break;
      case 'newError':
        if (bug === undefined && b.message !== undefined) {
          bug = { ratio: f.ratio * intensity, message: b.message, failsRequest: f.failsRequest, status: f.status };
        }
        break;
      case 'outage':
        addedErrorRatio += f.errorRatio * intensity;
        latencyMultiplier *= ramped(f.latencyMultiplier, intensity);
        outageStatus = f.status;
        outageMessage = b.message;
        break;
      default: {
        const never: never = f;
        throw new Error(`unknown fault ${JSON.stringify(never)}`);
      }
    }
  }
  if (!active) return NO_EFFECT;
  return { errorMultiplier, addedErrorRatio, outageStatus, outageMessage, latencyMultiplier, tails, bug };
}
