/**
 * The service scaled out on a real Apache Kafka broker (127.0.0.1:9092, or KAFKA_BROKERS),
 * started by the project's own script (scripts/services.mjs). Every test uses topics and a
 * consumer group of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pino from 'pino';
import type { Decision } from '../rules/decisions.js';
import { createEngine } from '../rules/engine.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { decodeLine } from '../ingest/decode.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import { DEFAULT_CONFIG, type VigilConfig, configSchema } from '../app/config-file.js';
import { type RunningService, startService } from '../app/service.js';
import type { KafkaPipelineSettings } from '../app/pipeline.js';
import type { NotificationLog } from '../notifiers/delivery.js';
import { RedisNotificationLog } from '../state/redis.js';
import { RedisCheckpointStore } from '../state/checkpoints.js';
import type { CheckpointStore } from '../ingest/kafka.js';
import { Redis } from 'ioredis';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'vigil-test', brokers, logLevel: logLevel.NOTHING });
let producer: Producer;

beforeAll(async () => {
  producer = kafka.producer();
  try {
    await producer.connect();
  } catch (err) {
    throw new Error(`no Kafka broker at ${brokers.join(',')}: start one with \`node scripts/services.mjs up\` (${(err as Error).message})`, { cause: err });
  }
}, 30_000);

afterAll(async () => {
  await producer?.disconnect();
});

function settings(partitions: number): KafkaPipelineSettings {
  const id = randomUUID().slice(0, 8);
  return {
    brokers, clientId: `vigil-${id}`, groupId: `vigil-test-${id}`, partitions,
    topics: { events: `t-${id}.events`, verdicts: `t-${id}.verdicts`, incidents: `t-${id}.incidents`, dlq: `t-${id}.dlq` },
  };
}

async function serviceOn(kafkaSettings: KafkaPipelineSettings, notificationLog?: NotificationLog, checkpoints?: CheckpointStore): Promise<RunningService> {
  const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0 } };
  return startService({ config, logger: pino({ level: 'silent' }), channels: new Map(), kafka: kafkaSettings, notificationLog, checkpoints });
}

/** Every record of a topic, in offset order per partition, read from the start. */
async function readAll(topic: string, expected: number, timeoutMs = 30_000): Promise<{ key: string; value: string; headers: Record<string, string> }[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
  const out: { key: string; value: string; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        out.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers });
        if (out.length >= expected) resolve();
      },
    });
  });
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  await consumer.disconnect();
  return out;
}

async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('vigil run on Kafka', () => {
  it('judges a recorded scenario from the events topic exactly as replay does, and puts the decisions on the output topics', async () => {
    const s = settings(1);
    const service = await serviceOn(s);
    try {
      const rendered = renderScenario(catalogEntry('parallel-canaries-one-bad')!, 1);
      const lines = rendered.ndjson.split('\n').filter((l) => l !== '');
      for (let i = 0; i < lines.length; i += 5_000) {
        const chunk = lines.slice(i, i + 5_000);
        await producer.send({ topic: s.topics.events, messages: chunk.map((value) => ({ key: 'search-api', value })) });
      }
      await until('every event consumed', () => service.stats().accepted === lines.length);

      // The same events through one engine in this process, up to the same point (no finish:
      // a live stream has not ended).
      const expected: Decision[] = [];
      const engine = createEngine(DEFAULT_RULES, (d) => expected.push(d));
      for (const line of lines) {
        const r = decodeLine(line);
        if (r.ok) engine.push(r.event);
      }
      const outputs = (ds: readonly Decision[]) => ds.filter((d) => d.type !== 'suppressed');
      const want = outputs(expected);
      expect(want.some((d) => d.type === 'page')).toBe(true);
      const verdicts = await readAll(s.topics.verdicts, want.filter((d) => d.type === 'verdict').length);
      const incidents = await readAll(s.topics.incidents, want.filter((d) => d.type !== 'verdict').length);
      expect(verdicts.map((m) => JSON.parse(m.value) as Decision)).toEqual(want.filter((d) => d.type === 'verdict'));
      expect(incidents.map((m) => JSON.parse(m.value) as Decision)).toEqual(want.filter((d) => d.type !== 'verdict'));
      for (const m of verdicts) {
        const v = JSON.parse(m.value) as { service: string; version: string };
        expect(m.key).toBe(`${v.service}/${v.version}`);
      }
      expect(service.decisions.verdict('search-api', 'v311-us')?.verdict).toBe('FAIL');
      // Caught up: the lag the metrics show for the one partition is nothing.
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/^vigil_kafka_consumer_lag\{partition="0"\} 0$/m);
    } finally {
      await service.close();
    }
  }, 120_000);

  it('sends poison messages to the dead-letter topic with their reason, and goes on', async () => {
    const s = settings(2);
    const service = await serviceOn(s);
    try {
      const good = (n: number): string => JSON.stringify({ type: 'request', ts: Date.now() + n, service: 'shop', status: 200, latency_ms: 12 });
      const poison = [
        { key: 'shop', value: 'not json at all' },
        { key: 'shop', value: JSON.stringify({ type: 'request', ts: 'yesterday', service: 'shop' }) },
        { key: 'shop', value: JSON.stringify({ type: 'request', ts: Date.now(), service: 42 }) },
        { key: 'shop', value: `{"type":"log","message":"${'x'.repeat(10 * 1024 * 1024)}"}` },
      ];
      await producer.send({ topic: s.topics.events, messages: [{ key: 'shop', value: good(0) }, ...poison, { key: 'shop', value: good(1) }] });
      await until('the good events taken', () => service.stats().accepted === 2);
      const dead = await readAll(s.topics.dlq, poison.length);
      expect(dead.map((d) => d.value.length)).toEqual(poison.map((p) => p.value.length));
      expect(dead.map((d) => d.headers['vigil-reason'])).toEqual([
        expect.stringMatching(/^not JSON/),
        'field "ts" is not a valid time',
        'field "service" must be a non-empty string',
        expect.stringMatching(/^line longer than/),
      ]);
      for (const d of dead) expect(d.headers['vigil-source']).toMatch(new RegExp(`^${s.topics.events.replace('.', '\\.')}/\\d+@\\d+$`));
    } finally {
      await service.close();
    }
  }, 120_000);

  it('publishes what its HTTP ingest takes to the events topic, keyed by service', async () => {
    const s = settings(3);
    const service = await serviceOn(s);
    try {
      const body = ['shop', 'cart', 'shop'].map((svc, i) => JSON.stringify({ type: 'request', ts: Date.now() + i, service: svc, status: 200 })).join('\n');
      const res = await fetch(`${service.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      expect(res.status).toBe(202);
      const records = await readAll(s.topics.events, 3);
      expect(records.map((r) => r.key).sort()).toEqual(['cart', 'shop', 'shop']);
      await until('consumed back', () => service.stats().accepted === 3);
    } finally {
      await service.close();
    }
  }, 60_000);

  it('answers an Alertmanager webhook 202 only once the alert is on the events topic, and its page comes out on the incidents topic', async () => {
    const s = settings(2);
    const token = `am-${randomUUID()}`;
    // Short timers and no lateness, so that the group pages within seconds of wall time.
    const config: VigilConfig = configSchema.parse({
      server: { port: 0, quietAfterMs: 500 }, window: { allowedLatenessMs: 0 }, alerts: { groupWaitMs: 1_000 },
      webhooks: { sources: { alertmanager: { auth: { kind: 'bearer', token } } } },
    });
    const service = await startService({ config, logger: pino({ level: 'silent' }), channels: new Map(), kafka: s });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const highWater = async (): Promise<number> => (await admin.fetchTopicOffsets(s.topics.events)).reduce((n, p) => n + Number(p.high), 0);
      expect(await highWater()).toBe(0);
      const startsAt = new Date().toISOString();
      const body = JSON.stringify({
        version: '4', status: 'firing', receiver: 'vigil', groupLabels: { service: 'checkout' }, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am', truncatedAlerts: 0,
        alerts: ['checkout-1', 'checkout-2'].map((instance) => ({
          status: 'firing', labels: { alertname: 'HighErrorRate', service: 'checkout', instance, severity: 'critical' },
          annotations: { summary: 'checkout 5xx ratio above 5%' }, startsAt, endsAt: '0001-01-01T00:00:00Z',
        })),
      });
      const post = (auth: string) => fetch(`${service.url}/v1/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body });
      const refused = await post('Bearer wrong');
      expect(refused.status).toBe(401);
      const res = await post(`Bearer ${token}`);
      expect([res.status, await res.json()]).toEqual([202, { accepted: 2, source: 'alertmanager' }]);
      // Asked the moment the 202 arrived: the broker holds the record already (a refused request put nothing there).
      expect(await highWater()).toBe(1);
      const [event] = await readAll(s.topics.events, 1);
      expect(event?.key).toBe('checkout');
      expect(JSON.parse(event?.value ?? '{}')).toMatchObject({ type: 'webhook', source: 'alertmanager', body: JSON.parse(body) as object });
      const [page, ...more] = await readAll(s.topics.incidents, 1);
      expect(more).toEqual([]);
      const decision = JSON.parse(page?.value ?? '{}') as Decision;
      expect(decision).toMatchObject({ type: 'page', service: 'checkout', signals: ['alerts'], severity: 'critical' });
      expect(page?.key).toBe(decision.type === 'page' ? decision.incident : '');
      expect(decision.type === 'page' && decision.alerts?.map((a) => a.instance).sort()).toEqual(['checkout-1', 'checkout-2']);
    } finally {
      await admin.disconnect();
      await service.close();
    }
  }, 60_000);

  it('judges what `vigil simulate --kafka` produces: every event keyed by its service, the bad canary paged and failed', async () => {
    const s = settings(3);
    const service = await serviceOn(s);
    try {
      const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist', 'app', 'cli.js');
      const lines = renderScenario(catalogEntry('parallel-canaries-one-bad')!, 2).ndjson.split('\n').filter((l) => l !== '');
      const child = spawn(process.execPath, [cli, 'simulate', 'parallel-canaries-one-bad', '--seed', '2', '--kafka', brokers.join(','), '--topic', s.topics.events, '--speed', 'max'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code, stderr).toBe(0);
      expect(stderr).toContain(`sent ${lines.length} events`);
      await until('every event consumed', () => service.stats().accepted === lines.length, 90_000);
      const records = await readAll(s.topics.events, lines.length);
      const services = new Set(lines.map((l) => (JSON.parse(l) as { service: string }).service));
      expect(new Set(records.map((r) => r.key))).toEqual(services);
      // Its event times moved to start now, the scenario decides as its replay does.
      const pages = replayPages(lines);
      expect(pages).toHaveLength(1);
      await until('the page', () => service.decisions.incidents().length === 1);
      const [incident] = service.decisions.incidents();
      expect(`${incident?.service} ${incident?.versions.join(',')}`).toBe(pages[0]);
      const failed = service.decisions.verdicts().filter((v) => v.verdict === 'FAIL').map((v) => v.version);
      expect(failed).toEqual(incident?.versions);
    } finally {
      await service.close();
    }
  }, 120_000);
});

/** Pages on the incidents topic, by incident: each should appear once. */
function pagesOf(records: readonly { value: string }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) {
    const d = JSON.parse(r.value) as Decision;
    if (d.type === 'page') out.set(d.incident, (out.get(d.incident) ?? 0) + 1);
  }
  return out;
}

/** What a replay of the same lines ends with: the last verdict of every version, by service/version, in the order they last changed. */
function replayVerdicts(lines: readonly string[]): Record<string, string> {
  const last = new Map<string, string>();
  const engine = createEngine(DEFAULT_RULES, (d) => {
    if (d.type !== 'verdict') return;
    last.delete(`${d.service}/${d.version}`);
    last.set(`${d.service}/${d.version}`, d.verdict);
  });
  for (const line of lines) {
    const r = decodeLine(line);
    if (r.ok) engine.push(r.event);
  }
  return Object.fromEntries(last);
}

/** What a replay of the same lines pages: service and versions of every page. */
function replayPages(lines: readonly string[]): string[] {
  const pages: string[] = [];
  const engine = createEngine(DEFAULT_RULES, (d) => { if (d.type === 'page') pages.push(`${d.service} ${d.versions.join(',')}`); });
  for (const line of lines) {
    const r = decodeLine(line);
    if (r.ok) engine.push(r.event);
  }
  return pages.sort();
}

describe('several instances in one consumer group', () => {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  afterAll(async () => {
    await redis.quit();
  });

  it('share the partitions: an instance joining mid-stream rebuilds what it takes over, and every incident pages exactly once', async () => {
    const s = { ...settings(3), sessionTimeoutMs: 6_000 };
    const log = (): NotificationLog => new RedisNotificationLog(redis, `vigil-test:${s.groupId}:`);
    // Several services, so that partitions carry different ones.
    const lines = [
      ...renderScenario(catalogEntry('two-services-two-regressions')!, 1).ndjson.split('\n'),
    ].filter((l) => l !== '');
    const keyOf = (line: string): string => (JSON.parse(line) as { service?: string }).service ?? 'none';
    const a = await serviceOn(s, log());
    let b: RunningService | undefined;
    try {
      const half = Math.floor(lines.length / 2);
      for (let i = 0; i < half; i += 5_000) {
        await producer.send({ topic: s.topics.events, messages: lines.slice(i, Math.min(i + 5_000, half)).map((value) => ({ key: keyOf(value), value })) });
      }
      await until('the first half consumed', () => a.stats().accepted >= half);
      b = await serviceOn(s, log());
      for (let i = half; i < lines.length; i += 5_000) {
        await producer.send({ topic: s.topics.events, messages: lines.slice(i, i + 5_000).map((value) => ({ key: keyOf(value), value })) });
      }
      const expected = replayPages(lines);
      expect(expected.length).toBeGreaterThan(1);
      const records = await readAll(s.topics.incidents, expected.length, 60_000);
      // Give a duplicate time to show up, were there one.
      await new Promise((r) => setTimeout(r, 3_000));
      const all = await readAll(s.topics.incidents, Number.MAX_SAFE_INTEGER, 5_000);
      const pages = pagesOf(all);
      expect([...pages.values()].every((n) => n === 1), JSON.stringify(all.map((r) => JSON.parse(r.value) as Decision).filter((d) => d.type === 'page'))).toBe(true);
      const paged = all.map((r) => JSON.parse(r.value) as Decision).filter((d) => d.type === 'page').map((d) => (d.type === 'page' ? `${d.service} ${d.versions.join(',')}` : '')).sort();
      expect(paged, JSON.stringify(all.map((r) => JSON.parse(r.value) as Decision).filter((d) => d.type === "page"))).toEqual(expected);
      expect(records.length).toBeGreaterThan(0);
      // Either instance's API answers for every service, whichever of them owns it.
      const want = replayVerdicts(lines);
      expect(Object.keys(want).length).toBeGreaterThan(1);
      for (const instance of [a, b]) {
        const finals = (): Record<string, string> => Object.fromEntries(instance.decisions.verdicts().map((v) => [`${v.service}/${v.version}`, v.verdict]));
        await until('the view of every verdict', () => JSON.stringify(finals()) === JSON.stringify(want), 30_000).catch(() => undefined);
        expect(finals()).toEqual(want);
        const res = await fetch(`${instance.url}/v1/incidents?state=all`);
        expect(((await res.json()) as { incidents: unknown[] }).incidents).toHaveLength(expected.length);
      }
    } finally {
      await b?.close();
      await a.close();
    }
  }, 180_000);
});

describe('a partition whose start the topic no longer retains', () => {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  afterAll(async () => {
    await redis.quit();
  });

  it('is rebuilt from its checkpoint: a regression still going on is not paged again, and its FAIL stays', async () => {
    const s = settings(1);
    const prefix = `vigil-test:${s.groupId}:`;
    const log = (): NotificationLog => new RedisNotificationLog(redis, prefix);
    const checkpoints = new RedisCheckpointStore(redis, prefix);
    // v42 fails some minutes in and goes on failing to the end: its incident stays open.
    const lines = renderScenario(catalogEntry('error-regression')!, 1).ndjson.split('\n').filter((l) => l !== '');
    const produce = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 5_000) {
        await producer.send({ topic: s.topics.events, messages: lines.slice(i, Math.min(i + 5_000, to)).map((value) => ({ key: 'checkout', value })) });
      }
    };
    const first = Math.floor(lines.length * 0.8);
    const a = await serviceOn(s, log(), checkpoints);
    try {
      await produce(0, first);
      await until('the first part consumed', () => a.stats().accepted === first, 90_000);
      expect(a.decisions.incidents('open')).toHaveLength(1);
      expect(a.decisions.verdict('checkout', 'v42')?.verdict).toBe('FAIL');
    } finally {
      await a.close();
    }
    // Retention takes everything but the last few minutes: the deploys and the failure are gone.
    const admin = kafka.admin();
    await admin.connect();
    const kept = Math.floor(lines.length * 0.75);
    // deleteTopicRecords needs the topic's metadata in the client first.
    await admin.fetchTopicMetadata({ topics: [s.topics.events] });
    await admin.deleteTopicRecords({ topic: s.topics.events, partitions: [{ partition: 0, offset: String(kept) }] });
    await admin.disconnect();

    const b = await serviceOn(s, log(), checkpoints);
    try {
      await produce(first, lines.length);
      await until('the rest consumed', () => b.stats().accepted === lines.length - kept, 90_000);
      const incidents = (await readAll(s.topics.incidents, Number.MAX_SAFE_INTEGER, 5_000)).map((r) => JSON.parse(r.value) as Decision);
      expect(incidents.filter((d) => d.type === 'page'), JSON.stringify(incidents)).toHaveLength(1);
      const verdicts = (await readAll(s.topics.verdicts, Number.MAX_SAFE_INTEGER, 5_000)).map((r) => JSON.parse(r.value) as Decision);
      const v42 = verdicts.filter((d) => d.type === 'verdict' && d.version === 'v42').map((d) => (d.type === 'verdict' ? d.verdict : ''));
      expect(v42.at(-1)).toBe('FAIL');
      expect(v42.slice(v42.indexOf('FAIL'))).toEqual(['FAIL']);
    } finally {
      await b.close();
    }
  }, 180_000);
});

describe('an instance killed mid-stream', () => {
  const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist', 'app', 'cli.js');

  /** `vigil run` in a child process on the given config; resolves once it listens. */
  async function instance(configPath: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, [cli, 'run', '--config', configPath], {
      env: { ...process.env, VIGIL_PORT: '0', KAFKA_BROKERS: brokers.join(','), REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
    if (process.env['VIGIL_TEST_TRACE']) {
      const { createWriteStream } = await import('node:fs');
      child.stderr?.pipe(createWriteStream(`/tmp/vigil-instance-${child.pid}.log`));
    } else {
      child.stderr?.resume();
    }
    await until('the instance listening', () => /listening on http/.test(out), 60_000);
    return child;
  }

  it('leaves its partitions to the other, which loses no incident and pages none twice', async () => {
    const s = settings(3);
    const dir = await mkdtemp(join(tmpdir(), 'vigil-kill-'));
    const configPath = join(dir, 'vigil.yaml');
    await writeFile(configPath, [
      'kafka:',
      `  clientId: ${s.clientId}`,
      `  groupId: ${s.groupId}`,
      '  partitions: 3',
      '  sessionTimeoutMs: 6000',
      '  topics:',
      `    events: ${s.topics.events}`,
      `    verdicts: ${s.topics.verdicts}`,
      `    incidents: ${s.topics.incidents}`,
      `    dlq: ${s.topics.dlq}`,
    ].join('\n'));
    const lines = renderScenario(catalogEntry('two-services-two-regressions')!, 2).ndjson.split('\n').filter((l) => l !== '');
    const keyOf = (line: string): string => (JSON.parse(line) as { service?: string }).service ?? 'none';
    const expected = replayPages(lines);
    const t0 = Date.now();
    const step = (what: string): void => { if (process.env['VIGIL_TEST_TRACE']) process.stderr.write(`[${Date.now() - t0} ms] ${what}\n`); };
    const a = await instance(configPath);
    step('a up');
    const b = await instance(configPath);
    step('b up');
    try {
      const cut = Math.floor(lines.length * 0.6);
      for (let i = 0; i < cut; i += 5_000) {
        await producer.send({ topic: s.topics.events, messages: lines.slice(i, Math.min(i + 5_000, cut)).map((value) => ({ key: keyOf(value), value })) });
      }
      // Let both work on it, then kill one without warning: no commit, no goodbye to the group.
      await new Promise((r) => setTimeout(r, 2_000));
      a.kill('SIGKILL');
      step('a killed');
      for (let i = cut; i < lines.length; i += 5_000) {
        await producer.send({ topic: s.topics.events, messages: lines.slice(i, i + 5_000).map((value) => ({ key: keyOf(value), value })) });
      }
      step('all produced');
      await readAll(s.topics.incidents, expected.length, 90_000);
      step('pages read');
      await new Promise((r) => setTimeout(r, 3_000));
      const all = await readAll(s.topics.incidents, Number.MAX_SAFE_INTEGER, 5_000);
      const pages = all.map((r) => JSON.parse(r.value) as Decision).filter((d) => d.type === 'page');
      expect([...pagesOf(all).values()].every((n) => n === 1), JSON.stringify(pages)).toBe(true);
      expect(pages.map((d) => (d.type === 'page' ? `${d.service} ${d.versions.join(',')}` : '')).sort()).toEqual(expected);
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGTERM');
      await new Promise((r) => b.once('close', r));
    }
  }, 240_000);
});
