/**
 * The pure engine: events in, decisions out, driven by event time alone.
 * (Placeholder surface; the judge fills it in.)
 */
import type { VigilEvent } from './events.js';
import type { Decision } from './decisions.js';
import type { RulesConfig } from './config.js';

/** Counts the engine keeps about what it saw. */
export interface EngineStats {
  readonly accepted: number;
  readonly late: number;
  readonly unknownVersion: number;
  readonly overflowSeries: number;
  readonly decisions: Readonly<Record<string, number>>;
}

/** The engine as its drivers (replay, the service) see it. */
export interface Engine {
  /** Feeds one event; decisions come out through the sink given at creation. */
  push(event: VigilEvent): void;
  /** Ends the stream: closes every window and makes the final decisions. */
  finish(): void;
  stats(): EngineStats;
}

/** Where decisions go. */
export type DecisionSink = (decision: Decision) => void;

/** Creates an engine with the given settings. */
export function createEngine(_config: RulesConfig, _emit: DecisionSink): Engine {
  let accepted = 0;
  return {
    push() {
      accepted++;
    },
    finish() {},
    stats: () => ({ accepted, late: 0, unknownVersion: 0, overflowSeries: 0, decisions: {} }),
  };
}
