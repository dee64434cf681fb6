/**
 * `npm run bench:nab`: Vigil's self-history detector over the Numenta Anomaly Benchmark.
 *
 *   node dist/bench/nab/run.js [--no-write] [--options JSON]
 *
 * Runs the detector over the 58 corpus files with one parameter set, writes per-row
 * results and score tables in NAB's format under .local/nab/results/vigil/ (not with
 * --no-write), scores them under NAB's three profiles and prints the scoreboard with
 * Vigil's place among the published detectors. `--options` overrides detector settings (rules/history.ts), for
 * studying their effect; the figures in the README come from the defaults.
 */
import { nabTable, PROFILES, runNab } from './index.js';

function parseArgs(argv: readonly string[]): { write: boolean; detector: Record<string, number> } {
  let write = true;
  let detector: Record<string, number> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-write') write = false;
    else if (a === '--options') {
      const text = argv[++i];
      try {
        detector = JSON.parse(text ?? '') as Record<string, number>;
      } catch {
        throw new Error(`--options needs a JSON object of detector settings, got ${JSON.stringify(text)}`);
      }
    } else throw new Error(`unknown argument ${JSON.stringify(a)}; usage: node dist/bench/nab/run.js [--no-write] [--options JSON]`);
  }
  return { write, detector };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const summary = await runNab({ writeResults: args.write, detector: args.detector });
  const lines = [
    `NAB: ${summary.files} files, ${summary.rows} rows, ${summary.windows} windows; ${summary.machine}`,
    `detector settings: ${JSON.stringify(summary.options)}`,
    ...PROFILES.map((p) => {
      const v = summary.vigil[p];
      return `  ${p.padEnd(20)} score ${v.score.toFixed(2).padStart(6)}  threshold ${v.threshold.toFixed(6)}  windows detected ${v.detectedWindows}/${v.scoredWindows}  false positives ${v.falsePositives}`;
    }),
    `reported points by finding: ${JSON.stringify(summary.findings)}; rows stepping back in time: ${summary.steppedBack}`,
    `place ${summary.place} of ${summary.scoreboard.length} on the standard score`,
    '',
    nabTable(summary),
    '',
    `detector ${summary.detectSeconds.toFixed(1)} s, whole run ${summary.totalSeconds.toFixed(1)} s${summary.resultsDir === undefined ? '' : `; results in ${summary.resultsDir}`}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:nab: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
