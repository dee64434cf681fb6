/**
 * The deploy registry: which version runs on which instance, in which role, as release
 * tools report it. Events are tagged from it; versions it has never heard of are inferred
 * from traffic; events whose version stays unknown are counted but never blamed.
 */
import type { DeployAction, DeployEvent, Role } from './events.js';
import type { Flavor } from './window.js';
import type { PlacementRecord, VersionRecord } from './checkpoint.js';

/** Version name of events that carry no version and come from an unknown instance. */
export const UNKNOWN_VERSION = 'unknown';

/** Where a version is in its life. */
export type VersionState = 'active' | 'promoted' | 'rolled-back' | 'finished' | 'superseded';

/** What the registry knows of one version of one service. */
export interface VersionInfo {
  readonly service: string;
  readonly version: string;
  /** The role of the version's own instances (a version may also run baseline instances). */
  role: Role;
  /** True when no deploy event named the version and its role was inferred from traffic. */
  inferred: boolean;
  release: string | undefined;
  /** Event time the version started (deploy start, or first traffic when inferred). */
  startTs: number;
  state: VersionState;
  /** Event time of the last lifecycle change. */
  changedTs: number;
  /** For a stable version that replaced another fleet-wide: the version it replaced. */
  replaced: string | undefined;
  /** Whether the version has baseline instances of its own. */
  hasBaseline: boolean;
  baselineActive: boolean;
}

/** Instance placement: the version and flavor its events belong to. */
export interface Placement {
  readonly version: string;
  readonly flavor: Flavor;
}

/** A lifecycle change the engine must act on. */
export interface LifecycleChange {
  /** Event time of the deploy event that made the change. */
  readonly ts: number;
  readonly service: string;
  readonly version: string;
  readonly action: DeployAction;
  readonly role: Role;
  readonly info: VersionInfo;
}

/** The registry of one engine: instance placements and version lifecycles. */
export class DeployRegistry {
  private readonly instances = new Map<string, Map<string, Placement>>();
  private readonly versions = new Map<string, Map<string, VersionInfo>>();

  /** Versions of a service in the order they were first heard of. */
  versionsOf(service: string): Iterable<VersionInfo> {
    return this.versions.get(service)?.values() ?? [];
  }

  info(service: string, version: string): VersionInfo | undefined {
    return this.versions.get(service)?.get(version);
  }

  /** The instance placements of a service (a live view), if deploy events named any of its instances. */
  placementsOf(service: string): ReadonlyMap<string, Placement> | undefined {
    return this.instances.get(service);
  }

  /** Applies a deploy event; returns the change for the engine to act on. */
  apply(e: DeployEvent): LifecycleChange {
    let byVersion = this.versions.get(e.service);
    if (!byVersion) this.versions.set(e.service, (byVersion = new Map()));
    let info = byVersion.get(e.version);
    const flavor: Flavor = e.role === 'baseline' ? 'baseline' : 'main';
    if (!info) {
      info = {
        service: e.service, version: e.version, role: e.role === 'baseline' ? 'stable' : e.role,
        inferred: e.role === 'baseline', release: e.release, startTs: e.ts, state: 'active', changedTs: e.ts,
        replaced: undefined, hasBaseline: false, baselineActive: false,
      };
      byVersion.set(e.version, info);
    }
    if (e.release !== undefined && flavor === 'main') info.release = e.release;
    if (flavor === 'baseline') {
      info.hasBaseline = true;
      info.baselineActive = e.action === 'start';
    }
    if (e.instances && e.action === 'start') {
      let placements = this.instances.get(e.service);
      if (!placements) this.instances.set(e.service, (placements = new Map()));
      for (const inst of e.instances) placements.set(inst, { version: e.version, flavor });
    }
    if (flavor === 'main') {
      switch (e.action) {
        case 'start': {
          if (info.inferred || info.state !== 'active') info.startTs = e.ts;
          info.inferred = false;
          info.role = e.role;
          info.state = 'active';
          if (e.role === 'stable') {
            // A new stable version while another is active: a fleet-wide rollout with no canary.
            // Only one that started before this event is replaced: a deploy event arriving late
            // (or replayed over a checkpoint that knows what came after) never supersedes a newer version.
            for (const other of byVersion.values()) {
              if (other !== info && other.role === 'stable' && other.state === 'active' && other.startTs <= e.ts) {
                other.state = 'superseded';
                other.changedTs = e.ts;
                info.replaced = other.version;
              }
            }
          }
          break;
        }
        case 'promote': {
          for (const other of byVersion.values()) {
            if (other !== info && other.role === 'stable' && other.state === 'active' && other.startTs <= e.ts) {
              other.state = 'superseded';
              other.changedTs = e.ts;
            }
          }
          info.role = 'stable';
          info.state = 'promoted';
          break;
        }
        case 'rollback':
          info.state = 'rolled-back';
          break;
        case 'finish':
          info.state = info.role === 'canary' ? 'finished' : info.state;
          break;
      }
      info.changedTs = e.ts;
    }
    return { ts: e.ts, service: e.service, version: e.version, action: e.action, role: e.role, info };
  }

  /** Every version and instance placement, for a checkpoint. */
  records(): { versions: VersionRecord[]; placements: PlacementRecord[] } {
    const versions: VersionRecord[] = [];
    const placements: PlacementRecord[] = [];
    for (const byVersion of this.versions.values()) {
      for (const v of byVersion.values()) {
        versions.push({
          service: v.service, version: v.version, role: v.role, inferred: v.inferred,
          ...(v.release !== undefined ? { release: v.release } : {}),
          startTs: v.startTs, state: v.state, changedTs: v.changedTs,
          ...(v.replaced !== undefined ? { replaced: v.replaced } : {}),
          hasBaseline: v.hasBaseline, baselineActive: v.baselineActive,
        });
      }
    }
    for (const [service, byInstance] of this.instances) {
      for (const [instance, p] of byInstance) placements.push({ service, instance, version: p.version, flavor: p.flavor });
    }
    return { versions, placements };
  }

  /** Takes versions and placements from a checkpoint, before any event (see checkpoint.ts). */
  restore(versions: readonly VersionRecord[], placements: readonly PlacementRecord[]): void {
    for (const r of versions) {
      let byVersion = this.versions.get(r.service);
      if (!byVersion) this.versions.set(r.service, (byVersion = new Map()));
      byVersion.set(r.version, {
        service: r.service, version: r.version, role: r.role, inferred: r.inferred, release: r.release, startTs: r.startTs,
        state: r.state, changedTs: r.changedTs, replaced: r.replaced, hasBaseline: r.hasBaseline, baselineActive: r.baselineActive,
      });
    }
    for (const p of placements) {
      let byInstance = this.instances.get(p.service);
      if (!byInstance) this.instances.set(p.service, (byInstance = new Map()));
      byInstance.set(p.instance, { version: p.version, flavor: p.flavor });
    }
  }

  /**
   * Notes traffic from a version no deploy event named. The service's first version is
   * taken as stable; one that appears later beside it is treated as a canary, since that
   * is how a new version with a small share of traffic looks.
   */
  observe(service: string, version: string, ts: number): VersionInfo | undefined {
    if (version === UNKNOWN_VERSION) return undefined;
    let byVersion = this.versions.get(service);
    if (!byVersion) this.versions.set(service, (byVersion = new Map()));
    const known = byVersion.get(version);
    if (known) return known;
    let hasStable = false;
    for (const other of byVersion.values()) {
      if (other.role === 'stable' && (other.state === 'active' || other.state === 'promoted')) hasStable = true;
    }
    const info: VersionInfo = {
      service, version, role: hasStable ? 'canary' : 'stable', inferred: true, release: undefined,
      startTs: ts, state: 'active', changedTs: ts, replaced: undefined, hasBaseline: false, baselineActive: false,
    };
    byVersion.set(version, info);
    return info;
  }
}
