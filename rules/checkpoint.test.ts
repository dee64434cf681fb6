/**
 * An engine rebuilt for a partition taken over: started from a checkpoint, then fed what
 * the topic still retains. From the first event the previous owner had not handled on, it
 * must decide exactly as the engine that was never interrupted (when the whole stream is
 * retained), and never page again for what is already open (when the start is gone).
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.js';
import { DEFAULT_RULES } from './config.js';
import type { Decision } from './decisions.js';
import type { VigilEvent } from './events.js';
import type { EngineCheckpoint } from './checkpoint.js';
import { decodeLine } from '../ingest/decode.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';

function eventsOf(kind: string, seed: number): VigilEvent[] {
  const entry = catalogEntry(kind);
  if (!entry) throw new Error(`no catalog kind ${kind}`);
  const out: VigilEvent[] = [];
  for (const line of renderScenario(entry, seed).ndjson.split('\n')) {
    if (line === '') continue;
    const r = decodeLine(line);
    if (r.ok) out.push(r.event);
  }
  return out;
}

/** Decisions of a run, each with the index of the event whose push made it. */
interface Run {
  readonly decisions: { readonly at: number; readonly d: Decision }[];
  readonly checkpoints: Map<number, EngineCheckpoint>;
}

/** Feeds events[from..] to an engine (started from `start`), taking checkpoints just before the indexes asked for. */
function run(events: readonly VigilEvent[], from: number, start?: EngineCheckpoint, checkpointAt: readonly number[] = []): Run {
  const decisions: { at: number; d: Decision }[] = [];
  let at = from;
  const engine = createEngine(DEFAULT_RULES, (d) => decisions.push({ at, d }), start);
  const checkpoints = new Map<number, EngineCheckpoint>();
  for (at = from; at < events.length; at++) {
    // Through JSON, as it goes to Redis and back.
    if (checkpointAt.includes(at)) checkpoints.set(at, JSON.parse(JSON.stringify(engine.checkpoint())) as EngineCheckpoint);
    engine.push(events[at] as VigilEvent);
  }
  engine.finish();
  return { decisions, checkpoints };
}

const from = (r: Run, index: number): Decision[] => r.decisions.filter((x) => x.at >= index).map((x) => x.d);

describe('an engine started from a checkpoint', () => {
  const kinds = [
    'parallel-canaries-one-bad', 'canary-rollback', 'canary-promote-clean', 'two-services-two-regressions', 'fleet-rollout-regression',
    'fleet-rollout-clean', 'latency-regression', 'error-regression-at-deploy', 'untagged-error-regression', 'fleet-outage',
  ];

  it.each(kinds)('decides as the uninterrupted engine from the takeover on, with the whole stream retained (%s)', (kind) => {
    const events = eventsOf(kind, 1);
    const n = events.length;
    // Takeovers early, in the middle (around the failures) and late; checkpoints at the
    // takeover or some way before it (the last one written before the previous owner died).
    const takeovers = [Math.floor(n * 0.3), Math.floor(n * 0.55), Math.floor(n * 0.8)];
    const lags = [0, Math.floor(n * 0.15)];
    const want = run(events, 0, undefined, takeovers.flatMap((c) => lags.map((l) => c - l)));
    expect(want.decisions.length).toBeGreaterThan(0);
    for (const c of takeovers) {
      for (const lag of lags) {
        const checkpoint = want.checkpoints.get(c - lag);
        expect(checkpoint).toBeDefined();
        const rebuilt = run(events, 0, checkpoint);
        expect(from(rebuilt, c), `${kind}: takeover at event ${c}, checkpoint ${lag} events before it`).toEqual(from(want, c));
      }
    }
  });

  it('keeps what fell out of the topic: a regression still going on pages once, and its FAIL stays', () => {
    // v42 fails some minutes after the onset and keeps failing to the end: its incident
    // stays open. The topic retains only the last quarter of the stream when a new owner
    // takes over, so the deploy events and the failure are gone from it.
    const events = eventsOf('error-regression', 1);
    const takeover = Math.floor(events.length * 0.8);
    const retained = Math.floor(events.length * 0.75);
    const want = run(events, 0, undefined, [takeover]);
    const pagesBefore = want.decisions.filter((x) => x.d.type === 'page' && x.at < takeover);
    expect(pagesBefore).toHaveLength(1);

    const rebuilt = run(events, retained, want.checkpoints.get(takeover));
    const after = from(rebuilt, takeover);
    expect(after.filter((d) => d.type === 'page')).toEqual([]);
    const verdicts = after.filter((d) => d.type === 'verdict' && d.version === 'v42');
    expect(verdicts).toEqual([]);

    // Without the checkpoint the same retained events make a second page for the same
    // regression: the case the checkpoint is for.
    const bare = run(events, retained);
    expect(from(bare, takeover).filter((d) => d.type === 'page')).toHaveLength(1);
  });
});
