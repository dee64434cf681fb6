/**
 * The webhook receivers and the silences API over real HTTP: a started service, real
 * requests, and the incidents the API then shows.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Notifier } from '../notifiers/notifier.js';
import type { Decision } from '../rules/decisions.js';
import type { IncidentView } from '../state/decisions.js';
import { DEFAULT_CONFIG, type VigilConfig, configSchema } from './config-file.js';
import { type RunningService, startService } from './service.js';
import { snsStringToSign } from './webhooks.js';
import { snsSchema } from '../ingest/webhooks/cloudwatch.js';

const silent = pino({ level: 'silent' });
const running: RunningService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

class RecordingNotifier implements Notifier {
  readonly channel = 'console';
  readonly seen: Decision[] = [];
  notify(decision: Decision): Promise<void> {
    this.seen.push(decision);
    return Promise.resolve();
  }
}

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/webhooks/${name}.json`, import.meta.url), 'utf8');
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:vigil-alarms';
const SENTRY_SECRET = 'sentry-client-secret';

// A key of our own stands in for AWS's: the receiver is pinned to its certificate by URL.
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const certDir = mkdtempSync(join(tmpdir(), 'vigil-sns-'));
const certFile = join(certDir, 'sns.pem');
writeFileSync(certFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';

function signedSns(body: Record<string, unknown>, version: '1' | '2' = '1'): string {
  const m = snsSchema.parse({ ...body, SignatureVersion: version, SigningCertURL: CERT_URL, Signature: 'x' });
  const signature = sign(version === '2' ? 'sha256' : 'sha1', Buffer.from(snsStringToSign(m)), keys.privateKey).toString('base64');
  return JSON.stringify({ ...m, Signature: signature });
}

/** The wall clock of the services under test, moved by hand so that timers run without waiting. */
let wallMs = Date.now();

async function start(webhooks: Record<string, unknown>, env: Record<string, string> = {}, apiToken?: string) {
  const notifier = new RecordingNotifier();
  const parsed = configSchema.parse({ webhooks, alerts: { groupWaitMs: 0 } });
  const config: VigilConfig = { ...parsed, server: { ...DEFAULT_CONFIG.server, port: 0, quietAfterMs: 1_000 } };
  wallMs = Date.now();
  const service = await startService({ config, logger: silent, channels: new Map([['console', notifier]]), env, apiToken, tickMs: 20, now: () => wallMs });
  running.push(service);
  return { service, notifier };
}

/** Moves the wall clock past the allowed lateness, so that event time reaches the alerts' timers, and waits for a tick. */
async function later(): Promise<void> {
  wallMs += 2 * 60_000;
  await new Promise((r) => setTimeout(r, 100));
}

const bearer = (token: string) => ({ kind: 'bearer', token });

async function post(url: string, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('webhook receivers over HTTP', () => {
  it('take every source\'s recorded payload with its credentials, and fold them into one incident', async () => {
    const { service } = await start({
      sources: {
        alertmanager: { auth: bearer('am-token') }, grafana: { auth: bearer('env:GRAFANA_TOKEN') }, datadog: { auth: bearer('dd') }, generic: { auth: bearer('gen') },
        sentry: { auth: { kind: 'hmac', secret: SENTRY_SECRET } },
        cloudwatch: { auth: { kind: 'none' }, topicArns: [TOPIC], signingCertificates: { [CERT_URL]: certFile } },
      },
    }, { GRAFANA_TOKEN: 'gf' });
    // CloudWatch alarms name no service: the alarm name starting with a service Vigil has seen says which.
    expect((await post(service.url, '/v1/events', JSON.stringify({ type: 'request', ts: wallMs, service: 'checkout', status: 200 }))).status).toBe(202);
    const sentryBody = fixture('sentry-firing');
    const sends: [string, string, Record<string, string>][] = [
      ['alertmanager', fixture('alertmanager-firing'), { authorization: 'Bearer am-token' }],
      ['grafana', fixture('grafana-firing'), { authorization: 'Bearer gf' }],
      ['datadog', fixture('datadog-firing'), { authorization: 'Bearer dd' }],
      ['generic', fixture('generic-firing'), { authorization: 'Bearer gen' }],
      ['sentry', sentryBody, { 'sentry-hook-signature': createHmac('sha256', SENTRY_SECRET).update(sentryBody).digest('hex') }],
      ['cloudwatch', signedSns(JSON.parse(fixture('cloudwatch-firing')) as Record<string, unknown>), { 'content-type': 'text/plain; charset=UTF-8' }],
    ];
    for (const [source, body, headers] of sends) {
      const r = await post(service.url, `/v1/webhooks/${source}`, body, headers);
      expect([source, r.status, r.json]).toEqual([source, 202, { accepted: 1, source }]);
    }
    let incidents: IncidentView[] = [];
    for (let i = 0; i < 100 && incidents.length === 0; i++) {
      await later();
      incidents = ((await (await fetch(`${service.url}/v1/incidents`)).json()) as { incidents: IncidentView[] }).incidents;
    }
    expect(incidents.length).toBe(1);
    const inc = incidents[0] as IncidentView;
    expect(inc.service).toBe('checkout');
    expect(inc.alerts.map((a) => a.source).sort()).toEqual(['alertmanager', 'cloudwatch', 'datadog', 'generic', 'grafana', 'sentry']);
  });

  it('refuse wrong or missing credentials and bad signatures with 401 and the reason', async () => {
    const { service } = await start({ sources: { alertmanager: { auth: bearer('am-token') }, sentry: { auth: { kind: 'hmac', secret: SENTRY_SECRET } } } }, {}, 'api-token');
    const body = fixture('alertmanager-firing');
    expect((await post(service.url, '/v1/webhooks/alertmanager', body)).json).toEqual({ error: expect.stringMatching(/^missing bearer token/) as unknown });
    const wrong = await post(service.url, '/v1/webhooks/alertmanager', body, { authorization: 'Bearer api-token' });
    expect([wrong.status, wrong.json['error']]).toEqual([401, 'wrong bearer token']);
    const sentryBody = fixture('sentry-firing');
    const missing = await post(service.url, '/v1/webhooks/sentry', sentryBody);
    expect([missing.status, missing.json['error']]).toEqual([401, 'missing signature header sentry-hook-signature']);
    const forged = await post(service.url, '/v1/webhooks/sentry', sentryBody.replace('v41', 'v40'), { 'sentry-hook-signature': createHmac('sha256', SENTRY_SECRET).update(sentryBody).digest('hex') });
    expect([forged.status, forged.json['error']]).toEqual([401, expect.stringMatching(/^signature in sentry-hook-signature does not match the body/) as unknown]);
    const good = await post(service.url, '/v1/webhooks/sentry', sentryBody, { 'sentry-hook-signature': createHmac('sha256', SENTRY_SECRET).update(sentryBody).digest('hex') });
    expect(good.status).toBe(202);
  });

  it('check SNS signatures and topics, and never fetch a URL outside AWS', async () => {
    const { service } = await start({ sources: { cloudwatch: { auth: { kind: 'none' }, topicArns: [TOPIC], signingCertificates: { [CERT_URL]: certFile } } } });
    const alarm = JSON.parse(fixture('cloudwatch-firing')) as Record<string, unknown>;
    const signed = signedSns(alarm, '2');
    expect((await post(service.url, '/v1/webhooks/cloudwatch', signed, { 'content-type': 'text/plain' })).status).toBe(202);
    const tampered = JSON.stringify({ ...(JSON.parse(signed) as object), Message: String(alarm['Message']).replace('ALARM', 'OK') });
    const bad = await post(service.url, '/v1/webhooks/cloudwatch', tampered, { 'content-type': 'text/plain' });
    expect([bad.status, bad.json['error']]).toEqual([401, 'SNS signature does not match the message']);
    const otherTopic = await post(service.url, '/v1/webhooks/cloudwatch', signedSns({ ...alarm, TopicArn: 'arn:aws:sns:us-east-1:123456789012:other' }), { 'content-type': 'text/plain' });
    expect([otherTopic.status, otherTopic.json['error']]).toEqual([403, 'SNS topic arn:aws:sns:us-east-1:123456789012:other is not in webhooks.sources.cloudwatch.topicArns']);
    const foreignCert = await post(service.url, '/v1/webhooks/cloudwatch', JSON.stringify({ ...(JSON.parse(signed) as object), SigningCertURL: 'https://evil.example/cert.pem' }), { 'content-type': 'text/plain' });
    expect([foreignCert.status, foreignCert.json['error']]).toEqual([400, expect.stringMatching(/is not an https URL of sns\.<region>\.amazonaws\.com: refused$/) as unknown]);
    const sub = JSON.parse(fixture('cloudwatch-subscription')) as Record<string, unknown>;
    const wrongTopic = await post(service.url, '/v1/webhooks/cloudwatch', signedSns({ ...sub, TopicArn: 'arn:aws:sns:us-east-1:123456789012:other' }), { 'content-type': 'text/plain' });
    expect(wrongTopic.status).toBe(403);
    const foreignConfirm = await post(service.url, '/v1/webhooks/cloudwatch', signedSns({ ...sub, SubscribeURL: 'http://127.0.0.1:1/confirm' }), { 'content-type': 'text/plain' });
    expect([foreignConfirm.status, foreignConfirm.json['error']]).toEqual([400, expect.stringMatching(/^SubscribeURL .* is not an https URL of sns/) as unknown]);
  });

  it('answer 4xx with the reason for bodies they cannot read, and 404 for sources not enabled', async () => {
    const { service } = await start({ sources: { alertmanager: { auth: bearer('t') } } });
    const h = { authorization: 'Bearer t' };
    expect((await post(service.url, '/v1/webhooks/alertmanager', '{not json', h)).json['error']).toMatch(/^body is not JSON: /);
    expect((await post(service.url, '/v1/webhooks/alertmanager', '{"alerts":[{"status":"maybe","labels":{}}]}', h))).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^not a alertmanager payload: alerts\.0\.status: /) as unknown } });
    expect((await post(service.url, '/v1/webhooks/grafana', '{}', h))).toMatchObject({ status: 404, json: { error: 'webhook source grafana is not enabled: configure webhooks.sources.grafana' } });
    expect((await post(service.url, '/v1/webhooks/nagios', '{}', h)).status).toBe(404);
    const res = await fetch(`${service.url}/v1/webhooks/alertmanager`, { method: 'POST', headers: { ...h, 'content-type': 'application/xml' }, body: '<a/>' });
    expect(res.status).toBe(415);
  });

  it('limit body size (413) and rate (429 with Retry-After)', async () => {
    const { service } = await start({ bodyLimitBytes: 2_048, sources: { generic: { auth: bearer('t'), rateLimit: { requests: 3, perMs: 60_000 } } } });
    const h = { authorization: 'Bearer t' };
    const big = JSON.stringify({ title: 'x', status: 'firing', summary: 'y'.repeat(4_000) });
    const tooBig = await post(service.url, '/v1/webhooks/generic', big, h);
    expect([tooBig.status, tooBig.json['error']]).toEqual([413, 'body larger than 2048 bytes (webhooks.bodyLimitBytes)']);
    const small = JSON.stringify({ title: 'x', status: 'firing', labels: { service: 'a' } });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await post(service.url, '/v1/webhooks/generic', small, h);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    // The oversized request was refused before it reached the limiter.
    expect(statuses).toEqual([202, 202, 202, 429]);
    expect(Number(limited?.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(limited?.json['error']).toMatch(/^rate limit of 3 requests per 60 s for generic reached; retry after \d+ s$/);
  });

  it('refuse a config with a source that has no credentials, naming the key', () => {
    const p = configSchema.safeParse({ webhooks: { sources: { generic: { auth: { kind: 'none' } } } } });
    expect(p.success).toBe(false);
    expect(p.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['webhooks.sources.generic.auth: only cloudwatch (signed by SNS) may go without credentials: use bearer or hmac']);
  });
});

describe('the silences API', () => {
  it('creates, lists and deletes silences, and a silence mutes matching alerts as a suppressed record', async () => {
    const { service, notifier } = await start({ sources: { generic: { auth: bearer('t') } } });
    const created = await post(service.url, '/v1/silences', JSON.stringify({ matchers: ['service="checkout"'], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'ops', comment: 'db work' }));
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    const list = (await (await fetch(`${service.url}/v1/silences`)).json()) as { silences: { id: string; matchers: string[] }[] };
    expect(list.silences.map((s) => [s.id, s.matchers])).toEqual([[id, ['service="checkout"']]]);
    const r = await post(service.url, '/v1/webhooks/generic', JSON.stringify({ title: 'Down', status: 'firing', labels: { service: 'checkout' } }), { authorization: 'Bearer t' });
    expect(r.status).toBe(202);
    let why: string | undefined;
    for (let i = 0; i < 100 && why === undefined; i++) {
      await later();
      why = ((await (await fetch(`${service.url}/v1/suppressed`)).json()) as { suppressed: { why: string }[] }).suppressed[0]?.why;
    }
    expect(why).toBe('silenced');
    expect(notifier.seen.filter((d) => d.type === 'page')).toEqual([]);
    expect((await post(service.url, '/v1/silences', JSON.stringify({ matchers: ['service=~"("'], endsAt: Date.now() + 1000 }))).json['error']).toMatch(/^not a silence: matchers\.0: matcher .* has a bad regular expression/);
    expect((await fetch(`${service.url}/v1/silences/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${service.url}/v1/silences/${id}`, { method: 'DELETE' })).status).toBe(404);
  });
});
