/**
 * Vigil beside Prometheus Alertmanager on the same alert flood, with equal timers and equal
 * grouping (`group_by: [service]`): notifications sent by each, and alerts/s ingested by each.
 * A second Alertmanager groups by `[alertname, service]`, as its example configuration does.
 *
 *   node dist/bench/alertmanager.js [--ingest N] [--batch N] [--concurrency N]
 *
 * Both run as processes of their own on loopback: Alertmanager (`prometheus-alertmanager`,
 * the Debian package; on ports away from Kafka's, cluster mode off) and `vigil run` with its
 * Alertmanager webhook receiver. This process is the load and the notification counter: an
 * HTTP server that both send their notifications to (Alertmanager's webhook receiver with
 * `send_resolved`, Vigil's webhook channel; Vigil's suppressed records are not sent).
 *
 * The flood: 500 alerts about one problem, from 50 instances (41 stable, 3 canaries of 3)
 * and 2 tools, instances joining one after another, each alert sent 5 times from its first
 * firing to the end of the 20 s, then every alert resolved. That is 10
 * minutes of a real flood at 30x, with Alertmanager's default timers at the same pace:
 * group_wait 30 s -> 1 s, group_interval 5 min -> 10 s, repeat_interval 4 h -> 8 min. Vigil's
 * event-time lateness is set to 0 and its quiet-stream clock to 1 s, so that its timers run on
 * the wall clock as Alertmanager's do. Alertmanager is sent the alerts through its API
 * (`POST /api/v2/alerts`), Vigil as Alertmanager webhook payloads; both are equal batches.
 *
 * The ingest figure is separate: `--ingest` alerts (200 distinct ones, sent again and again,
 * as evaluation intervals do) in batches of `--batch`, `--concurrency` requests in flight,
 * to each server alone, the bodies made before the clock starts. Each answers only once it
 * holds the alerts (Vigil's 202: in its engine). After a warm-up of each (a fifth of `--ingest`,
 * not counted), the two are measured in turns, Alertmanager,
 * Vigil, Vigil, Alertmanager, so that a machine busier early or late weighs on both alike;
 * each figure is the mean of its two turns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { count, describeMachine, machineInfo, positiveIntFlags, table, type Row } from './harness.js';

const USAGE = 'usage: node dist/bench/alertmanager.js [--ingest N] [--batch N] [--concurrency N]';
const ALERTMANAGER = process.env['ALERTMANAGER_BIN'] ?? 'prometheus-alertmanager';
const TOKEN = 'bench-token-0123456789';
const SPEED = 30;
const TIMERS = { groupWaitMs: 30_000 / SPEED, groupIntervalMs: 300_000 / SPEED, repeatIntervalMs: 4 * 3_600_000 / SPEED };
const FLOOD_MS = 600_000 / SPEED;
const SENDS_PER_ALERT = 5;

/** One alert as Alertmanager's API takes it. */
interface ApiAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt?: string;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} not ready at ${url} after 30 s`);
}

/** The instances of the flood: 41 stable and 3 canaries of 3, 50 in all. */
function floodInstances(): { instance: string; version: string }[] {
  const out = Array.from({ length: 41 }, (_, i) => ({ instance: `checkout-v41-${i}`, version: 'v41' }));
  for (const c of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) out.push({ instance: `checkout-v42${c}-${i}`, version: `v42-${c}` });
  return out;
}

const TOOLS = [
  { alertname: 'HighErrorRate', job: 'prometheus', summary: 'checkout 5xx ratio above 5%' },
  { alertname: 'CheckoutErrors', job: 'datadog', summary: 'High error rate on checkout' },
] as const;

function alertOf(service: string, instance: string, version: string, tool: (typeof TOOLS)[number], startsAt: number, endsAt?: number): ApiAlert {
  return {
    labels: { alertname: tool.alertname, service, instance, version, job: tool.job, severity: 'critical' },
    annotations: { summary: tool.summary },
    startsAt: new Date(startsAt).toISOString(),
    ...(endsAt !== undefined ? { endsAt: new Date(endsAt).toISOString() } : {}),
  };
}

/** The body of an Alertmanager webhook (version 4) holding these alerts, as Vigil's receiver takes it. */
function webhookBody(alerts: readonly ApiAlert[]): string {
  const resolved = alerts.every((a) => a.endsAt !== undefined);
  return JSON.stringify({
    version: '4', status: resolved ? 'resolved' : 'firing', receiver: 'vigil', groupLabels: {}, commonLabels: {}, commonAnnotations: {},
    externalURL: 'http://bench', truncatedAlerts: 0,
    alerts: alerts.map((a) => ({ status: a.endsAt !== undefined ? 'resolved' : 'firing', labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: a.endsAt ?? '0001-01-01T00:00:00Z' })),
  });
}

/** Where a batch goes, for one server: `post` sends a body made already, `send` makes it first. */
interface Send {
  readonly body: (alerts: readonly ApiAlert[]) => string;
  readonly post: (body: string) => Promise<void>;
  readonly send: (alerts: readonly ApiAlert[]) => Promise<void>;
}

/**
 * Kept-alive connections of node:http: a load generator much lighter than fetch, so that the
 * ingest figures are the servers' and not this process's (with fetch, both servers waited
 * on it, idle for a third of their turns).
 */
const AGENT = new Agent({ keepAlive: true, maxSockets: 64 });

function sender(url: string, headers: Record<string, string>, body: (alerts: readonly ApiAlert[]) => string): Send {
  const target = new URL(url);
  const post = (text: string): Promise<void> => new Promise((ok, fail) => {
    const req = request({
      agent: AGENT, host: target.hostname, port: target.port, path: target.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers },
    }, (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { answer += c; });
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) fail(new Error(`POST ${url}: HTTP ${res.statusCode} ${answer.slice(0, 200)}`));
        else ok();
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(text);
  });
  return { body, post, send: (alerts) => post(body(alerts)) };
}

/** Counts the notifications each server sends, by path. */
function counter(): Promise<{ server: Server; port: number; counts: Map<string, { total: number; kinds: Map<string, number> }> }> {
  const counts = new Map<string, { total: number; kinds: Map<string, number> }>();
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { text += c; });
    req.on('end', () => {
      const path = req.url ?? '/';
      const c = counts.get(path) ?? { total: 0, kinds: new Map<string, number>() };
      c.total++;
      let kind = 'other';
      try {
        const body = JSON.parse(text) as { type?: string; status?: string };
        kind = body.type ?? body.status ?? 'other';
      } catch {
        // counted as other
      }
      c.kinds.set(kind, (c.kinds.get(kind) ?? 0) + 1);
      counts.set(path, c);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as AddressInfo).port, counts })));
}

async function startAlertmanager(dir: string, port: number, hookUrl: string, groupBy: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  const name = `alertmanager-${groupBy.join('-')}`;
  const cfg = join(dir, `${name}.yml`);
  const s = (ms: number): string => `${ms / 1000}s`;
  writeFileSync(cfg, [
    'route:', '  receiver: counter', `  group_by: [${groupBy.join(', ')}]`, `  group_wait: ${s(TIMERS.groupWaitMs)}`, `  group_interval: ${s(TIMERS.groupIntervalMs)}`,
    `  repeat_interval: ${s(TIMERS.repeatIntervalMs)}`, 'receivers:', '  - name: counter', '    webhook_configs:', `      - url: ${hookUrl}`, '        send_resolved: true', '',
  ].join('\n'));
  const child = spawn(ALERTMANAGER, [`--config.file=${cfg}`, `--storage.path=${join(dir, `${name}-data`)}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.once('error', (err) => { process.stderr.write(`cannot start ${ALERTMANAGER}: ${err.message} (apt-get install -y prometheus-alertmanager)\n`); });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, 'alertmanager');
  return { child, url };
}

async function startVigil(dir: string, port: number, hookUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const cfg = join(dir, 'vigil.yaml');
  writeFileSync(cfg, [
    'window: { allowedLatenessMs: 0 }', 'server: { quietAfterMs: 1000 }', 'incidents: { channels: [counter] }',
    `alerts: { groupWaitMs: ${TIMERS.groupWaitMs}, groupIntervalMs: ${TIMERS.groupIntervalMs}, repeatIntervalMs: ${TIMERS.repeatIntervalMs} }`,
    `notify: { channels: { counter: { type: webhook, url: "${hookUrl}" } } }`,
    `webhooks: { sources: { alertmanager: { auth: { kind: bearer, token: "${TOKEN}" }, rateLimit: { requests: 1000000, perMs: 1000 } } } }`, '',
  ].join('\n'));
  const cli = resolve(fileURLToPath(import.meta.url), '../../app/cli.js');
  const child = spawn(process.execPath, [...(process.env['VIGIL_BENCH_PROFILE'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['VIGIL_BENCH_PROFILE']] : []), cli, 'run', '--config', cfg], {
    stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, VIGIL_PORT: String(port), VIGIL_HOST: '127.0.0.1', VIGIL_LOG_LEVEL: 'warn' },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, child, 'vigil');
  return { child, url };
}

/**
 * When instance `i` of `n` first fires on tool `k`, in ms from the flood's start: instances join
 * one after another over the first 60% of it (the second tool's over half of it, from a third
 * of the way in), as a problem spreads over a fleet.
 */
function firstFiring(i: number, k: number, n: number): number {
  return k === 0 ? Math.round((i / n) * FLOOD_MS * 0.6) : Math.round(FLOOD_MS / 3 + (i / n) * FLOOD_MS * 0.5);
}

/** Sends the flood to both servers at once, on the same schedule, and resolves every alert at its end. */
async function flood(sends: readonly Send[]): Promise<number> {
  const start = Date.now();
  const instances = floodInstances();
  const schedule: { atMs: number; alert: (t0: number) => ApiAlert }[] = [];
  instances.forEach(({ instance, version }, i) => {
    TOOLS.forEach((tool, k) => {
      for (let n = 0; n < SENDS_PER_ALERT; n++) {
        const first = firstFiring(i, k, instances.length);
        const atMs = Math.min(FLOOD_MS - 1, first + n * ((FLOOD_MS - first) / SENDS_PER_ALERT));
        schedule.push({ atMs, alert: (t0) => alertOf('checkout', instance, version, tool, t0 + first) });
      }
    });
  });
  schedule.sort((a, b) => a.atMs - b.atMs);
  let sent = 0;
  for (let i = 0; i < schedule.length;) {
    const due = schedule[i]?.atMs ?? 0;
    const wait = start + due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const batch: ApiAlert[] = [];
    while (i < schedule.length && (schedule[i]?.atMs ?? 0) <= Date.now() - start && batch.length < 10) batch.push((schedule[i++] as (typeof schedule)[number]).alert(start));
    if (batch.length === 0) continue;
    await Promise.all(sends.map((s) => s.send(batch)));
    sent += batch.length;
  }
  const end = Date.now();
  const resolved = instances.flatMap(({ instance, version }, i) => TOOLS.map((tool, k) => alertOf('checkout', instance, version, tool, start + firstFiring(i, k, instances.length), end)));
  for (let i = 0; i < resolved.length; i += 10) await Promise.all(sends.map((s) => s.send(resolved.slice(i, i + 10))));
  return sent;
}

/** Sends `total` alerts as fast as `concurrency` requests in flight allow; alerts per second. */
async function ingest(send: Send, total: number, batch: number, concurrency: number): Promise<number> {
  const now = Date.now();
  const distinct = Array.from({ length: 100 }, (_, i) => i).flatMap((i) => TOOLS.map((tool) => alertOf('bench-ingest', `ingest-${i}`, 'v1', tool, now)));
  // The bodies are made before the clock starts, for both servers alike: the figure is the
  // server's, not this process's JSON encoding (Vigil's webhook bodies are the larger ones).
  const bodies = new Map<string, string>();
  const bodyOf = (from: number, to: number): string => {
    const key = `${from % distinct.length}:${to - from}`;
    let text = bodies.get(key);
    if (text === undefined) {
      const alerts: ApiAlert[] = [];
      for (let j = from; j < to; j++) alerts.push(distinct[j % distinct.length] as ApiAlert);
      bodies.set(key, (text = send.body(alerts)));
    }
    return text;
  };
  for (let from = 0; from < total; from += batch) bodyOf(from, Math.min(total, from + batch));
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + batch);
      await send.post(bodyOf(from, next));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return total / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const { ingest: total, batch, concurrency } = positiveIntFlags(process.argv.slice(2), { ingest: 20_000, batch: 20, concurrency: 8 }, USAGE);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-am-'));
  const hooks = await counter();
  const children: ChildProcess[] = [];
  try {
    const am = await startAlertmanager(dir, await freePort(), `http://127.0.0.1:${hooks.port}/alertmanager`, ['service']);
    children.push(am.child);
    // Alertmanager's own example configuration groups by alertname as well: the second run shows what that costs.
    const amByName = await startAlertmanager(dir, await freePort(), `http://127.0.0.1:${hooks.port}/alertmanager-by-alertname`, ['alertname', 'service']);
    children.push(amByName.child);
    const vigil = await startVigil(dir, await freePort(), `http://127.0.0.1:${hooks.port}/vigil`);
    children.push(vigil.child);
    const toAm = sender(`${am.url}/api/v2/alerts`, {}, (alerts) => JSON.stringify(alerts));
    const toVigil = sender(`${vigil.url}/v1/webhooks/alertmanager`, { authorization: `Bearer ${TOKEN}` }, webhookBody);

    process.stderr.write(`flood: 500 alerts over ${FLOOD_MS / 1000} s to both, timers group_wait ${TIMERS.groupWaitMs} ms, group_interval ${TIMERS.groupIntervalMs} ms, repeat_interval ${TIMERS.repeatIntervalMs} ms\n`);
    const toAmByName = sender(`${amByName.url}/api/v2/alerts`, {}, (alerts) => JSON.stringify(alerts));
    const sent = await flood([toAm, toAmByName, toVigil]);
    // Both send the resolved notification at the next group interval; wait two, plus margin.
    await new Promise((r) => setTimeout(r, 2 * TIMERS.groupIntervalMs + 5_000));
    // Copies: the ingest runs below send notifications of their own.
    const snapshot = (path: string) => { const c = hooks.counts.get(path); return c && { total: c.total, kinds: new Map(c.kinds) }; };
    const amCount = snapshot('/alertmanager');
    const amByNameCount = snapshot('/alertmanager-by-alertname');
    const vigilCount = snapshot('/vigil');
    // What Vigil decided but did not tell (updates that only corroborate): counted, so nothing is hidden.
    const notifications = await (await fetch(`${vigil.url}/v1/notifications`)).json() as { stats?: { quiet?: number } };
    const vigilQuiet = notifications.stats?.quiet ?? 0;
    const kinds = (c: typeof amCount): string => [...(c?.kinds ?? new Map<string, number>())].sort().map(([k, n]) => `${n} ${k}`).join(', ');

    process.stderr.write(`ingest: ${total} alerts in batches of ${batch}, ${concurrency} in flight, to each alone\n`);
    // A warm-up of both first, not counted: the first turn would otherwise also time this process's own start (and Vigil's JIT).
    await ingest(toAm, Math.ceil(total / 5), batch, concurrency);
    await ingest(toVigil, Math.ceil(total / 5), batch, concurrency);
    const turns = [await ingest(toAm, total, batch, concurrency), await ingest(toVigil, total, batch, concurrency)];
    turns.push(await ingest(toVigil, total, batch, concurrency), await ingest(toAm, total, batch, concurrency));
    const [am1 = 0, vigil1 = 0, vigil2 = 0, am2 = 0] = turns;
    const amRate = (am1 + am2) / 2, vigilRate = (vigil1 + vigil2) / 2;

    const rows: Row[] = [
      ['alerts in the flood', `${sent} firing, then ${floodInstances().length * TOOLS.length} resolved`],
      ['Alertmanager notifications', `${amCount?.total ?? 0} (${kinds(amCount)})`],
      ['  with group_by [alertname, service]', `${amByNameCount?.total ?? 0} (${kinds(amByNameCount)})`],
      ['Vigil notifications', `${vigilCount?.total ?? 0} (${kinds(vigilCount)})`],
      ['  updates recorded, not told (quiet)', String(vigilQuiet)],
      ['Alertmanager ingest', `${count(amRate)} alerts/s (turns ${count(am1)}, ${count(am2)})`],
      ['Vigil ingest', `${count(vigilRate)} alerts/s (turns ${count(vigil1)}, ${count(vigil2)})`],
    ];
    process.stdout.write(`${describeMachine(machineInfo())}\n${table('Vigil beside Alertmanager, equal timers and group_by [service]', rows)}`);
    const nRatio = (vigilCount?.total ?? 0) / Math.max(1, amCount?.total ?? 0);
    process.stdout.write(`notifications Vigil/Alertmanager: ${nRatio.toFixed(2)} with the same group_by (target < 1: ${nRatio < 1 ? 'met' : 'NOT met'}), `
      + `${((vigilCount?.total ?? 0) / Math.max(1, amByNameCount?.total ?? 0)).toFixed(2)} against group_by [alertname, service]\n`);
    process.stdout.write(`ingest Vigil/Alertmanager: ${(vigilRate / amRate).toFixed(2)} (target >= 1: ${vigilRate >= amRate ? 'met' : 'NOT met'})\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    hooks.server.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:alertmanager failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
