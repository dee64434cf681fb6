import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scoreBatch } from './score.js';

const SCORER = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'eval', 'score.py');

describe('scoreBatch', () => {
  it('gives what the shared scorer\'s command line prints, pair by pair, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-score-'));
    const labels = join(dir, 'labels.json');
    writeFileSync(labels, JSON.stringify({ scenario: 't', regressions: [{ service: 's', versions: ['v2'], onset: '2026-01-01T00:10:00Z', deadline_s: 300 }], verdicts: { 's/v2': ['FAIL'] } }));
    const good = join(dir, 'good.ndjson');
    writeFileSync(good, ['{"type":"page","ts":"2026-01-01T00:12:00Z","incident":"i","service":"s","versions":["v2"]}', 'not json', '{"type":"verdict","ts":"2026-01-01T00:12:00Z","service":"s","version":"v2","verdict":"FAIL"}', ''].join('\n'));
    const twice = join(dir, 'twice.ndjson');
    writeFileSync(twice, ['{"type":"page","ts":"2026-01-01T00:11:00Z","incident":"a","service":"s","versions":["v2"]}', '{"type":"page","ts":"2026-01-01T00:13:00Z","incident":"b","service":"s","versions":["v2"]}'].join('\n'));
    const results = await scoreBatch(SCORER, [
      [labels, good],
      [labels, twice],
    ]);
    const cli = (decisions: string): unknown => {
      try {
        return JSON.parse(execFileSync('python3', [SCORER, labels, decisions, '--json'], { encoding: 'utf8' }));
      } catch (e) {
        return JSON.parse(String((e as { stdout: string }).stdout));
      }
    };
    expect(results).toEqual([cli(good), cli(twice)]);
    expect(results.map((r) => [r.pass, r.detected, r.duplicates, r.delays_s])).toEqual([
      [true, 1, 0, [120]],
      [false, 1, 1, [60]],
    ]);
  });

  it('rejects with the reason when the scorer is not there', async () => {
    await expect(scoreBatch('/nonexistent/score.py', [['a', 'b']])).rejects.toThrow(/exited 1 after 0 of 1 scores/);
  });
});
