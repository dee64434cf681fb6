/**
 * `vigil run` instances as child processes on a Kafka config of their own (topics and a
 * consumer group no other test uses), the scenario they are fed, and readers of the output
 * topics: what the fault tests start, kill and check.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { Decision } from '../../rules/decisions.js';
import { createEngine } from '../../rules/engine.js';
import { readDecisions as readTopic } from '../../simulate/kafka.js';
import { DEFAULT_RULES } from '../../rules/config.js';
import { decodeLine } from '../../ingest/decode.js';

/** The repository's root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI the instances run (npm test builds it first). */
export const CLI = join(REPO, 'dist', 'app', 'cli.js');

/** Topics and group of one test. */
export interface Deployment {
  readonly brokers: readonly string[];
  readonly groupId: string;
  readonly topics: { readonly events: string; readonly verdicts: string; readonly incidents: string; readonly dlq: string };
  readonly configPath: string;
}

/** A fresh deployment: its own topics, group and config file. */
export async function deployment(brokers: readonly string[], partitions: number, extraYaml: readonly string[] = []): Promise<Deployment> {
  const id = randomUUID().slice(0, 8);
  const topics = { events: `f-${id}.events`, verdicts: `f-${id}.verdicts`, incidents: `f-${id}.incidents`, dlq: `f-${id}.dlq` };
  const dir = await mkdtemp(join(tmpdir(), 'vigil-faults-'));
  const configPath = join(dir, 'vigil.yaml');
  await writeFile(configPath, [
    'server:',
    // The quiet-stream clock would move event time on after the stream ends; the checks compare with the stream as it is.
    '  quietAfterMs: 3600000',
    'kafka:',
    `  clientId: vigil-${id}`,
    `  groupId: vigil-faults-${id}`,
    `  partitions: ${partitions}`,
    '  sessionTimeoutMs: 6000',
    '  topics:',
    `    events: ${topics.events}`,
    `    verdicts: ${topics.verdicts}`,
    `    incidents: ${topics.incidents}`,
    `    dlq: ${topics.dlq}`,
    ...extraYaml,
  ].join('\n'));
  return { brokers, groupId: `vigil-faults-${id}`, topics, configPath };
}

/** A running instance: the child, and where its API listens. */
export interface Instance {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves once the process has ended. */
  readonly exited: Promise<void>;
  /** What it printed on stdout so far (the console channel's notifications among it). */
  stdout(): string;
}

/** Starts `vigil run` on the deployment's config; resolves once it listens. */
export async function startInstance(d: Deployment, env: Readonly<Record<string, string>> = {}): Promise<Instance> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', d.configPath], {
    env: { ...process.env, VIGIL_PORT: '0', KAFKA_BROKERS: d.brokers.join(','), REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => { if (err.length < 20_000) err += t; });
  if (process.env['VIGIL_TEST_TRACE']) child.stderr?.pipe(createWriteStream(`/tmp/vigil-instance-${child.pid}.log`));
  let gone = false;
  void exited.then(() => { gone = true; });
  await until('the instance listening', () => {
    if (gone && !/listening on http/.test(out)) throw new Error(`the instance stopped before it listened:\n${err.slice(-2_000)}`);
    return /listening on http/.test(out);
  }, 60_000);
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? '';
  return { child, url, exited, stdout: () => out };
}

/** Polls until `probe` holds, or fails saying what it waited for. */
export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The Kafka client of the test itself. */
export function testKafka(brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: 'vigil-faults-test', brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
}

/** Sends lines to the events topic keyed by service, in chunks. */
export async function produce(producer: Producer, topic: string, lines: readonly string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 2_000) {
    await producer.send({ topic, acks: -1, messages: lines.slice(i, i + 2_000).map((value) => ({ key: serviceOf(value), value })) });
  }
}

function serviceOf(line: string): string {
  return (JSON.parse(line) as { service?: string }).service ?? 'none';
}

/** One sample of a metric from an instance's /metrics (undefined when absent). */
export async function metric(url: string, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Every decision on a topic, read from its start until `quietMs` pass with nothing new. */
export function readDecisions(kafka: Kafka, topic: string, quietMs = 4_000): Promise<Decision[]> {
  return readTopic(kafka, topic, quietMs, 3_000);
}

/** The stream's decisions, judged by one engine in this process as an undisturbed live run makes them (no end of stream). */
export function undisturbed(lines: readonly string[]): Decision[] {
  const out: Decision[] = [];
  const engine = createEngine(DEFAULT_RULES, (d) => out.push(d));
  for (const line of lines) {
    const r = decodeLine(line);
    if (r.ok) engine.push(r.event);
  }
  return out;
}

/** Service and versions of every page, sorted. */
export function pageNames(decisions: readonly Decision[]): string[] {
  return decisions.flatMap((d) => (d.type === 'page' ? [`${d.service} ${d.versions.join(',')}`] : [])).sort();
}

/** Pages per incident id. */
export function pagesPerIncident(decisions: readonly Decision[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of decisions) if (d.type === 'page') out.set(d.incident, (out.get(d.incident) ?? 0) + 1);
  return out;
}

/** The last verdict of every version. */
export function finalVerdicts(decisions: readonly Decision[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of decisions) if (d.type === 'verdict') out[`${d.service}/${d.version}`] = d.verdict;
  return out;
}

