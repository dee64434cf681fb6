/**
 * The scenario suite: generates the simulator's catalog for several seeds, replays each
 * scenario through the CLI, scores the decisions with the shared scorer, does the same for
 * the shared samples, and prints one table. It is a report: it always exits 0, and lists
 * what failed and why below the table.
 *
 *   node dist/bench/scenarios.js [--seeds N] [--only NAME[,NAME]] [--out DIR] [--list]
 *
 * `--only` takes catalog names, and `sample:NAME` for a shared sample; without it every
 * catalog entry and every shared sample runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CATALOG, renderScenario, type CatalogGroup } from '../simulate/catalog.js';
import { labelsJson } from '../simulate/labels.js';
import { labelProblems } from '../simulate/oracle.js';
import type { ScoreResult } from './quality/score.js';

/** Options of one suite run. */
interface SuiteOptions {
  readonly seeds: number;
  readonly only: readonly string[];
  readonly outDir: string;
}

/** One scenario file to replay and score. */
interface SuiteCase {
  readonly id: string;
  readonly group: CatalogGroup | 'sample';
  readonly scenarioFile: string;
  readonly labelsFile: string;
  readonly decisionsFile: string;
  /**
   * Writes the scenario and label files (generated cases are written just before their
   * replay) and returns where the labels claim more than the stream shows.
   */
  readonly prepare: () => readonly string[];
}

/** The outcome of one case: a score, or why there is none. */
type CaseOutcome =
  | { readonly kind: 'scored'; readonly score: ScoreResult; readonly replayMs: number; readonly replayError: string | undefined }
  | { readonly kind: 'error'; readonly stage: 'generate' | 'replay' | 'score'; readonly message: string };

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = resolve(REPO_ROOT, '..', 'shared');
const CLI = join(REPO_ROOT, 'dist', 'app', 'cli.js');
const SCORER = join(SHARED, 'eval', 'score.py');
const SAMPLES = join(SHARED, 'scenarios');
const CONCURRENCY = 2;
const USAGE = 'usage: node dist/bench/scenarios.js [--seeds N] [--only NAME[,NAME|sample:NAME]] [--out DIR] [--list]';
const REPLAY_TIMEOUT_MS = 10 * 60_000;

function parseArgs(argv: readonly string[]): SuiteOptions {
  let seeds = 3;
  const only: string[] = [];
  let outDir = join(REPO_ROOT, 'bench', 'out', 'scenarios');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg ?? ''} needs a value`);
      return v;
    };
    switch (arg) {
      case '--seeds':
        seeds = Number(value());
        if (!Number.isInteger(seeds) || seeds < 1) throw new Error('--seeds needs a positive integer');
        break;
      case '--only':
        only.push(...value().split(',').filter((s) => s.length > 0));
        break;
      case '--out':
        outDir = resolve(value());
        break;
      case '--list':
        for (const e of CATALOG) process.stdout.write(`${pad(e.name, 32)} ${pad(e.group, 5)}  ${e.summary}\n`);
        process.exit(0);
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg ?? ''}`);
    }
  }
  return { seeds, only, outDir };
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (error !== null && typeof error.code !== 'number' ? `\n${error.message}` : '') });
    });
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

async function runCase(c: SuiteCase): Promise<CaseOutcome> {
  // A stale output from an earlier run must not be scored as this run's.
  rmSync(c.decisionsFile, { force: true });
  const started = Date.now();
  const replay = await run(process.execPath, [CLI, 'replay', c.scenarioFile, '--out', c.decisionsFile], REPLAY_TIMEOUT_MS);
  const replayMs = Date.now() - started;
  if (!existsSync(c.decisionsFile)) {
    return { kind: 'error', stage: 'replay', message: `exit ${replay.code}, no output: ${lastLines(replay.stderr, 5)}` };
  }
  const score = await run('python3', [SCORER, c.labelsFile, c.decisionsFile, '--json'], 120_000);
  try {
    const parsed = JSON.parse(score.stdout) as ScoreResult;
    return { kind: 'scored', score: parsed, replayMs, replayError: replay.code === 0 ? undefined : `replay exit ${replay.code}: ${lastLines(replay.stderr, 3)}` };
  } catch {
    return { kind: 'error', stage: 'score', message: `scorer exit ${score.code}: ${lastLines(score.stderr || score.stdout, 5)}` };
  }
}

async function runAll(cases: readonly SuiteCase[], onDone: (c: SuiteCase, o: CaseOutcome) => void): Promise<Map<string, CaseOutcome>> {
  const results = new Map<string, CaseOutcome>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++] as SuiteCase;
      // Generating here rather than up front lets the other worker's replay run meanwhile.
      let outcome: CaseOutcome;
      try {
        const problems = c.prepare();
        if (problems.length > 0) labelWarnings.set(c.id, problems);
        outcome = await runCase(c);
      } catch (e) {
        outcome = { kind: 'error', stage: 'generate', message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      }
      results.set(c.id, outcome);
      onDone(c, outcome);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

/** Generation totals, reported once the suite has run. */
const generation = { scenarios: 0, events: 0, ms: 0 };

/** Generated cases whose labels the stream does not plainly back (see simulate/oracle.ts). */
const labelWarnings = new Map<string, readonly string[]>();

function generatedCases(o: SuiteOptions): SuiteCase[] {
  const entries = CATALOG.filter((e) => o.only.length === 0 || o.only.includes(e.name));
  const unknown = o.only.filter((n) => !CATALOG.some((e) => e.name === n) && !n.startsWith('sample:'));
  if (unknown.length > 0) process.stderr.write(`unknown scenario name(s): ${unknown.join(', ')}\n`);
  mkdirSync(o.outDir, { recursive: true });
  const cases: SuiteCase[] = [];
  for (const entry of entries) {
    for (let seed = 1; seed <= o.seeds; seed++) {
      const id = `${entry.name}-seed${seed}`;
      const scenarioFile = join(o.outDir, `${id}.ndjson.gz`);
      const labelsFile = join(o.outDir, `${id}.labels.json`);
      cases.push({
        id,
        group: entry.group,
        scenarioFile,
        labelsFile,
        decisionsFile: join(o.outDir, `${id}.decisions.ndjson`),
        prepare: () => {
          const started = performance.now();
          const r = renderScenario(entry, seed);
          generation.ms += performance.now() - started;
          generation.scenarios++;
          generation.events += r.events.length;
          writeFileSync(scenarioFile, gzipSync(r.ndjson));
          writeFileSync(labelsFile, labelsJson(r.labels));
          // Power cases are weak on purpose; only must-detect labels are held to the oracle.
          return entry.group === 'core' ? labelProblems(r.scenario, r.events) : [];
        },
      });
    }
  }
  return cases;
}

function sampleCases(o: SuiteOptions): SuiteCase[] {
  if (!existsSync(SAMPLES)) {
    process.stderr.write(`no shared samples at ${SAMPLES}\n`);
    return [];
  }
  const wanted = (name: string): boolean => o.only.length === 0 || o.only.includes(`sample:${name}`);
  return readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.labels.json'))
    .map((f) => f.slice(0, -'.labels.json'.length))
    .filter((name) => existsSync(join(SAMPLES, `${name}.ndjson.gz`)) && wanted(name))
    .sort()
    .map((name) => ({
      id: `sample:${name}`,
      group: 'sample' as const,
      scenarioFile: join(SAMPLES, `${name}.ndjson.gz`),
      labelsFile: join(SAMPLES, `${name}.labels.json`),
      decisionsFile: join(o.outDir, `sample-${name}.decisions.ndjson`),
      prepare: () => [],
    }));
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function fmtDelays(delays: readonly number[]): string {
  return delays.length === 0 ? '-' : delays.map((d) => `${Math.round(d)}s`).join(',');
}

function row(c: SuiteCase, o: CaseOutcome | undefined): string[] {
  const labels = c.group !== 'core' ? '-' : labelWarnings.has(c.id) ? 'WEAK' : 'ok';
  if (o === undefined) return [c.id, c.group, 'ERROR', '-', '-', '-', '-', '-', '-', labels, 'not run'];
  if (o.kind === 'error') return [c.id, c.group, 'ERROR', '-', '-', '-', '-', '-', '-', labels, `${o.stage}: ${o.message.split('\n')[0] ?? ''}`];
  const s = o.score;
  return [
    c.id,
    c.group,
    s.pass ? 'pass' : 'FAIL',
    `${s.detected}/${s.regressions}`,
    String(s.false_pages),
    String(s.duplicates),
    String(s.late_pages),
    fmtDelays(s.delays_s),
    `${s.verdicts_ok}/${s.verdicts}`,
    labels,
    `${(o.replayMs / 1000).toFixed(1)}s`,
  ];
}

/** Allowed verdicts and regression versions from a label file, to explain verdict failures. */
function allowedVerdicts(labelsFile: string): Record<string, readonly string[]> {
  try {
    const labels = JSON.parse(readFileSync(labelsFile, 'utf8')) as { verdicts?: Record<string, readonly string[]> };
    return labels.verdicts ?? {};
  } catch {
    return {};
  }
}

function verdictProblem(final: string, allowed: readonly string[] | undefined): string {
  if (allowed === undefined) return `is ${final}`;
  if (!allowed.includes(final)) return `ended ${final}, allowed ${allowed.join('/')}`;
  if (!allowed.includes('FAIL')) return `was FAILed at some point, though it must never FAIL`;
  return 'FAILed outside onset..onset+deadline';
}

function why(c: SuiteCase, o: CaseOutcome): string {
  if (o.kind === 'error') return `${o.stage} error: ${o.message}`;
  const s = o.score;
  const allowed = allowedVerdicts(c.labelsFile);
  const parts: string[] = [];
  if (s.detected < s.regressions) parts.push(`missed ${s.regressions - s.detected} of ${s.regressions} regression(s)`);
  if (s.false_pages > 0) parts.push(`${s.false_pages} false page(s)`);
  if (s.duplicates > 0) parts.push(`${s.duplicates} duplicate page(s)`);
  if (s.late_pages > 0) parts.push(`${s.late_pages} late page(s)`);
  for (const [key, v] of Object.entries(s.verdict_detail)) if (!v.ok) parts.push(`${key} ${verdictProblem(v.final, allowed[key])}`);
  if (o.replayError !== undefined) parts.push(o.replayError);
  return parts.join('; ');
}

interface Totals {
  cases: number;
  passed: number;
  errors: number;
  regressions: number;
  detected: number;
  falsePages: number;
  duplicates: number;
  latePages: number;
  verdicts: number;
  verdictsOk: number;
  delays: number[];
}

function totalsOf(cases: readonly SuiteCase[], results: ReadonlyMap<string, CaseOutcome>): Totals {
  const t: Totals = { cases: 0, passed: 0, errors: 0, regressions: 0, detected: 0, falsePages: 0, duplicates: 0, latePages: 0, verdicts: 0, verdictsOk: 0, delays: [] };
  for (const c of cases) {
    t.cases++;
    const o = results.get(c.id);
    if (o === undefined || o.kind === 'error') {
      t.errors++;
      continue;
    }
    const s = o.score;
    if (s.pass) t.passed++;
    t.regressions += s.regressions;
    t.detected += s.detected;
    t.falsePages += s.false_pages;
    t.duplicates += s.duplicates;
    t.latePages += s.late_pages;
    t.verdicts += s.verdicts;
    t.verdictsOk += s.verdicts_ok;
    t.delays.push(...s.delays_s);
  }
  return t;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function totalsLine(label: string, t: Totals): string {
  const d = [...t.delays].sort((a, b) => a - b);
  const delays = d.length === 0 ? 'delays -' : `delays median ${quantile(d, 0.5).toFixed(0)}s p90 ${quantile(d, 0.9).toFixed(0)}s max ${(d[d.length - 1] ?? 0).toFixed(0)}s`;
  return (
    `${pad(label, 8)} ${t.passed}/${t.cases} pass` +
    (t.errors > 0 ? `, ${t.errors} error(s)` : '') +
    `; detected ${t.detected}/${t.regressions}; false pages ${t.falsePages}; duplicates ${t.duplicates}; late ${t.latePages}; verdicts ${t.verdictsOk}/${t.verdicts}; ${delays}`
  );
}

function printReport(cases: readonly SuiteCase[], results: ReadonlyMap<string, CaseOutcome>): void {
  const header = ['scenario', 'group', 'result', 'detected', 'false', 'dup', 'late', 'delays', 'verdicts', 'labels', 'replay'];
  const rows = cases.map((c) => row(c, results.get(c.id)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => pad(cell, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out: string[] = ['', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  for (const group of ['core', 'sample', 'power'] as const) {
    const inGroup = cases.filter((c) => c.group === group);
    if (inGroup.length > 0) out.push(totalsLine(group, totalsOf(inGroup, results)));
  }
  out.push('(power: power-curve cases, reported only; core and sample count. labels: whether a naive reading of the stream backs the labels)');
  const failures = cases.filter((c) => {
    const o = results.get(c.id);
    return o === undefined || o.kind === 'error' || !o.score.pass;
  });
  const counted = failures.filter((c) => c.group !== 'power');
  out.push('');
  if (counted.length === 0) out.push('FAILURES: none in core and sample scenarios');
  else {
    out.push(`FAILURES (${counted.length}):`);
    for (const c of counted) {
      const o = results.get(c.id);
      out.push(`  ${c.id}: ${o === undefined ? 'not run' : why(c, o)}`);
      out.push(`      labels ${c.labelsFile}`);
      out.push(`      decisions ${c.decisionsFile}`);
    }
  }
  const missedPower = failures.filter((c) => c.group === 'power');
  if (missedPower.length > 0) {
    out.push(`power cases not passed (${missedPower.length}, not counted):`);
    for (const c of missedPower) {
      const o = results.get(c.id);
      out.push(`  ${c.id}: ${o === undefined ? 'not run' : why(c, o)}`);
    }
  }
  if (labelWarnings.size > 0) {
    out.push(`LABEL WARNINGS (${labelWarnings.size}): the stream does not plainly show what these labels demand; fix the catalog before blaming the engine`);
    for (const [id, problems] of labelWarnings) out.push(`  ${id}: ${problems.join('; ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  let options: SuiteOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return;
  }
  if (!existsSync(CLI)) {
    process.stdout.write(`${CLI} is missing: build the CLI first (npm run build); nothing replayed or scored.\n`);
    return;
  }
  if (!existsSync(SCORER)) {
    process.stdout.write(`scorer ${SCORER} is missing: nothing scored.\n`);
    return;
  }
  const cases = [...generatedCases(options), ...sampleCases(options)];
  let done = 0;
  const results = await runAll(cases, (c, o) => {
    done++;
    const mark = o.kind === 'error' ? 'ERROR' : o.score.pass ? 'pass' : 'FAIL';
    process.stderr.write(`[${done}/${cases.length}] ${c.id} ${mark}\n`);
  });
  printReport(cases, results);
  if (generation.scenarios > 0) {
    process.stdout.write(
      `generated ${generation.scenarios} scenarios, ${generation.events} events, in ${(generation.ms / 1000).toFixed(1)} s (${(generation.ms / generation.scenarios).toFixed(0)} ms per scenario) into ${options.outDir}\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`scenario suite crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
});
