/**
 * Release tagging for the reference judges: which version an event belongs to and which
 * versions are new releases to be judged. The peers get the same tags the engine gets
 * from deploy events (an event's own `version`, else the latest deploy listing its
 * instance), so that they are compared on judging, not on tagging.
 */
import type { DeployEvent, VigilEvent } from '../../rules/events.js';

/** What the peers know of one version of a service. */
export interface VersionState {
  readonly version: string;
  /** A new release (a canary, or a version rolled out beside an older one), judged against the rest. */
  readonly judged: boolean;
  /** Rolled back, finished or promoted: no longer judged. */
  retired: boolean;
  readonly firstSeenMs: number;
}

/** Versions per service and the instance-to-version map of the latest deploys. */
export class ReleaseTags {
  private readonly versions = new Map<string, Map<string, VersionState>>();
  private readonly instanceVersion = new Map<string, Map<string, string>>();

  /** Takes a deploy event into account; other events only name versions through `versionOf`. */
  observeDeploy(e: DeployEvent): void {
    const byInstance = this.instanceVersion.get(e.service) ?? new Map<string, string>();
    this.instanceVersion.set(e.service, byInstance);
    for (const instance of e.instances ?? []) byInstance.set(instance, e.version);
    const state = this.state(e.service, e.version, e.ts, e.role === 'canary');
    if (e.action === 'rollback' || e.action === 'finish' || e.action === 'promote') state.retired = true;
  }

  /** The version of a request, log or metric event, or undefined when nothing names it. */
  versionOf(e: Exclude<VigilEvent, DeployEvent | { type: 'webhook' }>): string | undefined {
    const version = e.version ?? (e.instance === undefined ? undefined : this.instanceVersion.get(e.service)?.get(e.instance));
    if (version !== undefined) this.state(e.service, version, e.ts, false);
    return version;
  }

  /** Every version of a service seen so far, in the order they appeared. */
  versionsOf(service: string): readonly VersionState[] {
    return [...(this.versions.get(service)?.values() ?? [])];
  }

  /** Services seen so far. */
  services(): readonly string[] {
    return [...this.versions.keys()];
  }

  private state(service: string, version: string, ts: number, canary: boolean): VersionState {
    const byVersion = this.versions.get(service) ?? new Map<string, VersionState>();
    this.versions.set(service, byVersion);
    let state = byVersion.get(version);
    if (state === undefined) {
      // A version that appears while another one already serves is a new release.
      state = { version, judged: canary || byVersion.size > 0, retired: false, firstSeenMs: ts };
      byVersion.set(version, state);
    }
    return state;
  }
}
