#!/usr/bin/env node
/**
 * The `vigil` command line. Exit codes: 0 success, 1 input/output failure, 2 usage or
 * config error; every failure is one clear message on stderr, never a stack trace,
 * unless it is a bug.
 */
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { DEFAULT_RULES, type RulesConfig } from '../rules/config.js';
import { InputError } from '../ingest/lines.js';
import { OutputError, formatSummary, replay } from './replay.js';

/** Options of `vigil replay`, as commander hands them over. */
interface ReplayFlags {
  readonly config?: string;
  readonly out?: string;
  readonly deadLetter?: string;
  readonly quiet?: boolean;
}

const EXIT_OK = 0;
const EXIT_IO = 1;
const EXIT_USAGE = 2;

async function replayCommand(file: string, flags: ReplayFlags): Promise<number> {
  const config = flags.config === undefined ? DEFAULT_RULES : await loadConfig(flags.config);
  if (file !== '-') {
    // Checked before any output file is created, so that a typo does not truncate --out.
    await access(file, constants.R_OK).catch((err: unknown) => {
      throw new InputError(file, err);
    });
  } else if (process.stdin.isTTY === true && flags.quiet !== true) {
    process.stderr.write('vigil replay: reading events from stdin (end with Ctrl-D)\n');
  }
  const outFile = flags.out === undefined ? undefined : openForWriting(flags.out);
  const deadLetterFile = flags.deadLetter === undefined ? undefined : openForWriting(flags.deadLetter);
  // A closed stderr (rare, but possible in pipelines) must not crash the replay.
  process.stderr.on('error', () => {});
  const summary = await replay({
    input: file,
    config,
    out: outFile ?? process.stdout,
    outName: flags.out ?? 'stdout',
    deadLetter: deadLetterFile,
    deadLetterName: flags.deadLetter,
    stderr: process.stderr,
    progress: process.stderr.isTTY === true,
    quiet: flags.quiet === true,
    now: () => performance.now(),
  });
  await Promise.all([closeFile(outFile, flags.out), closeFile(deadLetterFile, flags.deadLetter)]);
  if (flags.quiet !== true) process.stderr.write(formatSummary(summary));
  return EXIT_OK;
}

/** Options of `vigil simulate`. */
interface SimulateFlags {
  readonly seed: string;
  readonly out?: string;
  readonly labels?: string;
  readonly list?: boolean;
}

/** Writes one catalog scenario as NDJSON events (and its labels when asked). */
async function simulateCommand(name: string | undefined, flags: SimulateFlags): Promise<number> {
  const { CATALOG, catalogEntry, renderScenario } = await import('../simulate/catalog.js');
  // A reader that stops early (| head) is not an error.
  process.stdout.on('error', () => {});
  if (flags.list === true || name === undefined) {
    for (const e of CATALOG) process.stdout.write(`${e.name.padEnd(32)} ${e.group.padEnd(5)} ${e.summary}\n`);
    return EXIT_OK;
  }
  const entry = catalogEntry(name);
  if (!entry) {
    process.stderr.write(`vigil simulate: no scenario "${name}" (see vigil simulate --list)\n`);
    return EXIT_USAGE;
  }
  const seed = Number(flags.seed);
  if (!Number.isInteger(seed) || seed < 0) {
    process.stderr.write(`vigil simulate: --seed must be a whole number >= 0, got "${flags.seed}"\n`);
    return EXIT_USAGE;
  }
  const rendered = renderScenario(entry, seed);
  const out = flags.out === undefined ? process.stdout : openForWriting(flags.out);
  out.write(rendered.ndjson);
  if (flags.out !== undefined) await closeFile(out, flags.out);
  if (flags.labels !== undefined) {
    const labels = openForWriting(flags.labels);
    labels.write(`${JSON.stringify(rendered.labels, null, 1)}\n`);
    await closeFile(labels, flags.labels);
  }
  process.stderr.write(`vigil simulate: ${rendered.id}, ${rendered.events.length} events: ${entry.summary}\n`);
  return EXIT_OK;
}

async function configCheckCommand(file: string): Promise<number> {
  await loadConfig(file);
  process.stdout.write('ok\n');
  return EXIT_OK;
}

/** Opens an output file now, so that a bad path fails before any input is read. */
function openForWriting(path: string): Writable {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new OutputError(path, err);
  }
  try {
    return createWriteStream(path, { fd, highWaterMark: 1 << 20 });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

async function closeFile(stream: Writable | undefined, path: string | undefined): Promise<void> {
  if (stream === undefined) return;
  stream.end();
  try {
    await finished(stream);
  } catch (err) {
    throw new OutputError(path ?? 'output file', err);
  }
}

/** The YAML parser costs a noticeable share of start-up time, so it loads only when a config file is named. */
async function loadConfig(path: string): Promise<RulesConfig> {
  const { loadConfigFile } = await import('./config-file.js');
  return loadConfigFile(path);
}

/** Maps a failure to its exit code and prints it; only unexpected errors (bugs) show a stack. */
async function report(err: unknown): Promise<number> {
  const { ConfigError } = await import('./config-file.js');
  if (err instanceof ConfigError) {
    process.stderr.write(`vigil: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof InputError || err instanceof OutputError) {
    process.stderr.write(`vigil: ${err.message}\n`);
    return EXIT_IO;
  }
  process.stderr.write(`vigil: unexpected failure (a bug; please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_IO;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function buildProgram(setExitCode: (code: number) => void): Command {
  const run = (work: () => Promise<number>) => async () => {
    try {
      setExitCode(await work());
    } catch (err) {
      setExitCode(await report(err));
    }
  };
  const program = new Command('vigil')
    .description('Release-aware alert correlation: judges canaries, folds alert floods into one incident, pages once.')
    .version(packageVersion())
    // Set before any subcommand exists, so that they inherit it: usage errors must exit 2, not 1.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('replay')
    .description('run the engine over a recorded event stream (NDJSON, gzip or not) and write decisions as NDJSON')
    .argument('[file]', 'events file, or - for stdin', '-')
    .option('--config <file>', 'YAML settings (default: built-in defaults)')
    .option('--out <file>', 'write decisions here instead of stdout')
    .option('--dead-letter <file>', 'write every rejected line here as a {"type":"rejected",...} record')
    .option('--quiet', 'no progress, summary or rejected lines on stderr')
    .action((file: string, flags: ReplayFlags) => run(() => replayCommand(file, flags))());

  program
    .command('simulate')
    .description('write a simulated, labeled scenario (traffic of stable, baseline and canary versions with a fault) as NDJSON events')
    .argument('[scenario]', 'catalog name, e.g. error-regression (see --list)')
    .option('--seed <n>', 'random seed: the same seed gives the same bytes', '1')
    .option('--out <file>', 'write events here instead of stdout')
    .option('--labels <file>', 'also write what a correct engine decides (the scorer\'s labels)')
    .option('--list', 'list the catalog')
    .action((scenario: string | undefined, flags: SimulateFlags) => run(() => simulateCommand(scenario, flags))());

  const config = program.command('config').description('work with config files');
  config
    .command('check')
    .description('validate a config file: prints ok, or every problem (exit 2)')
    .argument('<file>', 'YAML config file')
    .action((file: string) => run(() => configCheckCommand(file))());

  return program;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram((code) => {
    process.exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version arrive here too, with exit code 0.
      process.exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return;
    }
    process.exitCode = await report(err);
  }
}

await main(process.argv);
