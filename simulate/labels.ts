/**
 * Labels in the shared format read by the scorer (shared/eval/score.py): regressions a
 * correct engine pages for, allowed final verdicts, versions no page may name, and how
 * many pages may blame no judged release.
 */
import type { Expectation, ScenarioSpec, Signal, Verdict } from './model.js';

/** Pages must come within this long of a regression's onset. */
export const DEADLINE_S = 300;

/** One regression entry of a label file. */
export interface RegressionLabel {
  readonly service: string;
  readonly versions: readonly string[];
  readonly onset: string;
  readonly deadline_s: number;
  readonly signal: Signal;
}

/** A label file, field for field as the shared samples write it. */
export interface ScenarioLabels {
  readonly scenario: string;
  readonly events: number;
  readonly regressions: readonly RegressionLabel[];
  readonly verdicts: Readonly<Record<string, readonly Verdict[]>>;
  readonly forbid_versions?: readonly string[];
  readonly max_unattributed_pages?: number;
}

/** Builds the labels of a generated scenario from what its builder expects. */
export function labelsOf(scenario: string, spec: ScenarioSpec, expect: Expectation, events: number): ScenarioLabels {
  return {
    scenario,
    events,
    regressions: expect.regressions.map((r) => ({
      service: r.service,
      versions: r.versions,
      onset: new Date(spec.startEpochMs + r.onsetMs).toISOString(),
      deadline_s: DEADLINE_S,
      signal: r.signal,
    })),
    verdicts: expect.verdicts,
    ...(expect.forbidVersions.length > 0 ? { forbid_versions: expect.forbidVersions } : {}),
    ...(expect.maxUnattributedPages > 0 ? { max_unattributed_pages: expect.maxUnattributedPages } : {}),
  };
}

/** The text of a label file, indented like the shared samples. */
export function labelsJson(labels: ScenarioLabels): string {
  return `${JSON.stringify(labels, null, 1)}\n`;
}
