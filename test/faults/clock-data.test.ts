/**
 * Clock and data faults, in the pure core: event times years off, events from long ago,
 * duplicates, a version tag that flips mid-stream, and a deploy event that arrives after
 * its canary's first traffic. Each faulty stream is judged beside the same stream without
 * the fault; what a user would notice (pages, final verdicts) must not move.
 */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../rules/decisions.js';
import type { VigilEvent } from '../../rules/events.js';
import { type Admission, createEngine } from '../../rules/engine.js';
import { DEFAULT_RULES, type RulesConfig } from '../../rules/config.js';
import { decodeLine } from '../../ingest/decode.js';
import { catalogEntry, renderScenario } from '../../simulate/catalog.js';

const YEAR_MS = 365 * 24 * 3600_000;

function eventsOf(name: string, seed: number): VigilEvent[] {
  const entry = catalogEntry(name);
  if (!entry) throw new Error(`no catalog entry ${name}`);
  return renderScenario(entry, seed).ndjson.split('\n').filter((l) => l !== '').map((line) => {
    const r = decodeLine(line);
    if (!r.ok) throw new Error(`a catalog line does not decode: ${r.reason}`);
    return r.event;
  });
}

interface Judged {
  readonly decisions: readonly Decision[];
  readonly admissions: readonly Admission[];
  readonly stats: ReturnType<ReturnType<typeof createEngine>['stats']>;
}

function judge(events: readonly VigilEvent[], config: RulesConfig = DEFAULT_RULES): Judged {
  const decisions: Decision[] = [];
  const engine = createEngine(config, (d) => decisions.push(d));
  const admissions = events.map((e) => engine.push(e));
  engine.finish();
  return { decisions, admissions, stats: engine.stats() };
}

/** What a user would notice: who was paged, and how every judged version ended. */
function outcome(decisions: readonly Decision[]): { pages: string[]; verdicts: Record<string, string> } {
  const verdicts: Record<string, string> = {};
  const pages: string[] = [];
  for (const d of decisions) {
    if (d.type === 'verdict') verdicts[`${d.service}/${d.version}`] = d.verdict;
    if (d.type === 'page') pages.push(`${d.service} ${d.versions.join(',')}`);
  }
  return { pages: pages.sort(), verdicts };
}

function withTs(e: VigilEvent, ts: number): VigilEvent {
  return { ...e, ts };
}

describe('events far in the future', () => {
  const events = eventsOf('error-regression', 1);
  // Before the regression begins (10 min in), so that a dragged clock would hide it.
  const at = Math.floor(events.length / 5);
  const probe = events[at]!;
  // A clock years ahead, and seconds read as milliseconds the other way round (x1000).
  const faulty = [...events.slice(0, at), withTs(probe, probe.ts + 10 * YEAR_MS), withTs(probe, Math.min(probe.ts * 1000, 8.64e15)), ...events.slice(at)];

  it('are refused with the reason and counted, and the stream is judged as without them', () => {
    const clean = judge(events);
    const got = judge(faulty);
    expect(got.decisions).toEqual(clean.decisions);
    expect(got.stats.tooFarAhead).toBe(2);
    expect(got.stats.accepted).toBe(clean.stats.accepted);
    for (const a of [got.admissions[at], got.admissions[at + 1]]) {
      expect(a).toEqual({ kind: 'refused', reason: expect.stringMatching(/ahead of the stream's watermark/) });
    }
    expect(got.admissions.filter((a) => a.kind === 'refused')).toHaveLength(2);
  });

  it('would drag event time away without the guard: every later event late, the regression missed', () => {
    // The guard's reason to be: with it as good as off, the same stream loses its page.
    const off: RulesConfig = { ...DEFAULT_RULES, window: { ...DEFAULT_RULES.window, maxAheadMs: Number.MAX_SAFE_INTEGER } };
    const clean = outcome(judge(events).decisions);
    const dragged = judge(faulty, off);
    expect(clean.pages).toHaveLength(1);
    expect(dragged.stats.late).toBeGreaterThan(events.length / 3);
    expect(outcome(dragged.decisions).pages).not.toEqual(clean.pages);
  });

  it('bounded by a configurable horizon: within it an event is taken', () => {
    const tight: RulesConfig = { ...DEFAULT_RULES, window: { ...DEFAULT_RULES.window, maxAheadMs: 60_000 } };
    const decisions: Decision[] = [];
    const engine = createEngine(tight, (d) => decisions.push(d));
    const first = events[0]!;
    expect(engine.push(first).kind).toBe('taken');
    // The watermark trails the newest event by the allowed lateness (30 s): 60 s ahead of it is taken, a millisecond more is not.
    expect(engine.push(withTs(first, first.ts + 30_000)).kind).toBe('taken');
    expect(engine.push(withTs(first, first.ts + 60_001)).kind).toBe('refused');
    expect(engine.push(withTs(first, first.ts + 60_000)).kind).toBe('taken');
    expect(engine.stats().tooFarAhead).toBe(1);
  });
});

describe('events far in the past', () => {
  it('are counted late and change nothing', () => {
    const events = eventsOf('error-regression', 2);
    const at = Math.floor(events.length / 3);
    const probe = events[at]!;
    const old = [withTs(probe, probe.ts - 2 * 24 * 3600_000), withTs(probe, Math.floor(probe.ts / 1000)), withTs(probe, 0)];
    const clean = judge(events);
    const got = judge([...events.slice(0, at), ...old, ...events.slice(at)]);
    expect(got.decisions).toEqual(clean.decisions);
    expect(got.stats.late).toBe(clean.stats.late + old.length);
  });
});

describe('duplicate events', () => {
  it('a deploy event repeated changes no decision', () => {
    const events = eventsOf('canary-rollback', 1);
    const doubled = events.flatMap((e): VigilEvent[] => (e.type === 'deploy' ? [e, e] : [e]));
    expect(doubled.length).toBeGreaterThan(events.length);
    expect(judge(doubled).decisions).toEqual(judge(events).decisions);
  });

  it.each(['error-regression', 'clean-canary', 'latency-regression'])('every event twice (%s): the same pages and the same final verdicts', (name) => {
    const events = eventsOf(name, 1);
    const doubled = events.flatMap((e) => [e, e]);
    expect(outcome(judge(doubled).decisions)).toEqual(outcome(judge(events).decisions));
  });
});

describe('a version tag flipping mid-stream', () => {
  it('on a stable instance whose events start to claim the canary\'s version: no page blames the canary of a clean release', () => {
    const events = eventsOf('clean-canary', 1);
    const stableInstance = events.find((e) => e.type === 'request' && e.version !== undefined && e.instance !== undefined && !e.instance.includes('v42'));
    expect(stableInstance?.type).toBe('request');
    const instance = stableInstance?.type === 'request' ? stableInstance.instance : undefined;
    let flips = 0;
    const flipped = events.map((e, i) => {
      if (e.type !== 'request' || e.instance !== instance || i < events.length / 2) return e;
      // The tag alternates between the two versions, as a misconfigured sidecar would send it.
      flips++;
      return flips % 2 === 0 ? { ...e, version: 'v42' } : e;
    });
    expect(flips).toBeGreaterThan(100);
    const got = outcome(judge(flipped).decisions);
    expect(got.pages).toEqual([]);
    expect(got.verdicts['checkout/v42']).not.toBe('FAIL');
  });
});

describe('a deploy event arriving after its canary\'s traffic', () => {
  it.each([5_000, 25_000])('delayed %i ms in arrival (its own time unchanged): the regression is still paged once and failed', (delayMs) => {
    const events = eventsOf('error-regression', 1);
    const deployAt = events.findIndex((e) => e.type === 'deploy' && e.role === 'canary');
    const deploy = events[deployAt]!;
    const rest = [...events.slice(0, deployAt), ...events.slice(deployAt + 1)];
    const arriveAt = rest.findIndex((e) => e.ts > deploy.ts + delayMs);
    const canaryTrafficBefore = rest.slice(0, arriveAt).filter((e) => e.type === 'request' && e.ts >= deploy.ts && e.instance !== undefined && e.instance.includes('v42')).length;
    expect(canaryTrafficBefore).toBeGreaterThan(0);
    const late = [...rest.slice(0, arriveAt), deploy, ...rest.slice(arriveAt)];
    const clean = outcome(judge(events).decisions);
    const got = outcome(judge(late).decisions);
    expect(clean.pages).toHaveLength(1);
    expect(got.pages).toEqual(clean.pages);
    expect(got.verdicts['checkout/v42']).toBe('FAIL');
  });
});
