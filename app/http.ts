/**
 * The HTTP API of the service: event and deployment ingest, verdicts and incidents for
 * people and release tools, and health. Bad input gets a 4xx with a reason for every bad
 * line, and the good lines of the same body are still taken.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Histogram, Registry } from 'prom-client';
import type { VigilEvent } from '../rules/events.js';
import type { ReleaseSeries } from '../rules/engine.js';
import { type BoundedBus, BusFullError, type EventBus } from '../ingest/bus.js';
import { type DecodeResult, cutText, decodeLine, decodeValue } from '../ingest/decode.js';
import type { DecisionReader } from '../state/decisions.js';
import type { Delivery } from '../notifiers/delivery.js';
import { carriesTokenInBody } from './release-tools.js';
import { refuseWhileFull, sendBusFull } from './backpressure.js';
import { DASHBOARD_PATHS, registerDashboard } from './dashboard.js';

/** What the API needs from the rest of the service. */
export interface ApiDeps {
  readonly bus: EventBus;
  readonly decisions: DecisionReader;
  /** A judged version against its comparison over time, for charts. */
  readonly series: (service: string, version: string, route?: string) => ReleaseSeries | undefined;
  /** Notification outcomes, for `GET /v1/notifications`. */
  readonly delivery: Pick<Delivery, 'stats' | 'failures'>;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  /** False once the service is shutting down: readiness fails and ingest is refused. */
  readonly accepting: () => boolean;
  /** Called with the reason of every rejected line or item. */
  readonly onRejected?: (reason: string) => void;
  /** Served on GET /metrics in the Prometheus text format. */
  readonly metrics?: Registry;
  /** Observes the time each ingest request takes. */
  readonly ingestSeconds?: Histogram<'route'>;
  /** What the service runs without right now (e.g. `redis: unreachable`); /readyz says so. */
  readonly degraded?: () => readonly string[];
  /** When set, every route but /healthz and /readyz needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The bound on events waiting for the bus: while it is reached, ingest answers 429 before reading bodies. */
  readonly queue?: Pick<BoundedBus, 'full' | 'refuse'>;
}

/** Per-line problems listed in one response; the rest are only counted. */
const ERRORS_SHOWN = 100;
const SAMPLE_CHARS = 120;

/** One rejected line or array item. */
interface LineError {
  readonly line?: number;
  readonly item?: number;
  readonly reason: string;
  readonly sample?: string;
}

/** Why a body as a whole could not be read. */
class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Builds the API (not yet listening). */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ bodyLimit: deps.bodyLimitBytes, logger: false, return503OnClosing: true });
  // Bodies arrive as text and are decoded here, line by line, so that one bad line does not
  // cost the good ones of the same request.
  app.removeAllContentTypeParsers();
  // Read as bytes, so that invalid UTF-8 is refused with the reason instead of being decoded
  // with replacement characters into events nobody sent.
  app.addContentTypeParser(['application/json', 'application/x-ndjson', 'application/ndjson', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) done(new BodyError(400, 'body is not valid UTF-8'), undefined);
    else done(null, bytes.toString('utf8'));
  });
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(new BodyError(415, `unsupported content type "${req.headers['content-type'] ?? ''}" (send application/x-ndjson, or application/json with an object or an array)`), undefined);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof BusFullError) return sendBusFull(reply, err);
    if (err instanceof BodyError) return reply.code(err.status).send({ error: err.message });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `body larger than ${deps.bodyLimitBytes} bytes; send fewer events per request` });
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(400).send({ error: err.message });
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err }, 'request failed');
    return reply.code(status).send({ error: status === 500 ? 'internal error (logged)' : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url}` }));
  const token = deps.token;
  if (token !== undefined) {
    const expected = createHash('sha256').update(token).digest();
    app.addHook('onRequest', async (req, reply) => {
      // Probes of liveness and readiness carry no credentials.
      // Flagger's webhooks cannot send headers: they carry the token in their metadata, checked by the release-tools routes.
      // The dashboard's files hold no data (the page asks for the token and sends it with every API call).
      // Monitoring systems' webhooks authenticate per source (bearer token, HMAC or SNS signature), checked by their routes.
      if (req.url === '/healthz' || req.url === '/readyz' || DASHBOARD_PATHS.has(req.url) || carriesTokenInBody(req) || req.url.startsWith('/v1/webhooks/')) return;
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      // Hashes of equal length, compared in constant time: the comparison says nothing of the token.
      if (!timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="vigil"').send({ error: 'missing or wrong bearer token (Authorization: Bearer <VIGIL_API_TOKEN>)' });
      }
    });
  }

  if (deps.queue !== undefined) refuseWhileFull(app, deps.queue);

  const ingest = (only?: 'deploy') => async (req: FastifyRequest, reply: FastifyReply) => {
    const stop = deps.ingestSeconds?.startTimer({ route: only === undefined ? '/v1/events' : '/v1/deployments' });
    // No check of `accepting` here: a request that arrived before the close began is taken in
    // full (fastify answers 503 to the ones that arrive after), so nothing half-sent is lost.
    const decoded = decodeBody(req.headers['content-type'], req.body, only);
    if (decoded.events.length > 0) {
      await deps.bus.publish(decoded.events);
    }
    const rejected = decoded.errors.length;
    if (deps.onRejected) for (const e of decoded.errors) deps.onRejected(e.reason);
    const body = {
      accepted: decoded.events.length,
      rejected,
      ...(rejected > 0 ? { errors: decoded.errors.slice(0, ERRORS_SHOWN) } : {}),
      ...(rejected > ERRORS_SHOWN ? { errorsNotShown: rejected - ERRORS_SHOWN } : {}),
    };
    stop?.();
    return reply.code(rejected > 0 ? 400 : 202).send(body);
  };
  app.post('/v1/events', ingest());
  app.post('/v1/deployments', ingest('deploy'));

  app.get('/v1/verdicts', async () => ({ verdicts: deps.decisions.verdicts() }));
  // Release tools poll this (Argo Rollouts' web provider): it answers 200 for every verdict,
  // NONE included, so that only an unhealthy Vigil makes their analysis error out.
  app.get<{ Params: { service: string; version: string } }>('/v1/verdicts/:service/:version', async (req) => {
    const { service, version } = req.params;
    const v = deps.decisions.verdict(service, version);
    if (!v) return { service, version, verdict: 'NONE', reason: 'no verdict yet: the version has not been judged (no deploy event or traffic seen)', reasons: [], score: 50 };
    return { ...v, reason: v.reasons[0] ?? '', windowEnd: v.evidence?.windowEnd ?? v.since };
  });
  app.get<{ Params: { service: string; version: string } }>('/v1/verdicts/:service/:version/history', async (req) => ({
    verdicts: deps.decisions.verdictHistory(req.params.service, req.params.version),
  }));
  app.get<{ Params: { service: string; version: string }; Querystring: { route?: string } }>('/v1/releases/:service/:version/series', async (req, reply) => {
    const s = deps.series(req.params.service, req.params.version, req.query.route);
    if (!s) return reply.code(404).send({ error: `${req.params.service} ${req.params.version} is not being judged (or its windows are gone)` });
    return s;
  });
  app.get('/v1/suppressed', async () => ({ suppressed: deps.decisions.suppressed() }));
  app.get<{ Querystring: { state?: string } }>('/v1/incidents', async (req, reply) => {
    const state = req.query.state;
    if (state !== undefined && state !== 'open' && state !== 'resolved' && state !== 'all') {
      return reply.code(400).send({ error: `state must be open, resolved or all, got "${state}"` });
    }
    return { incidents: deps.decisions.incidents(state === 'all' ? undefined : state) };
  });
  app.get('/v1/notifications', async () => ({ stats: deps.delivery.stats(), failed: deps.delivery.failures() }));
  const registry = deps.metrics;
  if (registry) {
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!deps.accepting()) return reply.code(503).send({ status: 'shutting down' });
    // Degraded is still ready: ingest and judging go on, what needs the missing part is held.
    const degraded = deps.degraded?.() ?? [];
    return degraded.length === 0 ? { status: 'ready' } : { status: 'degraded', degraded };
  });
  registerDashboard(app);
  return app;
}

/** The accepted events and the rejected lines of one request body. */
interface DecodedBody {
  readonly events: VigilEvent[];
  readonly errors: LineError[];
}

function decodeBody(contentType: string | undefined, body: unknown, only: 'deploy' | undefined): DecodedBody {
  const text = typeof body === 'string' ? body : '';
  if (text.trim() === '') throw new BodyError(400, 'empty body: send events as NDJSON (one JSON object per line) or a JSON array');
  const events: VigilEvent[] = [];
  const errors: LineError[] = [];
  const take = (r: DecodeResult, at: { line?: number; item?: number }, sample: string | undefined): void => {
    if (!r.ok) errors.push({ ...at, reason: r.reason, ...(sample === undefined ? {} : { sample: cutText(sample, SAMPLE_CHARS) }) });
    else if (only !== undefined && r.event.type !== only) errors.push({ ...at, reason: `not a ${only} event (type "${r.event.type}"); send it to /v1/events` });
    else events.push(r.event);
  };
  const json = (contentType ?? '').startsWith('application/json');
  if (json) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BodyError(400, `body is not JSON: ${cutText(err instanceof Error ? err.message : String(err), 160)}`);
    }
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item: unknown, i) => take(decodeValue(withType(item, only)), { item: i + 1 }, undefined));
    return { events, errors };
  }
  let lineNumber = 0;
  for (const raw of text.split('\n')) {
    lineNumber++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    take(only === undefined ? decodeLine(line) : decodeDeployLine(line), { line: lineNumber }, line);
  }
  return { events, errors };
}

/** Deployment bodies may leave out `"type": "deploy"`: the endpoint says what they are. */
function withType(item: unknown, only: 'deploy' | undefined): unknown {
  if (only === undefined || typeof item !== 'object' || item === null || Array.isArray(item)) return item;
  return 'type' in item ? item : { type: only, ...item };
}

function decodeDeployLine(line: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // The general decoder words the parse error the same way as for any line.
    return decodeLine(line);
  }
  return decodeValue(withType(value, 'deploy'));
}
