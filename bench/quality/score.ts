/**
 * Scoring through the shared scorer: every (labels, decisions) pair of a run is scored by
 * `score()` of ../shared/eval/score.py, imported by one Python process for the whole
 * batch (the same function its command line calls, with the same parsing of the
 * decisions file), rather than one process per file.
 */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';

/** What score.py's `score()` returns (its `--json` output). */
export interface ScoreResult {
  readonly scenario: string;
  readonly regressions: number;
  readonly detected: number;
  readonly duplicates: number;
  readonly false_pages: number;
  readonly late_pages: number;
  readonly pages: number;
  readonly delays_s: readonly number[];
  readonly verdicts_ok: number;
  readonly verdicts: number;
  readonly verdict_detail: Readonly<Record<string, { readonly final: string; readonly ok: boolean }>>;
  readonly pass: boolean;
}

/** The scorer could not run, or answered something that is not a score. */
export class ScorerError extends Error {
  /** A missing Python or scorer stays missing until someone installs it. */
  readonly retriable = false;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ScorerError';
  }
}

// Reads decisions exactly as score.py's main() does: blank lines and bad JSON are skipped.
const BATCH = `
import json, sys
sys.path.insert(0, sys.argv[1])
from score import score
for line in sys.stdin:
    labels_file, decisions_file = json.loads(line)
    labels = json.load(open(labels_file))
    records = []
    with open(decisions_file) as f:
        for l in f:
            l = l.strip()
            if l:
                try:
                    records.append(json.loads(l))
                except json.JSONDecodeError:
                    pass
    print(json.dumps(score(labels, records)), flush=True)
`;

/** Scores each pair with the scorer at `scorerPath`; results come back in the order given. */
export function scoreBatch(scorerPath: string, pairs: readonly (readonly [labelsFile: string, decisionsFile: string])[]): Promise<ScoreResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', BATCH, dirname(scorerPath)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new ScorerError(`cannot start python3 for ${scorerPath}: ${e.message}`, e)));
    child.on('close', (code) => {
      const lines = stdout.split('\n').filter((l) => l.length > 0);
      if (code !== 0 || lines.length !== pairs.length) {
        reject(new ScorerError(`scorer ${scorerPath} exited ${code ?? 'by signal'} after ${lines.length} of ${pairs.length} scores: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
        return;
      }
      try {
        resolve(lines.map((l) => JSON.parse(l) as ScoreResult));
      } catch (e) {
        reject(new ScorerError(`scorer ${scorerPath} printed something that is not JSON`, e));
      }
    });
    child.stdin.end(pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });
}
