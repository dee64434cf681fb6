/**
 * The Kafka broker restarted mid-stream: a broker of this test's own (other ports, its own
 * data directory, the project's jars), stopped while an instance consumes a scenario from
 * it and started again on the same data. Consumption must resume with no decision lost and
 * none doubled: the output topics hold exactly what the undisturbed stream decides.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../rules/decisions.js';
import { catalogEntry, renderScenario } from '../../simulate/catalog.js';
// @ts-expect-error: a plain ESM script without types; its result is checked where it is used.
import { kafkaRuntime } from '../../scripts/services.mjs';
import { type Instance, deployment, metric, produce, readDecisions, startInstance, testKafka, undisturbed, until } from './instances.js';

const CLUSTER_ID = 'VmlnaWxGYXVsdHNLYWZrYQ';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** A single-node KRaft broker on its own ports and data directory. */
class Broker {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(private readonly dir: string, readonly port: number, private readonly controllerPort: number, private readonly runtime: { java: string; classpath: string; log4j: string }) {}

  static async create(): Promise<Broker> {
    const runtime = (kafkaRuntime as () => { java: string; classpath: string; log4j: string })();
    const dir = await mkdtemp(join(tmpdir(), 'vigil-broker-'));
    const broker = new Broker(dir, await freePort(), await freePort(), runtime);
    writeFileSync(join(dir, 'server.properties'), [
      'process.roles=broker,controller', 'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${broker.controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${broker.port},CONTROLLER://127.0.0.1:${broker.controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${broker.port}`,
      'inter.broker.listener.name=PLAINTEXT', 'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`, 'num.partitions=1',
      'offsets.topic.replication.factor=1', 'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0', 'auto.create.topics.enable=true', '',
    ].join('\n'));
    const format = spawnSync(runtime.java, [`-Dlog4j.configuration=${runtime.log4j}`, '-cp', runtime.classpath, 'kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', join(dir, 'server.properties')], { encoding: 'utf8', timeout: 120_000 });
    if (format.status !== 0) throw new Error(`formatting the test broker's data failed: ${format.stderr}${format.stdout}`);
    return broker;
  }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'broker.log'), 'a');
    const child = spawn(this.runtime.java, ['-Xms256m', '-Xmx256m', `-Dlog4j.configuration=${this.runtime.log4j}`, '-cp', this.runtime.classpath, 'kafka.Kafka', join(this.dir, 'server.properties')], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    await until('the test broker listening', () => accepts(this.port), 90_000);
  }

  /** A clean stop (SIGTERM), waited for. */
  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  kill(): void {
    this.child?.kill('SIGKILL');
  }
}

let broker: Broker | undefined;
let instance: Instance | undefined;
afterAll(async () => {
  instance?.child.kill('SIGKILL');
  await instance?.exited;
  broker?.kill();
});

const outputs = (ds: readonly Decision[]): Decision[] => ds.filter((d) => d.type !== 'suppressed');

describe('the Kafka broker restarted mid-stream', () => {
  it('consumption resumes with no decision lost and none doubled', async () => {
    broker = await Broker.create();
    await broker.start();
    const brokers = [`127.0.0.1:${broker.port}`];
    const kafka = testKafka(brokers);
    const d = await deployment(brokers, 1);
    instance = await startInstance(d);
    const url = instance.url;
    const lines = renderScenario(catalogEntry('error-regression')!, 3).ndjson.split('\n').filter((l) => l !== '');
    const want = outputs(undisturbed(lines));
    expect(want.some((x) => x.type === 'page')).toBe(true);

    let producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const cut = Math.floor(lines.length * 0.4);
    await produce(producer, d.topics.events, lines.slice(0, cut));
    await until('the first part judged', async () => (await metric(url, 'vigil_events_accepted_total').catch(() => undefined)) === cut, 180_000);
    await producer.disconnect();

    await broker.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    const restartedAt = Date.now();
    await broker.start();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await produce(producer, d.topics.events, lines.slice(cut));
    await producer.disconnect();
    await until('the rest judged after the restart', async () => (await metric(url, 'vigil_events_accepted_total').catch(() => undefined)) === lines.length, 180_000);
    const resumedSeconds = (Date.now() - restartedAt) / 1000;

    const verdicts = await readDecisions(kafka, d.topics.verdicts);
    const incidents = await readDecisions(kafka, d.topics.incidents);
    expect(verdicts).toEqual(want.filter((x) => x.type === 'verdict'));
    expect(incidents).toEqual(want.filter((x) => x.type !== 'verdict'));
    process.stderr.write(`broker restart: down 10 s; the whole stream judged ${resumedSeconds.toFixed(1)} s after the broker started again\n`);
  }, 540_000);
});
