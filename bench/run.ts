/**
 * `npm run bench`: every benchmark that needs no outside service, one after the other,
 * and bench/RESULTS.md with their tables and the SVG charts written beside it.
 *
 *   node dist/bench/run.js [--core-seeds N] [--catalog-power-seeds N] [--grid-seeds N]
 *                          [--clean-seeds N] [--skip quality,nab,replay,memory] [--out DIR]
 *
 * In order: the quality suite (catalog, power grid, clean releases, shared samples; Vigil
 * and the two reference judges; bench/quality/), the Numenta Anomaly Benchmark (runNab()
 * of bench/nab/), then the replay and memory benches in child processes of their own (so
 * that their memory and garbage collector are theirs alone), their output kept verbatim;
 * the memory bench with 50,000 series rather than its default 100,000, to fit the time.
 * The HTTP and Kafka benches need a load generator or a broker and are run on their own.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describeMachine, machineInfo } from './harness.js';
import { nabSvg, nabTable, runNab, PROFILES, type NabSummary } from './nab/index.js';
import { DEFAULT_QUALITY_OPTIONS, qualityReport, runQuality, type QualityOptions } from './quality/index.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PARTS = ['quality', 'nab', 'replay', 'memory'] as const;
type Part = (typeof PARTS)[number];
const USAGE = 'usage: node dist/bench/run.js [--core-seeds N] [--catalog-power-seeds N] [--grid-seeds N] [--clean-seeds N] [--skip quality,nab,replay,memory] [--out DIR]';

interface RunArgs {
  readonly quality: QualityOptions;
  readonly skip: ReadonlySet<Part>;
  readonly outDir: string;
  readonly argv: readonly string[];
}

function parseArgs(argv: readonly string[]): RunArgs {
  const seeds: Record<string, number> = {};
  const skip = new Set<Part>();
  let outDir = join(REPO_ROOT, 'bench');
  const flags: Record<string, keyof QualityOptions> = { '--core-seeds': 'coreSeeds', '--catalog-power-seeds': 'catalogPowerSeeds', '--grid-seeds': 'gridSeeds', '--clean-seeds': 'cleanSeeds' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    const flag = flags[arg];
    if (flag !== undefined) {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${arg} needs a whole number of seeds\n${USAGE}`);
      seeds[flag] = n;
    } else if (arg === '--skip') {
      for (const p of value().split(',')) {
        if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--skip takes ${PARTS.join(', ')}, not ${JSON.stringify(p)}\n${USAGE}`);
        skip.add(p as Part);
      }
    } else if (arg === '--out') outDir = resolve(value());
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return { quality: { ...DEFAULT_QUALITY_OPTIONS, ...seeds }, skip, outDir, argv };
}

function runChild(args: readonly string[]): Promise<{ output: string; seconds: number; ok: boolean }> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 }, (error, stdout, stderr) => {
      const output = String(stdout).trim() + (error === null ? '' : `\n${String(stderr).trim()}\n(${error.message.split('\n')[0] ?? ''})`);
      done({ output, seconds: (performance.now() - started) / 1000, ok: error === null });
    });
  });
}

function nabSection(s: NabSummary): string {
  const lines = [
    `Command: \`npm run bench\` (\`runNab()\` of bench/nab/, the same run as \`npm run bench:nab\`). Machine: ${s.machine}.`,
    '',
    `${s.files} files, ${s.rows.toLocaleString('en-US')} rows, ${s.windows} labelled windows. Vigil's self-history detector (rules/history.ts) places **${s.place} of ${s.scoreboard.length}** on the standard profile. Detector ${s.detectSeconds.toFixed(1)} s, whole run ${s.totalSeconds.toFixed(1)} s.`,
    '',
    '| profile | score | threshold | windows detected | false-positive rows |',
    '|---|---|---|---|---|',
    ...PROFILES.map((p) => {
      const v = s.vigil[p];
      return `| ${p} | ${v.score.toFixed(1)} | ${v.threshold.toFixed(4)} | ${v.detectedWindows}/${v.scoredWindows} | ${v.falsePositives} |`;
    }),
    '',
    nabTable(s),
    '',
    '![NAB scoreboard](nab-scoreboard.svg)',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const command = ['npm run bench', ...(args.argv.length > 0 ? ['--', ...args.argv] : [])].join(' ');
  const machine = describeMachine(machineInfo());
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  mkdirSync(args.outDir, { recursive: true });
  const sections: string[] = [];
  const timings: string[] = [];
  const targets: string[] = [];

  if (!args.skip.has('quality')) {
    log('quality suite ...');
    const run = await runQuality(args.quality, log);
    const report = qualityReport(run, command);
    for (const [name, svg] of Object.entries(report.charts)) writeFileSync(join(args.outDir, name), svg);
    sections.push('## Quality of judgment (bench/quality)', '', report.markdown);
    for (const t of report.targets) targets.push(`| ${t.target} | ${t.met ? 'yes' : '**no**'} | ${t.measured} |`);
    timings.push(`quality suite ${run.seconds.toFixed(0)} s`);
    log(`quality suite done in ${run.seconds.toFixed(0)} s`);
  }
  if (!args.skip.has('nab')) {
    log('NAB ...');
    const summary = await runNab({ writeResults: false });
    writeFileSync(join(args.outDir, 'nab-scoreboard.svg'), `${nabSvg(summary)}\n`);
    sections.push('## Numenta Anomaly Benchmark (bench/nab)', '', nabSection(summary));
    const htm = summary.scoreboard.find((e) => e.detector === 'numenta');
    const vigil = summary.vigil.standard.score;
    targets.push(`| NAB standard score above Numenta HTM${htm === undefined ? '' : ` (${htm.scores.standard.toFixed(1)})`} | ${htm !== undefined && vigil > htm.scores.standard ? 'yes' : '**no**'} | ${vigil.toFixed(1)}, place ${summary.place} of ${summary.scoreboard.length} |`);
    timings.push(`NAB ${summary.totalSeconds.toFixed(0)} s`);
  }
  const benches: readonly [Part, string, readonly string[]][] = [
    ['replay', 'Replay throughput (bench/replay.ts)', ['--expose-gc', join(REPO_ROOT, 'dist', 'bench', 'replay.js')]],
    // Half the 100,000 series of `npm run bench:memory`, so that the whole run stays within ten minutes here.
    ['memory', 'Memory per active series (bench/memory.ts, 50,000 series)', [join(REPO_ROOT, 'dist', 'bench', 'memory.js'), '--series', '50000']],
  ];
  for (const [part, title, childArgs] of benches) {
    if (args.skip.has(part)) continue;
    log(`${part} bench ...`);
    const r = await runChild(childArgs);
    sections.push(`## ${title}`, '', `Command: \`node ${childArgs.map((a) => a.replace(`${REPO_ROOT}/`, '')).join(' ')}\` (run by \`${command}\`), ${r.seconds.toFixed(0)} s${r.ok ? '' : ', **it failed**'}. Its own output:`, '', '```', r.output, '```', '');
    timings.push(`${part} bench ${r.seconds.toFixed(0)} s`);
  }

  const totalSeconds = (performance.now() - started) / 1000;
  // This process and its worker threads; the children (scorer, benches) come on top.
  const cpu = process.cpuUsage();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const head = [
    '# Benchmark results',
    '',
    `Written by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${machine}. The whole run took ${totalSeconds.toFixed(0)} s (${timings.join(', ')}), ${cpuSeconds.toFixed(0)} s of CPU in its own process and worker threads, load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end. Figures from one run on a machine shared with other work; ratios within one run are what compare.`,
    ...(args.skip.size > 0 ? ['', `Skipped in this run: ${[...args.skip].join(', ')}.`] : []),
    '',
    '## Targets',
    '',
    '| target | met | measured |',
    '|---|---|---|',
    ...targets,
    '',
  ];
  writeFileSync(join(args.outDir, 'RESULTS.md'), `${[...head, ...sections].join('\n').trimEnd()}\n`);
  log(`wrote ${join(args.outDir, 'RESULTS.md')} in ${totalSeconds.toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
