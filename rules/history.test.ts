import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HISTORY_OPTIONS, HistoryDetector, describeJudgment, judgeSeries, type HistoryJudgment } from './history.js';

const MINUTE = 60_000;

/** A seeded uniform generator (mulberry32), so that every run sees the same noise. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller) from a seeded generator. */
function gaussian(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Judges `values` at one point a minute. */
function run(values: readonly number[], options = {}): HistoryJudgment[] {
  return judgeSeries(
    values.map((_, i) => i * MINUTE),
    values,
    options,
  );
}

function noise(n: number, seed: number, mean = 100, sd = 5): number[] {
  const g = gaussian(seed);
  return Array.from({ length: n }, () => mean + sd * g());
}

const ALARM = 0.5; // surprise 4: p = 1e-4 against the series' own history

describe('the self-history detector', () => {
  it('stays low on stationary noise', () => {
    for (const seed of [1, 2, 3]) {
      const judged = run(noise(20_000, seed));
      const alarms = judged.filter((j) => j.score >= ALARM).length;
      // 20,000 points, each with p >= 1e-4 in most of them: at most a couple of chance alarms.
      expect(alarms, `seed ${seed}`).toBeLessThanOrEqual(3);
      expect(judged.filter((j) => j.reported).length / judged.length).toBeLessThan(0.05);
    }
  });

  it('raises one alarm at a level shift, not one per shifted point', () => {
    const values = noise(3000, 4);
    for (let i = 2000; i < values.length; i++) values[i]! += 30; // 6 standard deviations
    const judged = run(values);
    const before = judged.slice(0, 2000).filter((j) => j.score >= ALARM).length;
    const at = judged.slice(2000, 2010);
    const peak = Math.max(...at.map((j) => j.score));
    expect(before).toBeLessThanOrEqual(1);
    expect(peak).toBeGreaterThanOrEqual(ALARM);
    expect(peak).toBeGreaterThan(Math.max(...judged.slice(0, 2000).map((j) => j.score)));
    // The episode is reported once: after its peak, the shifted points carry it on in silence.
    const alarmsAfter = judged.slice(2010, 2100).filter((j) => j.score >= ALARM).length;
    expect(alarmsAfter).toBeLessThanOrEqual(1);
  });

  it('rises on a single spike and says it is one', () => {
    const values = noise(3000, 5);
    values[2500] = 100 + 5 * 10; // 10 standard deviations
    const judged = run(values);
    const j = judged[2500]!;
    expect(j.score).toBeGreaterThanOrEqual(0.7);
    expect(j.reported).toBe(true);
    expect(['spike', 'range']).toContain(j.finding);
    expect(describeJudgment(j, 'p99 of checkout v42')).toMatch(/^p99 of checkout v42 is 150(\.\d+)? /);
  });

  it('rises when the variance grows while the mean holds', () => {
    const values = noise(3000, 6);
    const g = gaussian(60);
    for (let i = 2000; i < values.length; i++) values[i] = 100 + 20 * g(); // four times the spread
    const judged = run(values);
    const first = judged.slice(2000, 2100).find((j) => j.score >= ALARM);
    expect(first).toBeDefined();
    expect(judged.slice(0, 2000).filter((j) => j.score >= ALARM).length).toBeLessThanOrEqual(1);
  });

  it('says a drift is a drift, with its numbers', () => {
    const j: HistoryJudgment = { score: 0.6, surprise: 6, p: 1e-6, finding: 'drift', value: 130, expected: 129, cycle: 'none', statistic: 12, typical: 0.5, reported: true, warmingUp: false };
    expect(describeJudgment(j, 'p99 of checkout v42')).toBe('p99 of checkout v42 has drifted: its slow mean is 12 off its baseline, 24x its usual 0.5 (p 1.0e-6 against its own history)');
  });

  it('learns a daily rhythm and flags a day that breaks it', () => {
    // Points every 15 minutes for three weeks; a daily peak of +40 around noon; on day 18 the peak never comes.
    const g = gaussian(7);
    const perDay = 96;
    const times: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < perDay * 21; i++) {
      const t = i * 15 * MINUTE;
      const hour = (t / (60 * MINUTE)) % 24;
      const peak = Math.max(0, Math.cos(((hour - 12) / 24) * 2 * Math.PI)) ** 4 * 40;
      const day = Math.floor(i / perDay);
      times.push(t);
      values.push(100 + (day === 18 ? 0 : peak) + 2 * g());
    }
    const judged = judgeSeries(times, values);
    const broken = judged.slice(18 * perDay, 19 * perDay).reduce((a, b) => (b.surprise > a.surprise ? b : a));
    // The ordinary days after the first week are unremarkable: the peak itself is expected.
    const ordinary = Math.max(...judged.slice(8 * perDay, 18 * perDay).map((j) => j.surprise));
    expect(broken.finding).toBe('rhythm');
    expect(broken.reported).toBe(true);
    expect(broken.surprise).toBeGreaterThanOrEqual(3.5);
    expect(broken.surprise).toBeGreaterThan(1.5 * ordinary);
  });

  it('is deterministic: the same series gives the same judgments', () => {
    const values = noise(5000, 8);
    values[4000] = 200;
    expect(run(values)).toEqual(run(values));
  });

  it('keeps bounded memory however long the series', () => {
    const d = new HistoryDetector({ memory: 500 });
    const g = gaussian(9);
    const sizes: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      d.judge(i * MINUTE, 100 + g());
      if (i === 99 || i === 9_999 || i === 19_999) sizes.push(d.retainedNumbers());
    }
    expect(sizes[0]).toBeLessThan(sizes[1]!);
    expect(sizes[2]).toBe(sizes[1]);
    // Seven sample rings and their sorted copies, the rhythm bins, the episodes' surprises, a few scalars.
    const bins = DEFAULT_HISTORY_OPTIONS.dayBins * 8 * 2 + 15;
    expect(sizes[2]).toBeLessThanOrEqual(7 * 2 * 500 + bins + DEFAULT_HISTORY_OPTIONS.episodePoints + 2 * DEFAULT_HISTORY_OPTIONS.slowEpisodePoints + 100);
  });

  it('scores every point in [0, 1] whatever the series', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 3_600_000 }), (values, stepMs) => {
        const judged = judgeSeries(
          values.map((_, i) => i * stepMs),
          values,
          { warmupPoints: 20, memory: 50 },
        );
        return judged.every((j) => j.score >= 0 && j.score <= 1 && j.p >= 0 && j.p <= 1);
      }),
      { numRuns: 200 },
    );
  });

  it('explains a finding with its numbers', () => {
    const values = noise(2000, 10);
    for (let i = 1500; i < values.length; i++) values[i]! += 40;
    const judged = run(values);
    const reported = judged.slice(1500, 1510).reduce((a, b) => (b.score > a.score ? b : a));
    const sentence = describeJudgment(reported, '5xx ratio of search-api r311');
    expect(sentence).toMatch(/^5xx ratio of search-api r311 /);
    expect(sentence).toMatch(/p \d/);
    expect(describeJudgment(judged[3]!, 'x')).toBe(`x: ${Number(values[3]!.toPrecision(4))}, still learning its history`);
  });

  it('refuses bad input with the reason', () => {
    const d = new HistoryDetector();
    d.judge(2 * MINUTE, 1);
    expect(() => d.judge(MINUTE, 1)).toThrow(/before the previous point/);
    expect(() => d.judge(3 * MINUTE, Number.NaN)).toThrow(/value NaN .* not a finite number/);
    expect(() => d.judge(Number.POSITIVE_INFINITY, 1)).toThrow(/time Infinity is not a finite number/);
    expect(() => new HistoryDetector({ memory: 5 })).toThrow(/memory must be/);
    expect(() => new HistoryDetector({ tailFraction: 0.7 })).toThrow(/tailFraction must be in/);
    expect(() => new HistoryDetector({ episodePoints: 0 })).toThrow(/episodePoints/);
    expect(() => new HistoryDetector({ slowEpisodePoints: 2.5 })).toThrow(/slowEpisodePoints must be a whole number/);
    expect(() => new HistoryDetector({ memroy: 100 } as never)).toThrow(/unknown setting memroy/);
    expect(() => judgeSeries([1, 2], [1])).toThrow(/2 times for 1 values/);
  });
});
