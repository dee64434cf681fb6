/**
 * What an engine remembers for longer than the events a topic retains: the deploy registry
 * (which version runs where, in which role, in which state), the judgments' verdicts (FAIL
 * is sticky: release tools rolled back on it), the open incidents (so that a regression
 * still going on does not page again), and lifecycle changes still waiting for the
 * watermark. Windows are not in it: they are rebuilt from the retained events.
 *
 * An engine rebuilt for a partition taken over starts from the last checkpoint and then
 * replays what the topic retains. The checkpoint may be ahead of the replayed events (it
 * was taken later); everything in it is applied so that seeing the same deploy, failure or
 * recovery again converges on the same state, so replaying over it ends where the
 * previous owner was.
 */
import type { Severity, Verdict } from './decisions.js';
import type { DeployAction, Role } from './events.js';
import type { Signal } from './judge.js';
import type { VersionState } from './registry.js';
import type { Flavor } from './window.js';
import type { JudgmentKind } from './verdicts.js';
import type { AlertBookRecord } from './alerts.js';

/** Format of checkpoints this code writes and reads. */
export const CHECKPOINT_FORMAT = 1;

/** A version as the registry knows it. */
export interface VersionRecord {
  readonly service: string;
  readonly version: string;
  readonly role: Role;
  readonly inferred: boolean;
  readonly release?: string;
  readonly startTs: number;
  readonly state: VersionState;
  readonly changedTs: number;
  readonly replaced?: string;
  readonly hasBaseline: boolean;
  readonly baselineActive: boolean;
}

/** An instance and the cohort its events belong to. */
export interface PlacementRecord {
  readonly service: string;
  readonly instance: string;
  readonly version: string;
  readonly flavor: Flavor;
}

/** A judgment's outcome so far (its findings come back from the replayed windows). */
export interface JudgmentRecord {
  readonly service: string;
  readonly version: string;
  readonly kind: JudgmentKind;
  readonly startTs: number;
  readonly release?: string;
  readonly verdict?: Verdict;
  readonly reasons: readonly string[];
  readonly ended: boolean;
  readonly comparedWith: string;
}

/** An open incident. */
export interface IncidentRecord {
  readonly id: string;
  readonly service: string;
  readonly group: string;
  readonly versions: readonly string[];
  readonly signals: readonly Signal[];
  readonly told: readonly string[];
  readonly severity: Severity;
  readonly openedTs: number;
  readonly lastActiveTs: number;
}

/** A lifecycle change (rollback, finish, promote) the watermark has not reached yet. */
export interface LifecycleRecord {
  readonly ts: number;
  readonly service: string;
  readonly version: string;
  readonly action: DeployAction;
  readonly role: Role;
}

/** Everything an engine carries over a rebuild. */
export interface EngineCheckpoint {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly versions: readonly VersionRecord[];
  readonly placements: readonly PlacementRecord[];
  readonly judgments: readonly JudgmentRecord[];
  readonly incidents: readonly IncidentRecord[];
  readonly lifecycle: readonly LifecycleRecord[];
  /** Alert groups, flap histories and incident ids of the alert stage; absent when it holds nothing. */
  readonly alerts?: AlertBookRecord;
}
