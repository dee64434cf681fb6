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
import { DEFAULT_RULES } from '../rules/config.js';
import { InputError } from '../ingest/lines.js';
import { OutputError, formatSummary, replay } from './replay.js';
import type { VigilConfig } from './config-file.js';
import type { RenderedScenario } from '../simulate/catalog.js';

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
  readonly post?: string;
  readonly kafka?: string;
  readonly topic: string;
  readonly speed?: string;
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
  if (flags.post !== undefined && flags.kafka !== undefined) {
    process.stderr.write('vigil simulate: --post and --kafka go to different places: give one of them\n');
    return EXIT_USAGE;
  }
  const live = flags.post !== undefined || flags.kafka !== undefined;
  const speed = flags.speed === undefined ? (live ? 1 : Infinity) : flags.speed === 'max' ? Infinity : Number(flags.speed);
  if (!(speed > 0)) {
    process.stderr.write(`vigil simulate: --speed must be a number > 0 (1 = real time, 60 = a minute per second) or max, got "${flags.speed ?? ''}"\n`);
    return EXIT_USAGE;
  }
  const rendered = renderScenario(entry, seed);
  if (flags.post !== undefined) return streamScenario(rendered, { kind: 'http', url: flags.post }, speed, flags.labels);
  if (flags.kafka !== undefined) {
    const brokers = flags.kafka.split(',').map((b) => b.trim()).filter((b) => b !== '');
    if (brokers.length === 0 || flags.topic === '') {
      process.stderr.write(`vigil simulate: --kafka takes host:port[,host:port...] and --topic a topic name, got "${flags.kafka}" and "${flags.topic}"\n`);
      return EXIT_USAGE;
    }
    return streamScenario(rendered, { kind: 'kafka', brokers, topic: flags.topic }, speed, flags.labels);
  }
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

/** Where a live stream goes: a running service's HTTP ingest, or the events topic. */
type StreamTarget = { readonly kind: 'http'; readonly url: string } | { readonly kind: 'kafka'; readonly brokers: readonly string[]; readonly topic: string };

/** Streams a rendered scenario to a running service or to Kafka, its event times moved to start now. */
async function streamScenario(rendered: RenderedScenario, target: StreamTarget, speed: number, labelsPath: string | undefined): Promise<number> {
  const { httpSender, streamEvents } = await import('../simulate/stream.js');
  if (labelsPath !== undefined) {
    const labels = openForWriting(labelsPath);
    labels.write(`${JSON.stringify(rendered.labels, null, 1)}\n`);
    await closeFile(labels, labelsPath);
  }
  const where = target.kind === 'http' ? target.url : `Kafka ${target.brokers.join(',')} topic ${target.topic}`;
  const controller = new AbortController();
  let send: (ndjson: string, count: number) => Promise<void>;
  let finish = (): Promise<void> => Promise.resolve();
  let invalid = (): { readonly lines: number; readonly firstReason: string | undefined } => ({ lines: 0, firstReason: undefined });
  if (target.kind === 'http') {
    send = httpSender(target.url, { signal: controller.signal });
  } else {
    const { kafkaSender } = await import('../simulate/kafka.js');
    try {
      const sender = await kafkaSender(target.brokers, target.topic);
      ({ send, invalid } = sender);
      finish = sender.close;
    } catch (err) {
      throw new OutputError(where, err);
    }
  }
  const last = rendered.events[rendered.events.length - 1];
  const spanS = last === undefined ? 0 : last.emitMs / 1000;
  process.stderr.write(
    `vigil simulate: ${rendered.id}, ${rendered.events.length} events over ${Math.round(spanS / 60)} min of scenario time, ` +
      `${target.kind === 'http' ? 'posting to' : 'producing to'} ${where} ${speed === Infinity ? 'as fast as it takes them' : `at ${speed}x (about ${Math.ceil(spanS / speed)} s)`}\n  ${rendered.entry.summary}\n`,
  );
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  try {
    const summary = await streamEvents(rendered.events, { speed, startMs: Date.now(), signal: controller.signal, send });
    const bad = invalid();
    process.stderr.write(
      `vigil simulate: ${summary.aborted ? 'stopped after' : 'sent'} ${summary.events} events in ${summary.batches} batches, ${(summary.wallMs / 1000).toFixed(1)} s` +
        `${bad.lines > 0 ? `; ${bad.lines} lines are not valid events (bound for the dead-letter topic: ${bad.firstReason ?? ''})` : ''}\n`,
    );
  } catch (err) {
    throw new OutputError(where, err);
  } finally {
    process.off('SIGINT', stop);
    await finish();
  }
  return EXIT_OK;
}

/** Options of `vigil demo`. */
interface DemoFlags {
  readonly speed: string;
  readonly seed: string;
  readonly exit?: boolean;
}

/** The service and a simulated release with one bad canary, in one terminal. */
async function demoCommand(flags: DemoFlags): Promise<number> {
  const speed = Number(flags.speed);
  const seed = Number(flags.seed);
  if (!(speed > 0) || !Number.isInteger(seed) || seed < 0) {
    process.stderr.write(`vigil demo: --speed must be > 0 and --seed a whole number >= 0, got "${flags.speed}", "${flags.seed}"\n`);
    return EXIT_USAGE;
  }
  const [{ DEFAULT_CONFIG, withEnvironment }, { runDemo }, { default: pino }] = await Promise.all([
    import('./config-file.js'), import('./demo.js'), import('pino'),
  ]);
  const env = { VIGIL_PORT: '0', ...process.env };
  const config = withEnvironment(DEFAULT_CONFIG, env);
  // Only problems are logged: the terminal is the demo's.
  const logger = pino({ level: 'warn', base: { app: 'vigil' } }, pino.destination({ fd: 2, sync: false }));
  const controller = new AbortController();
  const interrupt = (): void => controller.abort();
  process.once('SIGINT', interrupt);
  const result = await runDemo({ config, logger, out: process.stdout, color: process.stdout.isTTY === true, speed, seed, signal: controller.signal });
  process.off('SIGINT', interrupt);
  if (flags.exit !== true && !result.aborted) {
    process.stdout.write(`The service stays up at ${result.service.url} for you to look around; Ctrl-C stops it.\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
  await result.service.close();
  return EXIT_OK;
}

/** Options of `vigil run`. */
interface RunFlags {
  readonly config?: string;
}

/** The long-running service, embedded; runs until SIGINT or SIGTERM. */
async function runCommand(flags: RunFlags): Promise<number> {
  const [{ DEFAULT_CONFIG, apiToken, withEnvironment }, { startService }, { buildChannels }, { default: pino }] = await Promise.all([
    import('./config-file.js'), import('./service.js'), import('./channels.js'), import('pino'),
  ]);
  const config = withEnvironment(flags.config === undefined ? DEFAULT_CONFIG : await loadConfig(flags.config), process.env);
  const channels = buildChannels(config, process.env, { out: process.stdout, color: process.stdout.isTTY === true });
  const token = apiToken(config, process.env);
  // Logs are JSON on stderr, for machines; stdout is for people: where to look, and the notifications.
  const logger = pino({ level: config.log.level, base: { app: 'vigil' } }, pino.destination({ fd: 2, sync: false }));
  let service: Awaited<ReturnType<typeof startService>>;
  let shared: Awaited<ReturnType<typeof redisState>> | undefined;
  try {
    const kafka = config.kafka.brokers.length === 0 ? undefined : {
      brokers: config.kafka.brokers, clientId: config.kafka.clientId, groupId: config.kafka.groupId, topics: config.kafka.topics, partitions: config.kafka.partitions,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    };
    // Instances that share partitions share what was told to whom, so that none tells it twice.
    const redisUrl = process.env['REDIS_URL'];
    shared = redisUrl === undefined || redisUrl === '' ? undefined : await redisState(redisUrl, `vigil:${config.kafka.groupId}:`);
    service = await startService({
      config, logger, channels, retry: config.notify.retry, apiToken: token, kafka, notificationLog: shared?.log, checkpoints: shared?.checkpoints,
      silences: shared?.silences, env: process.env, dependencies: shared?.dependencies,
    });
  } catch (err) {
    await shared?.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ListenError(`cannot listen on ${config.server.host}:${config.server.port} (${code}); set VIGIL_PORT / VIGIL_HOST or server.port / server.host`, err);
    }
    throw err;
  }
  const url = service.url;
  process.stdout.write(
    `vigil: listening on ${url} (${service.mode === 'kafka' ? `Kafka ${config.kafka.brokers.join(',')}, group ${config.kafka.groupId}` : 'embedded: in-memory bus and state'}; channels: ${[...channels.keys()].join(', ')})\n` +
      `  send events   curl -X POST ${url}/v1/events -H 'content-type: application/x-ndjson' --data-binary @events.ndjson\n` +
      `  or simulate   npx vigil simulate parallel-canaries-one-bad --post ${url} --speed 30\n` +
      `  verdicts      ${url}/v1/verdicts    incidents  ${url}/v1/incidents\n` +
      '  stop          Ctrl-C\n\n',
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info({ signal }, 'stopping');
      service.close().then(resolve, (err: unknown) => {
        logger.error({ err }, 'stopping failed');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await shared?.close();
  process.stdout.write(`vigil: stopped after ${service.accepted()} events${service.mode === 'embedded' ? '; embedded state is not kept across restarts' : ''}\n`);
  logger.flush();
  return EXIT_OK;
}

/**
 * The notification log in the Redis at `url` (connected now, so that a wrong URL stops the
 * start), under a prefix of the consumer group: the instances of one deployment share it,
 * and two deployments on one Redis do not silence each other.
 */
async function redisState(url: string, prefix: string): Promise<{
  log: import('../notifiers/delivery.js').NotificationLog; checkpoints: import('../ingest/kafka.js').CheckpointStore;
  silences: import('../rules/silences.js').SilenceStore; close: () => Promise<void>;
  dependencies: () => ReadonlyMap<string, boolean>;
}> {
  const [{ Redis }, { RedisNotificationLog }, { RedisCheckpointStore }, { RedisSilenceStore }] = await Promise.all([
    import('ioredis'), import('../state/redis.js'), import('../state/checkpoints.js'), import('../state/silences.js'),
  ]);
  // No offline queue: while Redis is away a command fails at once, and what needs it is held
  // and tried again by its owner (the source's decisions, the delivery stage), instead of
  // each command stalling the stream for a round of reconnects.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: false });
  try {
    await redis.connect();
  } catch (err) {
    throw new ListenError(`cannot reach Redis at REDIS_URL (${(err as Error).message})`, err);
  }
  return {
    log: new RedisNotificationLog(redis, prefix), checkpoints: new RedisCheckpointStore(redis, prefix), silences: new RedisSilenceStore(redis, prefix),
    // ioredis reconnects by itself; until it is ready again, what needs Redis is held.
    dependencies: () => new Map([['redis', redis.status === 'ready']]),
    close: async () => { await redis.quit(); },
  };
}

/** The service could not take its address. */
class ListenError extends Error {
  /** Another process holds the port until it stops; trying again at once does not help. */
  readonly retriable = false;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ListenError';
  }
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
async function loadConfig(path: string): Promise<VigilConfig> {
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
  if (err instanceof InputError || err instanceof OutputError || err instanceof ListenError) {
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
    .option('--post <url>', 'post the events to a running service (its /v1/events), their times moved to start now')
    .option('--kafka <brokers>', 'produce the events to Kafka instead (host:port,...), keyed by service, their times moved to start now')
    .option('--topic <name>', 'with --kafka: the events topic', 'vigil.events')
    .option('--speed <x>', 'with --post or --kafka: scenario time per wall time (1 = real time, 30 = 30 s per second, max)')
    .action((scenario: string | undefined, flags: SimulateFlags) => run(() => simulateCommand(scenario, flags))());

  program
    .command('run')
    .description('run the service: HTTP ingest on 127.0.0.1:7070 (VIGIL_PORT), in-process bus and state, console notifications')
    .option('--config <file>', 'YAML settings (default: built-in defaults); VIGIL_HOST, VIGIL_PORT, VIGIL_LOG_LEVEL override it')
    .action((flags: RunFlags) => run(() => runCommand(flags))());

  program
    .command('demo')
    .description('start the service and stream a simulated release (three canaries, one bad) through it, in about a minute')
    .option('--speed <x>', 'scenario time per wall time', '30')
    .option('--seed <n>', 'random seed of the simulated traffic', '1')
    .option('--exit', 'stop the service when the demo is over instead of keeping it up')
    .action((flags: DemoFlags) => run(() => demoCommand(flags))());

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
