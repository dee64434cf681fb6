/**
 * The webhook receivers through the real HTTP server (fastify's inject: routing, content-type
 * parsing, body limits, authentication, error handlers) against hostile bodies for every
 * source: recorded payloads with parts replaced, malformed JSON, wrong content types, huge
 * and deep bodies, attack keys, invalid UTF-8. The answer is always a 2xx with the alerts on
 * the bus or a 4xx with the reason: never a 5xx or a crash, never Object.prototype touched.
 * What reaches the bus survives the trip through the events topic's encoding.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SOURCES, type VigilEvent, type WebhookSource } from '../rules/events.js';
import { MemoryDecisions } from '../state/decisions.js';
import { encodeEvent } from '../ingest/encode.js';
import { decodeLine } from '../ingest/decode.js';
import { snsSchema } from '../ingest/webhooks/cloudwatch.js';
import { FIXTURES, expectNoPollution, fixtureBody, hostileValue, mutatedBody } from '../test/hostile-webhooks.js';
import { buildApi } from './http.js';
import { registerWebhooks, snsStringToSign, webhooksSchema } from './webhooks.js';

const RUNS = 120;
const BODY_LIMIT = 256 * 1024;
const TOKEN = 'fuzz-token';
const SENTRY_SECRET = 'fuzz-sentry-secret';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:vigil-alarms';
const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';

// A key of our own stands in for AWS's: the receiver is pinned to its certificate by URL.
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const certFile = join(mkdtempSync(join(tmpdir(), 'vigil-sns-fuzz-')), 'sns.pem');
writeFileSync(certFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));

/** What reached the bus, after the events topic's encoding and decoding. */
const onBus: VigilEvent[] = [];
let app: FastifyInstance;

beforeAll(async () => {
  const bearer = { auth: { kind: 'bearer', token: TOKEN }, rateLimit: { requests: 1_000_000, perMs: 1_000 } };
  app = buildApi({
    bus: { publish: (events) => deliver(events) },
    decisions: new MemoryDecisions(), series: () => undefined, delivery: { stats: () => ({ byChannel: {} }) as never, failures: () => [] },
    logger: pino({ level: 'silent' }), bodyLimitBytes: BODY_LIMIT, accepting: () => true,
  });
  registerWebhooks(app, {
    config: webhooksSchema.parse({
      bodyLimitBytes: BODY_LIMIT,
      sources: {
        alertmanager: bearer, grafana: bearer, datadog: bearer, generic: bearer,
        sentry: { auth: { kind: 'hmac', secret: SENTRY_SECRET }, rateLimit: bearer.rateLimit },
        cloudwatch: { auth: { kind: 'none' }, topicArns: [TOPIC], signingCertificates: { [CERT_URL]: certFile }, rateLimit: bearer.rateLimit },
      },
    }),
    bus: { publish: (events) => deliver(events) },
    logger: pino({ level: 'silent' }), env: {}, now: () => Date.parse('2026-12-07T12:00:00Z'),
    // Only a subscription confirmation fetches (pinned certificates are never fetched).
    fetchText: () => Promise.resolve('<ConfirmSubscriptionResponse/>'),
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

/** The bus of the test: each event through the events topic's encoding and back, as on Kafka. */
async function deliver(events: readonly VigilEvent[]): Promise<void> {
  for (const e of events) {
    const back = decodeLine(encodeEvent(e));
    if (!back.ok) throw new Error(`an accepted event did not survive the events topic's encoding: ${back.reason}`);
    onBus.push(back.event);
  }
  return Promise.resolve();
}

/** A CloudWatch body that reads as an SNS message, signed with the pinned key (so the normaliser is reached). */
function signedIfSns(body: unknown): unknown {
  const m = snsSchema.safeParse(body);
  if (!m.success || typeof body !== 'object' || body === null) return body;
  const data = { ...m.data, SigningCertURL: CERT_URL };
  const signature = sign(data.SignatureVersion === '2' ? 'sha256' : 'sha1', Buffer.from(snsStringToSign(data), 'utf8'), keys.privateKey).toString('base64');
  return { ...body, SigningCertURL: CERT_URL, Signature: signature };
}

/** Sends `payload` to the receiver of `source` with its credentials. */
async function send(source: WebhookSource, payload: string | Buffer, contentType = 'application/json') {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (source === 'sentry') headers['sentry-hook-signature'] = createHmac('sha256', SENTRY_SECRET).update(payload).digest('hex');
  else if (source !== 'cloudwatch') headers['authorization'] = `Bearer ${TOKEN}`;
  const before = onBus.length;
  const res = await app.inject({ method: 'POST', url: `/v1/webhooks/${source}`, headers, payload });
  return { status: res.statusCode, body: res.body, added: onBus.slice(before) };
}

/** A 2xx with the alerts on the bus, or a 4xx with a reason; never a 5xx. */
function expectClear(r: Awaited<ReturnType<typeof send>>): void {
  expect(r.status, r.body.slice(0, 300)).toBeLessThan(500);
  const json = JSON.parse(r.body) as { error?: unknown; accepted?: unknown };
  if (r.status >= 400) {
    expect(typeof json.error).toBe('string');
    expect((json.error as string).length).toBeGreaterThan(0);
    expect((json.error as string).length).toBeLessThan(1_000);
    expect(r.added).toHaveLength(0);
  } else if (r.status === 202) {
    expect(r.added).toHaveLength(1);
    const e = r.added[0];
    expect(e?.type === 'webhook' ? e.alerts.length : -1).toBe(json.accepted);
  } else {
    expect(r.status).toBe(200); // SNS handshakes: nothing for the bus
    expect(r.added).toHaveLength(0);
  }
  expectNoPollution();
}

/** Text that is not a JSON payload: cut JSON, stray bytes, other formats. */
const brokenText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.json().map((t) => t.slice(0, Math.max(0, t.length - 1))),
  fc.constantFrom('{', '[', '{"alerts":[', '{"a":1}{"b":2}', 'null', '0', '""', 'true', '[]', '{}', '\u0000', '\ufeff{}', 'a=1&b=2', '<xml/>', '{"__proto__":{"polluted":"yes"}}'),
);

describe.each(WEBHOOK_SOURCES)('POST /v1/webhooks/%s against hostile bodies', (source) => {
  it('recorded payloads with parts replaced: 2xx with the alerts on the bus, or 4xx with the reason', async () => {
    await fc.assert(fc.asyncProperty(mutatedBody(source), async (body) => {
      const text = JSON.stringify(source === 'cloudwatch' ? signedIfSns(body) : body);
      expectClear(await send(source, text, source === 'cloudwatch' ? 'text/plain; charset=UTF-8' : 'application/json'));
    }), { numRuns: RUNS });
  });

  it('malformed JSON, wrong types and hostile values: 4xx with the reason, or a valid normalisation', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(brokenText, fc.jsonValue().map((v) => JSON.stringify(v)), hostileValue.map((v) => JSON.stringify(v) ?? 'undefined')), async (text) => {
      expectClear(await send(source, text));
    }), { numRuns: RUNS });
  });

  it('invalid UTF-8 anywhere in a recorded payload: 400 with the reason', async () => {
    const good = Buffer.from(JSON.stringify(fixtureBody(FIXTURES[source][0] ?? '')), 'utf8');
    await fc.assert(fc.asyncProperty(fc.nat({ max: good.length }), fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]), async (at, bad) => {
      const r = await send(source, Buffer.concat([good.subarray(0, at), Buffer.from(bad), good.subarray(at)]));
      expectClear(r);
      expect(r.status).toBe(400);
      expect(r.body).toContain('not valid UTF-8');
    }), { numRuns: 40 });
  });

  it('huge and deep bodies: 413 past the body limit, 400 for nesting, the service still answering', async () => {
    const base = fixtureBody(FIXTURES[source][0] ?? '') as Record<string, unknown>;
    const deepText = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    // More alerts than a payload may carry: refused, or (sources with no alert list) the one alert read.
    const many = await send(source, JSON.stringify({ ...base, alerts: Array.from({ length: 20_000 }, () => ({ status: 'firing', labels: { alertname: 'A' }, title: 'A' })) }));
    expectClear(many);
    if (many.status === 202) expect(JSON.parse(many.body)).toMatchObject({ accepted: 1 });
    const cases: [string, number][] = [
      [JSON.stringify({ ...base, padding: 'x'.repeat(BODY_LIMIT) }), 413],
      [deepText, 400],
      [`{"alerts":[],"extra":${deepText}}`, 400],
      [`${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`, 400],
    ];
    for (const [text, status] of cases) {
      const r = await send(source, text);
      expectClear(r);
      expect(r.status, r.body.slice(0, 200)).toBe(status);
    }
    // Still serving: the recorded payload goes through afterwards.
    const ok = await send(source, JSON.stringify(source === 'cloudwatch' ? signedIfSns(base) : base), source === 'cloudwatch' ? 'text/plain' : 'application/json');
    expect(ok.status).toBeLessThan(300);
  });

  it('unsupported content types: 415 with the reason', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'image/png']) {
      const r = await send(source, '{}', type);
      expectClear(r);
      expect(r.status).toBe(415);
    }
  });
});
