import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pino from 'pino';
import type { Decision } from '../rules/decisions.js';
import type { Notifier } from '../notifiers/notifier.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import { httpSender, streamEvents } from '../simulate/stream.js';
import type { VerdictView, IncidentView } from '../state/decisions.js';
import { DEFAULT_CONFIG, type VigilConfig } from './config-file.js';
import { type RunningService, startService } from './service.js';

/** Keeps every decision it is told about. */
class RecordingNotifier implements Notifier {
  readonly channel = 'console';
  readonly seen: Decision[] = [];
  notify(decision: Decision): Promise<void> {
    this.seen.push(decision);
    return Promise.resolve();
  }
}

const silent = pino({ level: 'silent' });
const running: RunningService[] = [];

async function start(overrides: { now?: () => number; tickMs?: number; config?: Partial<VigilConfig['server']>; apiToken?: string } = {}): Promise<{ service: RunningService; notifier: RecordingNotifier }> {
  const notifier = new RecordingNotifier();
  const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0, ...overrides.config } };
  const service = await startService({ config, logger: silent, channels: new Map([['console', notifier]]), now: overrides.now, tickMs: overrides.tickMs, apiToken: overrides.apiToken });
  running.push(service);
  return { service, notifier };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function post(url: string, body: string, contentType = 'application/x-ndjson'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('the embedded service, through its HTTP API', () => {
  it('pages once for the bad canary of a release, FAILs it and PASSes the good ones', async () => {
    const { service, notifier } = await start();
    const rendered = renderScenario(catalogEntry('parallel-canaries-one-bad')!, 3);
    const sent = await streamEvents(rendered.events, { speed: Infinity, startMs: Date.now(), maxBatch: 2_000, send: httpSender(service.url) });
    expect(sent.events).toBe(rendered.events.length);
    expect(service.accepted()).toBe(rendered.events.length);

    const { verdicts } = await getJson<{ verdicts: VerdictView[] }>(`${service.url}/v1/verdicts`);
    for (const [key, allowed] of Object.entries(rendered.labels.verdicts)) {
      const [svc, version] = key.split('/') as [string, string];
      const v = verdicts.find((x) => x.service === svc && x.version === version);
      expect(allowed, `${key}: ${v?.verdict}`).toContain(v?.verdict);
    }
    const bad = rendered.labels.regressions[0]!;
    const one = await getJson<VerdictView>(`${service.url}/v1/verdicts/${bad.service}/${bad.versions[0]}`);
    expect(one.verdict).toBe('FAIL');
    expect(one.reasons.join(' ')).toMatch(/5xx ratio/);

    const { incidents } = await getJson<{ incidents: IncidentView[] }>(`${service.url}/v1/incidents`);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.versions).toEqual(bad.versions);
    const pages = notifier.seen.filter((d) => d.type === 'page');
    expect(pages).toHaveLength(1);
    expect(pages[0]!.type === 'page' && pages[0]!.incident).toBe(incidents[0]!.id);
    // Release tools poll for versions Vigil has not seen yet: that is NONE, not an error.
    const unknown = await fetch(`${service.url}/v1/verdicts/${bad.service}/no-such-version`);
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toMatchObject({ verdict: 'NONE', reason: expect.stringMatching(/no verdict yet/) });
  }, 60_000);

  it('moves event time on with the wall clock when the stream goes quiet, so a quiet canary still gets its verdict', async () => {
    let wall = Date.parse('2026-11-22T10:00:00Z');
    const { service, notifier } = await start({ now: () => wall, tickMs: 10, config: { quietAfterMs: 30_000 } });
    const t0 = wall;
    const lines: string[] = [
      JSON.stringify({ type: 'deploy', ts: new Date(t0).toISOString(), service: 'shop', version: 'v1', role: 'stable', action: 'start' }),
      JSON.stringify({ type: 'deploy', ts: new Date(t0).toISOString(), service: 'shop', version: 'v2', role: 'canary', action: 'start' }),
    ];
    // Three minutes of healthy traffic: enough requests for a verdict, not yet enough age (5 min).
    for (let ms = 0; ms < 180_000; ms += 100) {
      for (const version of ['v1', 'v2']) {
        lines.push(JSON.stringify({ type: 'request', ts: new Date(t0 + ms).toISOString(), service: 'shop', version, route: '/cart', status: 200, latency_ms: 20 + (ms % 7) }));
      }
    }
    expect((await post(service.url, `${lines.join('\n')}\n`)).status).toBe(202);
    const verdictOf = (): string | undefined =>
      notifier.seen.filter((d): d is Extract<Decision, { type: 'verdict' }> => d.type === 'verdict' && d.version === 'v2').at(-1)?.verdict;
    await new Promise((r) => setTimeout(r, 100));
    expect(verdictOf()).toBe('NONE');
    // Quiet for eight minutes of wall time: event time follows, the canary comes of age.
    wall += 8 * 60_000;
    await new Promise((r) => setTimeout(r, 200));
    expect(verdictOf()).toBe('PASS');
  });

  it('rejects bad lines with a reason each and takes the good lines of the same body', async () => {
    const { service } = await start();
    const good = JSON.stringify({ type: 'request', ts: new Date().toISOString(), service: 'shop', status: 200, latency_ms: 12 });
    const res = await post(service.url, `${good}\n{"type":"request"}\nnot json\n\n${good}\n`);
    expect(res.status).toBe(400);
    expect(res.json['accepted']).toBe(2);
    expect(res.json['rejected']).toBe(2);
    expect(res.json['errors']).toEqual([
      expect.objectContaining({ line: 2, reason: 'missing field "ts"' }),
      expect.objectContaining({ line: 3, reason: expect.stringMatching(/^not JSON/) }),
    ]);
    expect(service.accepted()).toBe(2);

    const array = await post(service.url, JSON.stringify([JSON.parse(good), { type: 'log' }]), 'application/json');
    expect(array.status).toBe(400);
    expect(array.json).toMatchObject({ accepted: 1, rejected: 1, errors: [{ item: 2 }] });
    expect((await post(service.url, '')).status).toBe(400);
    expect((await post(service.url, good, 'image/png')).status).toBe(415);
    expect((await post(service.url, '{not json', 'application/json')).json['error']).toMatch(/^body is not JSON/);

    const deploy = await fetch(`${service.url}/v1/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ts: new Date().toISOString(), service: 'shop', version: 'v3', role: 'canary', action: 'start' }),
    });
    expect(deploy.status).toBe(202);
    const notDeploy = await fetch(`${service.url}/v1/deployments`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: good });
    expect(notDeploy.status).toBe(400);
    expect(JSON.stringify(await notDeploy.json())).toMatch(/not a deploy event/);
  });

  it('counts what it took, rejected and decided on GET /metrics, in the Prometheus format', async () => {
    const { service } = await start();
    const good = JSON.stringify({ type: 'request', ts: new Date().toISOString(), service: 'shop', status: 200 });
    await post(service.url, `${good}\n${good}\n{"type":"request"}\nnope\n`);
    const res = await fetch(`${service.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^vigil_events_accepted_total 2$/m);
    expect(text).toMatch(/^vigil_events_rejected_total\{reason="missing field \\"ts\\""\} 1$/m);
    expect(text).toMatch(/^vigil_events_rejected_total\{reason="not JSON"\} 1$/m);
    expect(text).toMatch(/^vigil_notification_failures_kept 0$/m);
    expect(text).toMatch(/^vigil_ingest_queue_events 0$/m);
    expect(text).toMatch(/^# TYPE vigil_ingest_refused_total counter$/m);
    expect(text).toMatch(/^vigil_process_cpu_seconds_total /m);
  });

  it('with a token, answers only requests that carry it, in constant time, and leaves the probes open', async () => {
    const token = 'tok-0123456789abcdef';
    const { service } = await start({ apiToken: token });
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${service.url}/v1/verdicts`)).status).toBe(401);
    expect((await fetch(`${service.url}/v1/verdicts`, { headers: { authorization: 'Bearer tok-0123456789abcdeX' } })).status).toBe(401);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(401);
    const refused = await fetch(`${service.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{}' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(service.accepted()).toBe(0);
    expect((await fetch(`${service.url}/v1/verdicts`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });

  it('refuses a body over the limit with 413 and keeps running', async () => {
    const { service } = await start({ config: { bodyLimitBytes: 1_000 } });
    const res = await post(service.url, `${'x'.repeat(2_000)}\n`);
    expect(res.status).toBe(413);
    expect(res.json['error']).toMatch(/body larger than 1000 bytes/);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it('answers every random body with a 4xx or 202 and an exact count, loses nothing it accepted, and never goes down', async () => {
    const { service } = await start({ config: { bodyLimitBytes: 64 * 1024 } });
    const now = Date.now();
    const eventish = fc.record({
      type: fc.oneof(fc.constantFrom('request', 'log', 'metric', 'deploy', 'webhook'), fc.string()),
      ts: fc.oneof(fc.integer({ min: now - 60_000, max: now }).map((t) => new Date(t).toISOString()), fc.integer(), fc.string()),
      service: fc.oneof(fc.constantFrom('shop', 'cart'), fc.string(), fc.integer()),
      status: fc.oneof(fc.constantFrom(200, 503), fc.integer(), fc.string()),
      latency_ms: fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double()),
      level: fc.constantFrom('error', 'info', 'loud'),
      message: fc.string(),
      name: fc.constantFrom('requests', 'errors', 'memory_mb'),
      value: fc.oneof(fc.double(), fc.integer()),
      version: fc.constantFrom('v1', 'v2'),
      role: fc.constantFrom('stable', 'canary', 'baseline', 'boss'),
      action: fc.constantFrom('start', 'promote', 'rollback', 'finish'),
      source: fc.constantFrom('alertmanager', 'generic', 'nope'),
      body: fc.jsonValue(),
    }, { requiredKeys: [] });
    const line = fc.oneof(eventish.map((o) => JSON.stringify(o)), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 80 }));
    const body = fc.oneof(
      fc.array(line, { maxLength: 30 }).map((ls) => ({ text: ls.join('\n'), type: 'application/x-ndjson' })),
      fc.array(eventish, { maxLength: 20 }).map((os) => ({ text: JSON.stringify(os), type: 'application/json' })),
      fc.string({ maxLength: 200 }).map((text) => ({ text, type: 'application/json' })),
      fc.string({ maxLength: 200 }).map((text) => ({ text, type: 'text/csv' })),
    );
    await fc.assert(fc.asyncProperty(body, async ({ text, type }) => {
      const before = service.accepted();
      const res = await fetch(`${service.url}/v1/events`, { method: 'POST', headers: { 'content-type': type }, body: text });
      expect([202, 400, 413, 415]).toContain(res.status);
      const json = (await res.json()) as { accepted?: number; rejected?: number; error?: string };
      if (json.accepted !== undefined) {
        const parsed: unknown = type === 'application/json' ? JSON.parse(text) : undefined;
        // A JSON body is one event or an array of them; NDJSON counts its non-blank lines.
        const items = type === 'application/json' ? (Array.isArray(parsed) ? parsed.length : 1) : text.split('\n').filter((l) => l.trim() !== '').length;
        expect(json.accepted + (json.rejected ?? 0)).toBe(items);
        expect(res.status).toBe(json.rejected === 0 ? 202 : 400);
        expect(service.accepted() - before).toBe(json.accepted);
      } else {
        expect(json.error).toEqual(expect.any(String));
        expect(service.accepted()).toBe(before);
      }
    }), { numRuns: 150 });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  }, 60_000);

  it('finishes a request in flight on close, then refuses new ones', async () => {
    const { request } = await import('node:http');
    const { service } = await start();
    const good = JSON.stringify({ type: 'request', ts: new Date().toISOString(), service: 'shop', status: 200 });
    const body = `${good}\n`.repeat(500);
    const { hostname, port } = new URL(service.url);
    // Headers and half the body go out before the close begins, the rest after it.
    const req = request({ hostname, port, path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) } });
    const answered = new Promise<{ status: number; json: { accepted?: number } }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { accepted?: number } }));
      }).on('error', reject);
    });
    req.write(body.slice(0, body.length / 2));
    await new Promise((r) => setTimeout(r, 100));
    const closing = service.close();
    req.end(body.slice(body.length / 2));
    const res = await answered;
    await closing;
    expect(res.status).toBe(202);
    expect(res.json.accepted).toBe(500);
    expect(service.accepted()).toBe(500);
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });
});

describe('GET /metrics during a scenario', () => {
  it('is valid Prometheus exposition, and its counters move as the release is judged', async () => {
    const { default: parsePrometheus } = await import('parse-prometheus-text-format');
    const { service } = await start();
    const scrape = async (): Promise<{ text: string; value: (name: string, labels?: Record<string, string>) => number }> => {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const families = parsePrometheus(text);
      // Every sample line of the text must have come through the parser: nothing it skipped.
      const sampleLines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      // Values as Go's ParseFloat reads them (NaN and Inf in any case), as the format specifies.
      for (const line of sampleLines) expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.]+(e[+-]?\d+)?|[Nn][Aa][Nn]|[+-][Ii]nf)$/);
      // Every sample belongs to a family declared with # TYPE (histograms and summaries add
      // _bucket, _sum and _count), and the parser saw every declared family.
      const declared = new Set([...text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/gm)].map((m) => m[1]));
      for (const line of sampleLines) {
        const name = /^[^{ ]+/.exec(line)?.[0] ?? '';
        expect(declared.has(name) || declared.has(name.replace(/_(bucket|sum|count)$/, '')), line).toBe(true);
      }
      expect(families.map((f) => f.name).sort()).toEqual([...declared].sort());
      for (const f of families) expect(text).toContain(`# HELP ${f.name} `);
      // Values are read off the sample lines themselves (the parser drops labels of histograms).
      const value = (name: string, labels: Record<string, string> = {}): number => {
        for (const line of sampleLines) {
          const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
          if (!m || m[1] !== name) continue;
          const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
          if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
        }
        return 0;
      };
      return { text, value };
    };
    const before = await scrape();
    expect(before.value('vigil_events_accepted_total')).toBe(0);
    const rendered = renderScenario(catalogEntry('error-regression')!, 2);
    const sent = await streamEvents(rendered.events, { speed: Infinity, startMs: Date.now(), maxBatch: 2_000, send: httpSender(service.url) });
    const after = await scrape();
    expect(after.value('vigil_events_accepted_total')).toBe(rendered.events.length);
    expect(after.value('vigil_ingest_request_seconds_count', { route: '/v1/events' })).toBe(sent.batches);
    expect(after.value('vigil_engine_batch_seconds_count')).toBe(sent.batches);
    expect(after.value('vigil_decisions_total', { type: 'page' })).toBe(1);
    expect(after.value('vigil_incidents_opened_total')).toBe(1);
    expect(after.value('vigil_verdicts', { verdict: 'FAIL' })).toBe(1);
    expect(after.value('vigil_judgments_active')).toBe(1);
    expect(after.value('vigil_series_live')).toBeGreaterThan(1);
    expect(after.value('vigil_notifications_total', { channel: 'console', outcome: 'delivered' })).toBeGreaterThan(0);
  }, 60_000);
});

describe('notifications from a config file', () => {
  it('routes the page of a simulated release to the configured webhook, signed, once, and shows deliveries in the API', async () => {
    const { createServer } = await import('node:http');
    const { parseConfigText } = await import('./config-file.js');
    const { buildChannels } = await import('./channels.js');
    const { verifyWebhookSignature } = await import('../notifiers/webhook.js');
    const { PassThrough } = await import('node:stream');
    const received: { body: string; timestamp: string; signature: string }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        received.push({ body, timestamp: String(req.headers['x-vigil-timestamp']), signature: String(req.headers['x-vigil-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/vigil`;
    const config = parseConfigText([
      'server: { port: 0 }',
      'notify:',
      '  channels:',
      `    search-hook: { type: webhook, url: "${hookUrl}", secretEnv: TEST_HOOK_SECRET }`,
      'routing:',
      '  routes:',
      '    - match: { service: [search-api] }',
      '      channels: [search-hook, console]',
    ].join('\n'));
    const secret = 'test-hook-secret-0123456789';
    const channels = buildChannels(config, { TEST_HOOK_SECRET: secret }, { out: new PassThrough(), color: false });
    expect(() => buildChannels(config, {}, { out: new PassThrough(), color: false })).toThrow(/TEST_HOOK_SECRET is not set/);
    const service = await startService({ config, logger: silent, channels });
    running.push(service);
    const rendered = renderScenario(catalogEntry('parallel-canaries-one-bad')!, 1);
    await streamEvents(rendered.events, { speed: Infinity, startMs: Date.now(), send: httpSender(service.url) });
    let notifications: { stats: { delivered: number; failed: number }; failed: unknown[] } = { stats: { delivered: 0, failed: 0 }, failed: [] };
    for (let i = 0; i < 100 && notifications.stats.delivered < 2; i++) {
      notifications = await getJson(`${service.url}/v1/notifications`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(notifications.stats.delivered).toBeGreaterThanOrEqual(2);
    expect(notifications.failed).toEqual([]);
    await service.close();
    hook.close();
    const pages = received.filter((r) => (JSON.parse(r.body) as { type: string }).type === 'page');
    expect(pages).toHaveLength(1);
    expect(JSON.parse(pages[0]!.body)).toMatchObject({ type: 'page', service: 'search-api', versions: ['v311-us'], channels: ['search-hook', 'console'] });
    expect(verifyWebhookSignature(pages[0]!.body, pages[0]!.timestamp, pages[0]!.signature, secret, 300)).toBe(true);
    // Verdicts of search-api go the same way; the console channel got them too.
    expect(received.some((r) => (JSON.parse(r.body) as { type: string; verdict?: string }).verdict === 'FAIL')).toBe(true);
  }, 60_000);
});
