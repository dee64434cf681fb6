/**
 * The quality suite: the simulator's catalog for several seeds, the power grid (every
 * regression size at every canary traffic level) and its clean releases, and the shared
 * samples, each case judged by Vigil and the two reference judges (bench/peers/) and
 * scored by the shared scorer. The shared samples are also replayed through the CLI
 * (`vigil replay`) and scored by the scorer's own command line, to show that the
 * in-process run and the command give the same decisions and the same score.
 *
 * - `runQuality(options)` runs it all on worker threads and resolves to a `QualityRun`.
 * - `qualityReport(run)` renders the tables (Markdown) and the charts (SVG text).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CATALOG } from '../../simulate/catalog.js';
import { describeMachine, machineInfo } from '../harness.js';
import { caseId, JUDGES, type CaseGroup, type CaseRun, type CaseSpec, type JudgeName } from './cases.js';
import { lineChartSvg } from './chart.js';
import { cellStats, detectionRate, failTimings, falsePagesPer100, nearestRank, pagesPerIncident, totalsOf, verdictAccuracy, type CellStats, type ScoredCase, type Totals } from './metrics.js';
import { POWER_AFTER_ONSET_MS, POWER_DURATION_MS, POWER_FAULTS, POWER_ONSET_MS, POWER_RATES, powerFaultName, type PowerFault } from './power.js';

const AFTER_MIN = POWER_AFTER_ONSET_MS / 60_000;
import { scoreBatch, type ScoreResult } from './score.js';
import type { WorkerRequest } from './worker.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHARED = resolve(REPO_ROOT, '..', 'shared');

/** How much of the suite to run, and where. */
export interface QualityOptions {
  /** Seeds per core catalog kind. */
  readonly coreSeeds: number;
  /** Seeds per catalog power-curve kind (reported apart). */
  readonly catalogPowerSeeds: number;
  /** Seeds per power-grid cell (fault x traffic). */
  readonly gridSeeds: number;
  /** Seeds per traffic level of clean grid releases. */
  readonly cleanSeeds: number;
  readonly outDir: string;
  readonly samplesDir: string;
  readonly scorer: string;
  readonly concurrency: number;
}

/** The defaults `npm run bench` uses. */
export const DEFAULT_QUALITY_OPTIONS: QualityOptions = {
  coreSeeds: 2,
  catalogPowerSeeds: 1,
  gridSeeds: 3,
  cleanSeeds: 50,
  outDir: join(REPO_ROOT, 'bench', 'out', 'quality'),
  samplesDir: join(SHARED, 'scenarios'),
  scorer: join(SHARED, 'eval', 'score.py'),
  concurrency: Math.max(1, Math.min(2, availableParallelism())),
};

/** A case with each judge's score. */
export interface ScoredRun {
  readonly run: CaseRun;
  readonly scores: Readonly<Record<JudgeName, ScoreResult>>;
}

/** A shared sample replayed through the CLI and scored by the scorer's command line. */
export interface SampleCheck {
  readonly name: string;
  /** Whether `vigil replay`'s output is byte for byte the in-process run's. */
  readonly identical: boolean;
  readonly cliScore: ScoreResult;
}

/** Everything a quality run produced. */
export interface QualityRun {
  readonly options: QualityOptions;
  readonly runs: readonly ScoredRun[];
  readonly failed: readonly { readonly id: string; readonly error: string }[];
  readonly samples: readonly SampleCheck[];
  readonly seconds: number;
  readonly events: number;
  readonly machine: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
}

/** The case specs of a run, in the order they are reported. */
export function suiteSpecs(o: QualityOptions): CaseSpec[] {
  const specs: CaseSpec[] = [];
  for (const entry of CATALOG) {
    const seeds = entry.group === 'core' ? o.coreSeeds : o.catalogPowerSeeds;
    for (let seed = 1; seed <= seeds; seed++) specs.push({ source: 'catalog', name: entry.name, seed });
  }
  for (const fault of POWER_FAULTS) {
    for (const rateRps of POWER_RATES) for (let seed = 1; seed <= o.gridSeeds; seed++) specs.push({ source: 'power', fault, rateRps, seed });
  }
  for (const rateRps of POWER_RATES) for (let seed = 1; seed <= o.cleanSeeds; seed++) specs.push({ source: 'power', fault: undefined, rateRps, seed });
  if (existsSync(o.samplesDir)) {
    for (const f of readdirSync(o.samplesDir).sort()) {
      if (!f.endsWith('.labels.json')) continue;
      const name = f.slice(0, -'.labels.json'.length);
      if (existsSync(join(o.samplesDir, `${name}.ndjson.gz`))) specs.push({ source: 'sample', name, dir: o.samplesDir });
    }
  }
  return specs;
}

type WorkerReply = { readonly ok: true; readonly run: CaseRun } | { readonly ok: false; readonly error: string };

/** Runs the cases on `concurrency` worker threads, largest first so that none is left alone at the end. */
async function runCases(specs: readonly CaseSpec[], o: QualityOptions, onDone: (done: number, id: string) => void): Promise<{ runs: CaseRun[]; failed: { id: string; error: string }[] }> {
  const runs = new Map<string, CaseRun>();
  const failed: { id: string; error: string }[] = [];
  let next = 0;
  let done = 0;
  const workerFile = new URL('./worker.js', import.meta.url);
  const lane = (): Promise<void> =>
    new Promise((resolveLane, rejectLane) => {
      const worker = new Worker(workerFile);
      const send = (): void => {
        if (next >= specs.length) {
          void worker.terminate().then(() => resolveLane());
          return;
        }
        const spec = specs[next++] as CaseSpec;
        worker.postMessage({ spec, outDir: o.outDir } satisfies WorkerRequest);
        worker.once('message', (reply: WorkerReply) => {
          done++;
          if (reply.ok) runs.set(reply.run.id, reply.run);
          else failed.push({ id: caseId(spec), error: reply.error });
          onDone(done, caseId(spec));
          send();
        });
      };
      worker.once('error', rejectLane);
      send();
    });
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  const ordered = specs.map((s) => runs.get(caseId(s))).filter((r): r is CaseRun => r !== undefined);
  return { runs: ordered, failed };
}

function checkSample(run: CaseRun, o: QualityOptions): SampleCheck {
  if (run.spec.source !== 'sample') throw new Error(`${run.id} is not a shared sample`);
  const cli = join(REPO_ROOT, 'dist', 'app', 'cli.js');
  const out = join(o.outDir, `${run.id}.cli.ndjson`);
  rmSync(out, { force: true });
  execFileSync(process.execPath, [cli, 'replay', join(run.spec.dir, `${run.spec.name}.ndjson.gz`), '--out', out, '--quiet'], { stdio: 'ignore' });
  const identical = readFileSync(out).equals(readFileSync(run.judges.vigil.decisionsFile));
  // The scorer exits 1 when a scenario is not fully right; its JSON is printed either way.
  let text: string;
  try {
    text = execFileSync('python3', [o.scorer, run.labelsFile, out, '--json'], { encoding: 'utf8' });
  } catch (e) {
    text = String((e as { stdout?: unknown }).stdout ?? '');
  }
  return { name: run.spec.name, identical, cliScore: JSON.parse(text) as ScoreResult };
}

/** Runs the whole suite and scores it. */
export async function runQuality(o: QualityOptions = DEFAULT_QUALITY_OPTIONS, progress: (line: string) => void = () => {}): Promise<QualityRun> {
  const started = performance.now();
  const loadBefore = loadavg();
  mkdirSync(o.outDir, { recursive: true });
  const specs = suiteSpecs(o);
  const { runs, failed } = await runCases(specs, o, (done, id) => {
    if (done % 25 === 0 || done === specs.length) progress(`quality: ${done}/${specs.length} cases (${id})`);
  });
  const pairs = runs.flatMap((r) => JUDGES.map((j) => [r.labelsFile, r.judges[j].decisionsFile] as const));
  const scores = await scoreBatch(o.scorer, pairs);
  const scored: ScoredRun[] = runs.map((run, i) => {
    const byJudge = {} as Record<JudgeName, ScoreResult>;
    JUDGES.forEach((j, k) => (byJudge[j] = scores[i * JUDGES.length + k] as ScoreResult));
    return { run, scores: byJudge };
  });
  const samples = runs.filter((r) => r.group === 'sample').map((r) => checkSample(r, o));
  return {
    options: o,
    runs: scored,
    failed,
    samples,
    seconds: (performance.now() - started) / 1000,
    events: runs.reduce((n, r) => n + r.events, 0),
    machine: describeMachine(machineInfo()),
    loadBefore,
    loadAfter: loadavg(),
  };
}

// ---- the report --------------------------------------------------------------------

function casesOf(run: QualityRun, judge: JudgeName, keep: (r: ScoredRun) => boolean): ScoredCase[] {
  return run.runs.filter(keep).map((r) => ({ labels: r.run.labels, score: r.scores[judge], firstFailMs: r.run.judges[judge].firstFailMs }));
}

function percent(x: number): string {
  return Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}%`;
}

function fixed(x: number, digits: number): string {
  return Number.isNaN(x) ? '-' : x.toFixed(digits);
}

function seconds(sorted: readonly number[], q: number): string {
  return sorted.length === 0 ? '-' : `${nearestRank(sorted, q).toFixed(0)} s`;
}

function totalsRow(judge: string, t: Totals): string {
  return `| ${judge} | ${t.passed}/${t.cases} | ${t.detected}/${t.regressions} (${percent(detectionRate(t))}) | ${seconds(t.delaysS, 0.5)} | ${seconds(t.delaysS, 0.9)} | ${fixed(pagesPerIncident(t), 2)} | ${t.latePages} | ${t.falsePages} | ${fixed(falsePagesPer100(t), 1)} | ${t.falseFails}/${t.cleanReleases} | ${t.verdictsOk}/${t.verdicts} (${percent(verdictAccuracy(t))}) |`;
}

const TOTALS_HEAD = [
  '| judge | cases right | regressions paged in time | median time to page | p90 time to page | pages per incident | late pages | false pages | false pages per 100 clean releases | false FAILs / clean releases | verdicts right |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];

function totalsTable(run: QualityRun, keep: (r: ScoredRun) => boolean): string[] {
  return [...TOTALS_HEAD, ...JUDGES.map((j) => totalsRow(j, totalsOf(casesOf(run, j, keep))))];
}

function inGroups(...groups: CaseGroup[]): (r: ScoredRun) => boolean {
  return (r) => groups.includes(r.run.group);
}

/** The grid cell of a case, if it is one. */
function cellOf(r: ScoredRun): { fault: PowerFault; rateRps: number } | undefined {
  const s = r.run.spec;
  return s.source === 'power' && s.fault !== undefined ? { fault: s.fault, rateRps: s.rateRps } : undefined;
}

/** Per fault and rate, the FAIL timings of one judge on the grid. */
export function gridStats(run: QualityRun, judge: JudgeName): Map<string, CellStats> {
  const timings = new Map<string, ReturnType<typeof failTimings>>();
  for (const r of run.runs) {
    const cell = cellOf(r);
    if (cell === undefined) continue;
    const key = `${powerFaultName(cell.fault)}@${cell.rateRps}`;
    timings.set(key, [...(timings.get(key) ?? []), ...failTimings(r.run.labels, r.run.judges[judge].firstFailMs)]);
  }
  return new Map([...timings].map(([k, t]) => [k, cellStats(t)]));
}

function minutes(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 60_000).toFixed(1)} min` : 'not caught';
}

function gridTable(stats: Map<string, CellStats>): string[] {
  const head = `| regression | ${POWER_RATES.map((r) => `${r} req/s`).join(' | ')} |`;
  const rows = POWER_FAULTS.map((f) => {
    const cells = POWER_RATES.map((rate) => {
      const s = stats.get(`${powerFaultName(f)}@${rate}`);
      if (s === undefined) return '-';
      return `${minutes(s.medianMs)} (${s.caught}/${s.runs}${s.early > 0 ? `, ${s.early} early` : ''})`;
    });
    return `| ${powerFaultName(f)} | ${cells.join(' | ')} |`;
  });
  return [head, `|---|${POWER_RATES.map(() => '---').join('|')}|`, ...rows];
}

function gridChart(title: string, stats: Map<string, CellStats>, faults: readonly PowerFault[], note: string): string {
  return lineChartSvg({
    title,
    xLabel: 'canary traffic (requests per second, log scale)',
    yLabel: 'median minutes from onset to FAIL',
    xTicks: POWER_RATES.map((r) => String(r)),
    yMax: POWER_AFTER_ONSET_MS / 60_000,
    yStep: 2,
    guide: { y: 5, label: '5 min' },
    note,
    series: faults.map((f) => ({ name: powerFaultName(f), values: POWER_RATES.map((rate) => (stats.get(`${powerFaultName(f)}@${rate}`)?.medianMs ?? Number.NaN) / 60_000) })),
  });
}

function judgesChart(run: QualityRun, fault: PowerFault, note: string): string {
  return lineChartSvg({
    title: `Time to FAIL, ${powerFaultName(fault)}, by judge`,
    xLabel: 'canary traffic (requests per second, log scale)',
    yLabel: 'median minutes from onset to FAIL',
    xTicks: POWER_RATES.map((r) => String(r)),
    yMax: POWER_AFTER_ONSET_MS / 60_000,
    yStep: 2,
    guide: { y: 5, label: '5 min' },
    note,
    series: JUDGES.map((j) => {
      const stats = gridStats(run, j);
      return { name: j, values: POWER_RATES.map((rate) => (stats.get(`${powerFaultName(fault)}@${rate}`)?.medianMs ?? Number.NaN) / 60_000) };
    }),
  });
}

/**
 * Vigil's and a peer's time to page on the core catalog cases with one regression that
 * both paged in time, sorted: a comparison of speed on the same regressions, which the
 * medians over whatever each judge caught are not.
 */
export function pairedDelays(run: QualityRun, peer: JudgeName): { vigil: number[]; peer: number[] } {
  const vigil: number[] = [];
  const other: number[] = [];
  for (const r of run.runs) {
    if (r.run.group !== 'core') continue;
    const a = r.scores.vigil;
    const b = r.scores[peer];
    if (a.regressions !== 1 || a.delays_s.length !== 1 || b.delays_s.length !== 1) continue;
    vigil.push(a.delays_s[0] as number);
    other.push(b.delays_s[0] as number);
  }
  return { vigil: vigil.sort((x, y) => x - y), peer: other.sort((x, y) => x - y) };
}

/** The report of a quality run: Markdown sections, the charts by file name, and the targets. */
export interface QualityReport {
  readonly markdown: string;
  readonly charts: Readonly<Record<string, string>>;
  readonly targets: readonly { readonly target: string; readonly met: boolean; readonly measured: string }[];
}

/** Renders a quality run; `command` is what produced it, shown under each figure. */
export function qualityReport(run: QualityRun, command: string): QualityReport {
  const o = run.options;
  const md: string[] = [];
  const vigilGrid = gridStats(run, 'vigil');
  const gridNote = `${o.gridSeeds} seeds per point; no point: half or more not caught in ${AFTER_MIN} min`;
  const charts: Record<string, string> = {
    'power-errors.svg': gridChart('Vigil: time to FAIL, error-ratio regressions', vigilGrid, POWER_FAULTS.filter((f) => f.kind === 'errors'), gridNote),
    'power-latency.svg': gridChart('Vigil: time to FAIL, latency regressions', vigilGrid, POWER_FAULTS.filter((f) => f.kind !== 'errors'), gridNote),
    'judges-errors-x2.svg': judgesChart(run, { kind: 'errors', multiplier: 2 }, gridNote),
    'judges-latency-25.svg': judgesChart(run, { kind: 'latency', multiplier: 1.25 }, gridNote),
  };

  // Targets.
  const x2at8 = vigilGrid.get(`${powerFaultName({ kind: 'errors', multiplier: 2 })}@8`);
  const clean = totalsOf(casesOf(run, 'vigil', inGroups('clean')));
  const parallel = totalsOf(casesOf(run, 'vigil', (r) => r.run.spec.source === 'catalog' && r.run.spec.name.startsWith('parallel-canaries') || (r.run.spec.source === 'sample' && r.run.spec.name.startsWith('parallel'))));
  const parallelPages = parallel.detected + parallel.duplicates;
  const targets: { target: string; met: boolean; measured: string }[] = [
    {
      target: 'x2 error ratio at 8 req/s caught within 5 minutes',
      met: x2at8 !== undefined && x2at8.medianMs <= 5 * 60_000,
      measured: x2at8 === undefined ? 'not run' : `median ${minutes(x2at8.medianMs)}; ${x2at8.caughtWithin5Min} of ${x2at8.runs} within 5 min, ${x2at8.caught} within ${AFTER_MIN}`,
    },
    {
      target: 'zero false FAILs across 200 clean releases',
      met: clean.falseFails === 0 && clean.cleanReleases >= 200,
      measured: `${clean.falseFails} false FAILs in ${clean.cleanReleases} clean grid releases`,
    },
    {
      target: 'exactly one page per incident across parallel canaries',
      met: parallel.duplicates === 0 && parallel.detected === parallel.regressions && parallel.falsePages === 0,
      measured: `${parallelPages} pages for ${parallel.detected} of ${parallel.regressions} incidents (${parallel.cases} parallel-canary cases), ${parallel.falsePages} false pages`,
    },
  ];
  // Vigil against the reference judges, over every case (catalog, grid, clean, samples).
  const all = Object.fromEntries(JUDGES.map((j) => [j, totalsOf(casesOf(run, j, () => true))])) as Record<JudgeName, Totals>;
  const core = Object.fromEntries(JUDGES.map((j) => [j, totalsOf(casesOf(run, j, inGroups('core')))])) as Record<JudgeName, Totals>;
  const peers = JUDGES.filter((j) => j !== 'vigil');
  targets.push(
    {
      target: 'Vigil: fewer false pages than both reference judges (all cases)',
      met: peers.every((p) => all.vigil.falsePages < all[p].falsePages),
      measured: JUDGES.map((j) => `${j} ${all[j].falsePages}`).join(', '),
    },
    {
      target: 'Vigil: fewer pages per incident than both (all cases)',
      met: peers.every((p) => pagesPerIncident(all.vigil) < pagesPerIncident(all[p])),
      measured: JUDGES.map((j) => `${j} ${fixed(pagesPerIncident(all[j]), 2)}`).join(', '),
    },
    {
      target: 'Vigil: detection speed matching both (median time to page on the core catalog cases both paged in time)',
      met: peers.every((p) => {
        const pair = pairedDelays(run, p);
        return pair.vigil.length > 0 && nearestRank(pair.vigil, 0.5) <= nearestRank(pair.peer, 0.5);
      }),
      measured:
        peers
          .map((p) => {
            const pair = pairedDelays(run, p);
            return `vs ${p} on ${pair.vigil.length} cases: vigil ${seconds(pair.vigil, 0.5)}, ${p} ${seconds(pair.peer, 0.5)}`;
          })
          .join('; ') + `; over all it paged in time: ${JUDGES.map((j) => `${j} ${seconds(core[j].delaysS, 0.5)} (${core[j].detected}/${core[j].regressions})`).join(', ')}`,
    },
  );

  md.push(`Command: \`${command}\`. Machine: ${run.machine}. Load average ${run.loadBefore.map((l) => l.toFixed(1)).join(' / ')} at the start, ${run.loadAfter.map((l) => l.toFixed(1)).join(' / ')} at the end (other work shared the machine).`);
  md.push('');
  md.push(
    `${run.runs.length} cases (${run.events.toLocaleString('en-US')} events) in ${run.seconds.toFixed(0)} s on ${o.concurrency} worker threads; each case's events are decoded once and judged by each judge in turn, all decisions scored by \`score()\` of \`../shared/eval/score.py\`.` +
      (run.failed.length > 0 ? ` **${run.failed.length} cases failed to run**: ${run.failed.map((f) => f.id).join(', ')}.` : ''),
  );
  md.push('');
  md.push('### Targets');
  md.push('');
  md.push('| target | met | measured |', '|---|---|---|');
  for (const t of targets) md.push(`| ${t.target} | ${t.met ? 'yes' : '**no**'} | ${t.measured} |`);
  md.push('');
  md.push(`### The catalog (${CATALOG.filter((e) => e.group === 'core').length} core kinds x ${o.coreSeeds} seeds)`);
  md.push('');
  md.push('Every fault shape and traffic level the simulator has (see `npm run scenarios -- --list`). "Cases right": the scorer passes the case (every regression paged once in time, no false page, every verdict allowed). A page is false when it names a release that must not be blamed, or blames no release beyond what the labels allow (one per fleet-wide incident). "Late": paged after the 5-minute deadline.');
  md.push('');
  md.push(...totalsTable(run, inGroups('core')));
  md.push('');
  md.push(`Catalog power-curve kinds (${CATALOG.filter((e) => e.group === 'power').length} kinds x ${o.catalogPowerSeeds} seeds: small effects, thin traffic, slow ramps; not expected to all be caught):`);
  md.push('');
  md.push(...totalsTable(run, inGroups('power')));
  md.push('');
  md.push('Cases right per catalog kind (vigil / threshold / canary-test):');
  md.push('');
  md.push('| kind | vigil | threshold | canary-test |', '|---|---|---|---|');
  for (const entry of CATALOG) {
    const mine = run.runs.filter((r) => r.run.spec.source === 'catalog' && r.run.spec.name === entry.name);
    if (mine.length === 0) continue;
    md.push(`| ${entry.name}${entry.group === 'power' ? ' (power)' : ''} | ${JUDGES.map((j) => `${mine.filter((r) => r.scores[j].pass).length}/${mine.length}`).join(' | ')} |`);
  }
  md.push('');
  md.push(`### Power curves (${POWER_FAULTS.length} regressions x ${POWER_RATES.length} traffic levels x ${o.gridSeeds} seeds)`);
  md.push('');
  md.push(
    `checkout (the samples' service: ~0.5% 5xx, log-normal latencies) with a stable fleet of 4 instances at 5 req/s each (8 each beside the 32 req/s canary, which then carries half the traffic) and one canary from minute 2; the regression starts at minute ${POWER_ONSET_MS / 60_000} and lasts to the end at minute ${POWER_DURATION_MS / 60_000}. Cell: median time from onset to the first FAIL, misses counted as never (so "not caught" when half or more were missed), then (caught/runs), and how many were FAILed before the onset.`,
  );
  md.push('');
  for (const j of JUDGES) {
    md.push(`${j}:`);
    md.push('');
    md.push(...gridTable(gridStats(run, j)));
    md.push('');
  }
  md.push('![Vigil, error-ratio regressions](power-errors.svg)');
  md.push('![Vigil, latency regressions](power-latency.svg)');
  md.push('');
  md.push('![x2 errors by judge](judges-errors-x2.svg)');
  md.push('![+25% latency by judge](judges-latency-25.svg)');
  md.push('');
  md.push(`Figures: \`${command}\` on ${run.machine}.`);
  md.push('');
  md.push(`### Clean releases (${POWER_RATES.length} traffic levels x ${o.cleanSeeds} seeds, the grid's setup with nothing wrong)`);
  md.push('');
  md.push(...totalsTable(run, inGroups('clean')));
  md.push('');
  md.push('| judge | ' + POWER_RATES.map((r) => `false FAILs at ${r} req/s`).join(' | ') + ' |', `|---|${POWER_RATES.map(() => '---').join('|')}|`);
  for (const j of JUDGES) {
    const cells = POWER_RATES.map((rate) => {
      const t = totalsOf(casesOf(run, j, (r) => r.run.group === 'clean' && r.run.spec.source === 'power' && r.run.spec.rateRps === rate));
      return `${t.falseFails}/${t.cleanReleases}`;
    });
    md.push(`| ${j} | ${cells.join(' | ')} |`);
  }
  md.push('');
  md.push('### The shared samples');
  md.push('');
  md.push('| sample | ' + JUDGES.join(' | ') + ' | `vigil replay` output identical | score.py on it |', `|---|${JUDGES.map(() => '---').join('|')}|---|---|`);
  for (const r of run.runs.filter((x) => x.run.group === 'sample')) {
    const check = run.samples.find((s) => `sample-${s.name}` === r.run.id);
    const cell = (s: ScoreResult): string => `${s.pass ? 'pass' : 'FAIL'}: ${s.detected}/${s.regressions} paged${s.delays_s.length > 0 ? ` (${s.delays_s.map((d) => `${Math.round(d)} s`).join(', ')})` : ''}, ${s.false_pages} false, ${s.duplicates} dup, verdicts ${s.verdicts_ok}/${s.verdicts}`;
    md.push(`| ${r.run.id.replace(/^sample-/, '')} | ${JUDGES.map((j) => cell(r.scores[j])).join(' | ')} | ${check === undefined ? '-' : check.identical ? 'yes' : '**no**'} | ${check === undefined ? '-' : cell(check.cliScore)} |`);
  }
  md.push('');
  md.push('All cases together:');
  md.push('');
  md.push(...totalsTable(run, () => true));
  md.push('');
  return { markdown: md.join('\n'), charts, targets };
}
