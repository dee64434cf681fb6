/**
 * The monitoring systems' webhook receivers (`POST /v1/webhooks/:source`) and the silences
 * API. Each source authenticates its own way (bearer token or HMAC of the body, compared in
 * constant time; SNS messages by their signature), has a body size limit and a rate limit
 * (429 with Retry-After), and gets a 4xx with the reason for a body it cannot read. A 2xx
 * means the alerts are on the bus (on the events topic, when Kafka is configured) as a
 * `webhook` event, which the engine normalises again exactly as a replay would.
 */
import { createHash, createHmac, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Logger } from 'pino';
import { WEBHOOK_SOURCES, type WebhookEvent, type WebhookSource } from '../rules/events.js';
import { BusFullError, type EventBus } from '../ingest/bus.js';
import { sendBusFull } from './backpressure.js';
import { normaliseWebhook } from '../ingest/webhooks/index.js';
import { type SnsMessage, snsSchema } from '../ingest/webhooks/cloudwatch.js';
import { cutText } from '../ingest/decode.js';
import { type Silence, type SilenceStore, silenceInputSchema } from '../rules/silences.js';
import { matcherText } from '../rules/matchers.js';

/** A secret given in the config file, or `env:NAME` to read it from the environment at start. */
const secretText = z.string().min(1);

/** How a source proves who it is. */
const authSchema = z.discriminatedUnion('kind', [
  /** `Authorization: Bearer <token>`: Alertmanager's `http_config.authorization`, Grafana's contact point, generic tools. */
  z.strictObject({ kind: z.literal('bearer'), token: secretText }),
  /** An HMAC of the raw body in a header: Sentry's `Sentry-Hook-Signature` (hex SHA-256), or any tool signing its bodies. */
  z.strictObject({
    kind: z.literal('hmac'),
    secret: secretText,
    header: z.string().min(1).default('sentry-hook-signature'),
    algorithm: z.enum(['sha256', 'sha1', 'sha512']).default('sha256'),
    encoding: z.enum(['hex', 'base64']).default('hex'),
    /** Text before the digest in the header, e.g. `sha256=`. */
    prefix: z.string().default(''),
  }),
  /** No credentials: only for CloudWatch, whose SNS messages are signed by AWS. */
  z.strictObject({ kind: z.literal('none') }),
]);

/** One source's receiver settings. */
const sourceSchema = z.strictObject({
  auth: authSchema,
  /** Requests per `rateLimit.perMs` this source may send; more get 429. */
  rateLimit: z.strictObject({ requests: z.number().int().positive().default(600), perMs: z.number().int().positive().default(60_000) })
    .default({ requests: 600, perMs: 60_000 }),
  /** CloudWatch via SNS: the topics whose messages are taken and whose subscriptions are confirmed. */
  topicArns: z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/, 'an SNS topic ARN')).default([]),
  /** CloudWatch via SNS: signing certificates pinned by URL (PEM files); others are fetched only from sns.<region>.amazonaws.com. */
  signingCertificates: z.record(z.string(), z.string().min(1)).default({}),
});

/** Settings of the webhook receivers (`webhooks` in the config file). */
export const webhooksSchema = z.strictObject({
  /** Largest webhook body taken; Alertmanager batches up to a few hundred alerts. */
  bodyLimitBytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024),
  /** Receivers by source; a source not listed answers 404. */
  sources: z.partialRecord(z.enum(WEBHOOK_SOURCES), sourceSchema).default({}),
}).superRefine((w, ctx) => {
  for (const [source, s] of Object.entries(w.sources)) {
    if (s.auth.kind === 'none' && source !== 'cloudwatch') {
      ctx.addIssue({ code: 'custom', path: ['sources', source, 'auth'], message: 'only cloudwatch (signed by SNS) may go without credentials: use bearer or hmac' });
    }
    if (source === 'cloudwatch' && s.topicArns.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['sources', source, 'topicArns'], message: 'list the SNS topic ARNs to take messages from' });
    }
  }
});

/** Webhook receiver settings after defaults. */
export type WebhooksConfig = z.infer<typeof webhooksSchema>;

/** What the receivers need from the rest of the service. */
export interface WebhookDeps {
  readonly config: WebhooksConfig;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Wall clock, epoch milliseconds: the event time of a received webhook. */
  readonly now: () => number;
  /** Called with the reason of every refused body. */
  readonly onRejected?: (reason: string) => void;
  /** Fetches a URL (an SNS signing certificate, a subscription confirmation); only AWS URLs are ever passed. */
  readonly fetchText?: (url: string) => Promise<string>;
}

/** A refused webhook request: the status and the reason the sender is told. */
class WebhookError extends Error {
  /** Sending the same request again gets the same answer, except after a 429. */
  readonly retriable: boolean;
  constructor(readonly status: number, message: string, readonly retryAfterS?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.retriable = status === 429 || status >= 500;
  }
}

/** A token bucket: `requests` per `perMs`, refilled continuously. */
class RateLimit {
  private tokens: number;
  private lastMs: number;
  constructor(private readonly requests: number, private readonly perMs: number, nowMs: number) {
    this.tokens = requests;
    this.lastMs = nowMs;
  }

  /** Takes one token; when there is none, the seconds until there is one. */
  take(nowMs: number): number | undefined {
    this.tokens = Math.min(this.requests, this.tokens + ((nowMs - this.lastMs) * this.requests) / this.perMs);
    this.lastMs = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * this.perMs) / this.requests / 1000));
  }
}

function secretOf(text: string, env: Readonly<Record<string, string | undefined>>, where: string): string {
  if (!text.startsWith('env:')) return text;
  const v = env[text.slice(4)];
  if (v === undefined || v === '') throw new Error(`${where}: environment variable ${text.slice(4)} is not set`);
  return v;
}

/** Equal-length digests compared in constant time: the comparison tells nothing of the secret. */
function sameSecret(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/** The text SNS signs for a message (AWS: "Verifying the signatures of Amazon SNS messages"). */
export function snsStringToSign(m: SnsMessage): string {
  const keys = m.Type === 'Notification'
    ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys.map((k) => `${k}\n${String((m as Record<string, unknown>)[k] ?? '')}\n`).join('');
}

/** Only AWS's own SNS hosts, over HTTPS, are ever fetched from. */
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

function awsUrl(text: string | undefined, what: string): URL {
  let url: URL;
  try {
    url = new URL(text ?? '');
  } catch (err) {
    throw new WebhookError(400, `${what} is not a URL`, undefined, { cause: err });
  }
  if (url.protocol !== 'https:' || !SNS_HOST.test(url.hostname) || url.port !== '') {
    throw new WebhookError(400, `${what} ${JSON.stringify(cutText(text ?? '', 120))} is not an https URL of sns.<region>.amazonaws.com: refused`);
  }
  return url;
}

async function defaultFetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** Registers the receivers and, with a store, the silences API. */
export function registerWebhooks(app: FastifyInstance, deps: WebhookDeps): void {
  const fetchText = deps.fetchText ?? defaultFetchText;
  const limits = new Map<WebhookSource, RateLimit>();
  const auths = new Map<WebhookSource, (req: FastifyRequest, raw: string) => void>();
  const pinned = new Map<string, string>();
  const certCache = new Map<string, Promise<string>>();
  for (const [source, s] of Object.entries(deps.config.sources) as [WebhookSource, z.infer<typeof sourceSchema>][]) {
    limits.set(source, new RateLimit(s.rateLimit.requests, s.rateLimit.perMs, deps.now()));
    const where = `webhooks.sources.${source}.auth`;
    const a = s.auth;
    switch (a.kind) {
      case 'bearer': {
        // The token's digest once, not per request: every alert batch is checked against it.
        const expected = createHash('sha256').update(secretOf(a.token, deps.env, where)).digest();
        auths.set(source, (req) => {
          const header = req.headers.authorization ?? '';
          if (!header.startsWith('Bearer ')) throw new WebhookError(401, `missing bearer token: send Authorization: Bearer <token> (${where}.token)`);
          if (!timingSafeEqual(createHash('sha256').update(header.slice(7)).digest(), expected)) throw new WebhookError(401, 'wrong bearer token');
        });
        break;
      }
      case 'hmac': {
        const secret = secretOf(a.secret, deps.env, where);
        auths.set(source, (req, raw) => {
          const header = req.headers[a.header.toLowerCase()];
          const given = Array.isArray(header) ? header[0] : header;
          if (given === undefined || given === '') throw new WebhookError(401, `missing signature header ${a.header}`);
          const expected = a.prefix + createHmac(a.algorithm, secret).update(raw, 'utf8').digest(a.encoding);
          if (!sameSecret(given.trim(), expected)) throw new WebhookError(401, `signature in ${a.header} does not match the body (${a.algorithm} HMAC with ${where}.secret)`);
        });
        break;
      }
      case 'none':
        auths.set(source, () => undefined);
        break;
    }
    for (const [url, file] of Object.entries(s.signingCertificates)) pinned.set(url, readFileSync(file, 'utf8'));
  }

  const certificate = (url: string): Promise<string> => {
    const pin = pinned.get(url);
    if (pin !== undefined) return Promise.resolve(pin);
    const u = awsUrl(url, 'SigningCertURL');
    if (!u.pathname.endsWith('.pem')) throw new WebhookError(400, 'SigningCertURL does not name a .pem certificate');
    let hit = certCache.get(u.href);
    if (!hit) {
      hit = fetchText(u.href);
      certCache.set(u.href, hit);
      hit.catch(() => certCache.delete(u.href));
    }
    return hit;
  };

  const checkSns = async (m: SnsMessage, topics: readonly string[]): Promise<void> => {
    if (!topics.includes(m.TopicArn)) throw new WebhookError(403, `SNS topic ${m.TopicArn} is not in webhooks.sources.cloudwatch.topicArns`);
    let pem: string;
    try {
      pem = await certificate(m.SigningCertURL);
    } catch (err) {
      if (err instanceof WebhookError) throw err;
      throw new WebhookError(503, `could not get the SNS signing certificate: ${err instanceof Error ? err.message : String(err)}`, 30, { cause: err });
    }
    let ok: boolean;
    try {
      ok = verifySignature(m.SignatureVersion === '2' ? 'sha256' : 'sha1', Buffer.from(snsStringToSign(m), 'utf8'), pem, Buffer.from(m.Signature, 'base64'));
    } catch (err) {
      throw new WebhookError(400, `SNS signature could not be checked: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
    }
    if (!ok) throw new WebhookError(401, 'SNS signature does not match the message');
  };

  const receive = async (req: FastifyRequest<{ Params: { source: string } }>, reply: FastifyReply): Promise<unknown> => {
    const source = req.params.source as WebhookSource;
    if (!WEBHOOK_SOURCES.includes(source)) throw new WebhookError(404, `unknown webhook source "${cutText(req.params.source, 40)}" (expected ${WEBHOOK_SOURCES.join(', ')})`);
    const settings = deps.config.sources[source];
    const auth = auths.get(source);
    const limit = limits.get(source);
    if (!settings || !auth || !limit) throw new WebhookError(404, `webhook source ${source} is not enabled: configure webhooks.sources.${source}`);
    const wait = limit.take(deps.now());
    if (wait !== undefined) throw new WebhookError(429, `rate limit of ${settings.rateLimit.requests} requests per ${settings.rateLimit.perMs / 1000} s for ${source} reached; retry after ${wait} s`, wait);
    const raw = typeof req.body === 'string' ? req.body : '';
    auth(req, raw);
    if (raw.trim() === '') throw new WebhookError(400, 'empty body');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (err) {
      throw new WebhookError(400, `body is not JSON: ${cutText(err instanceof Error ? err.message : String(err), 160)}`, undefined, { cause: err });
    }
    if (source === 'cloudwatch') {
      const env = snsSchema.safeParse(body);
      if (env.success) {
        await checkSns(env.data, settings.topicArns);
        if (env.data.Type === 'SubscriptionConfirmation') {
          const url = awsUrl(env.data.SubscribeURL, 'SubscribeURL');
          try {
            await fetchText(url.href);
          } catch (err) {
            throw new WebhookError(502, `confirming the subscription to ${env.data.TopicArn} failed: ${err instanceof Error ? err.message : String(err)}`, 30, { cause: err });
          }
          deps.logger.info({ topic: env.data.TopicArn }, 'SNS subscription confirmed');
          return reply.code(200).send({ confirmed: env.data.TopicArn });
        }
        if (env.data.Type === 'UnsubscribeConfirmation') return reply.code(200).send({ unsubscribed: env.data.TopicArn });
      }
    }
    const read = normaliseWebhook(source, body);
    if (!read.ok) throw new WebhookError(400, read.reason);
    const event: WebhookEvent = { type: 'webhook', ts: deps.now(), source, body, alerts: read.alerts };
    await deps.bus.publish([event]);
    return reply.code(202).send({ accepted: read.alerts.length, source });
  };

  const errorHandler = (err: FastifyError, _req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (err instanceof BusFullError) return sendBusFull(reply, err);
    if (err instanceof WebhookError) {
      deps.onRejected?.(`webhook: ${err.message}`);
      if (err.retryAfterS !== undefined) void reply.header('retry-after', String(err.retryAfterS));
      return reply.code(err.status).send({ error: err.message });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: `body larger than ${deps.config.bodyLimitBytes} bytes (webhooks.bodyLimitBytes)` });
    }
    // The API's own body errors (an unsupported content type) carry their status as `status`.
    const status = err.statusCode ?? (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    deps.logger.error({ err }, 'webhook failed');
    return reply.code(503).header('retry-after', '5').send({ error: 'could not queue the alerts (logged); send again' });
  };
  app.post<{ Params: { source: string } }>('/v1/webhooks/:source', { bodyLimit: deps.config.bodyLimitBytes, errorHandler }, receive);
}

/** What the silences API needs. */
export interface SilencesDeps {
  readonly store: SilenceStore;
  readonly now: () => number;
  /** Called after every change, so that the engines see it at once. */
  readonly changed: () => void;
}

function silenceView(s: Silence): Record<string, unknown> {
  return {
    id: s.id, matchers: s.matchers.map(matcherText), startsAt: new Date(Number.isFinite(s.startsAt) ? s.startsAt : 0).toISOString(),
    endsAt: new Date(s.endsAt).toISOString(), createdBy: s.createdBy, comment: s.comment,
  };
}

/** Registers `GET/POST /v1/silences` and `DELETE /v1/silences/:id`. */
export function registerSilences(app: FastifyInstance, deps: SilencesDeps): void {
  app.get('/v1/silences', async () => ({ silences: (await deps.store.list(deps.now())).map(silenceView) }));
  app.post('/v1/silences', async (req, reply) => {
    let value: unknown;
    try {
      value = typeof req.body === 'string' ? JSON.parse(req.body) : req.body;
    } catch (err) {
      return reply.code(400).send({ error: `body is not JSON: ${cutText(err instanceof Error ? err.message : String(err), 160)}` });
    }
    const p = silenceInputSchema.safeParse(value);
    if (!p.success) {
      return reply.code(400).send({ error: `not a silence: ${p.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` });
    }
    const now = deps.now();
    if (p.data.endsAt <= now) return reply.code(400).send({ error: 'endsAt is in the past: the silence would mute nothing' });
    const id = p.data.id ?? `s-${createHash('sha256').update(`${now}|${JSON.stringify(value)}`).digest('hex').slice(0, 12)}`;
    const s: Silence = { id, matchers: p.data.matchers, startsAt: p.data.startsAt ?? now, endsAt: p.data.endsAt, createdBy: p.data.createdBy, comment: p.data.comment };
    await deps.store.put(s);
    deps.changed();
    return reply.code(201).send(silenceView(s));
  });
  app.delete<{ Params: { id: string } }>('/v1/silences/:id', async (req, reply) => {
    if (!(await deps.store.remove(req.params.id))) return reply.code(404).send({ error: `no silence ${cutText(req.params.id, 80)}` });
    deps.changed();
    return reply.code(204).send();
  });
}
