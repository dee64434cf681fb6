/**
 * One contract for every notifier, each against a real stand-in server on loopback,
 * through the delivery stage the service uses: failures that may pass are retried and the
 * rest are not, a receiver that never answers is a timeout (retried), no secret appears in
 * any error text, and decisions sent again (a replay, a restart sharing the log) are told
 * once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Server, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Decision, PageDecision, ResolveDecision, UpdateDecision } from '../rules/decisions.js';
import { routingSchema } from '../rules/routing.js';
import { Delivery, MemoryNotificationLog, type NotificationLog } from './delivery.js';
import type { Notifier } from './notifier.js';
import type { RetryClock } from './retry.js';
import { SlackNotifier } from './slack.js';
import { EmailNotifier } from './email.js';
import { PagerDutyNotifier } from './pagerduty.js';
import { WebhookNotifier } from './webhook.js';

/** How the stand-in answers the next attempts: one mode per attempt, then `ok`. */
type Mode = 'ok' | 'retriable' | 'permanent' | 'hang' | 'ratelimited';

/** A stand-in receiver: what it saw, and how it will answer. */
interface StandIn {
  /** One entry per successful receipt, identifying the decision (incident and kind). */
  readonly received: string[];
  script: Mode[];
  attempts: number;
  close(): Promise<void>;
}

const SECRET = 'S3CRET-do-not-leak-0123456789';
const TIMEOUT_MS = 250;

/** An HTTP stand-in that answers per the script; `ok` answers with `okBody`. */
async function httpStandIn(okStatus: number, okBody: (body: string, req: IncomingMessage) => string, identify: (body: string) => string, echoOnError = true): Promise<StandIn & { url: string }> {
  const standIn = { received: [] as string[], script: [] as Mode[], attempts: 0 };
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
      standIn.attempts++;
      const mode = standIn.script.shift() ?? 'ok';
      // Servers that echo the request in their errors are how secrets end up in logs.
      const echo = echoOnError ? ` ${body} ${req.headers.authorization ?? ''}` : '';
      if (mode === 'hang') { hanging.push(res); return; }
      if (mode === 'retriable') { res.writeHead(503, { 'content-type': 'text/plain' }).end(`unavailable${echo}`); return; }
      if (mode === 'ratelimited') { res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"ok":false,"error":"ratelimited"}'); return; }
      if (mode === 'permanent') { res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad request${echo}`); return; }
      standIn.received.push(identify(formDecoded(body)));
      res.writeHead(okStatus, { 'content-type': 'application/json' }).end(okBody(body, req));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { for (const h of hanging) h.destroy(); server.closeAllConnections(); server.close(() => r()); }),
  });
}

/** Slack's client posts forms; everything else here is JSON, which may hold a bare %. */
function formDecoded(body: string): string {
  try {
    return decodeURIComponent(body.replace(/\+/g, ' '));
  } catch {
    return body;
  }
}

/** An SMTP stand-in: 451 (retriable) or 550 (permanent) at RCPT, or silence after connect. */
async function smtpStandIn(): Promise<StandIn & { port: number }> {
  const standIn = { received: [] as string[], script: [] as Mode[], attempts: 0 };
  let hang = false;
  const server = new SMTPServer({
    authOptional: true, allowInsecureAuth: true, disabledCommands: ['STARTTLS'], logger: false,
    onAuth(auth, _session, cb) {
      cb(null, { user: auth.username });
    },
    onConnect(_session, cb) {
      if (standIn.script[0] === 'hang') { standIn.script.shift(); standIn.attempts++; hang = true; return; }
      hang = false;
      cb();
    },
    onRcptTo(_address, _session, cb) {
      const mode = standIn.script[0];
      if (mode === 'retriable' || mode === 'permanent') {
        standIn.script.shift();
        standIn.attempts++;
        const err = Object.assign(new Error(mode === 'retriable' ? `try later ${SECRET}` : `no such mailbox ${SECRET}`), { responseCode: mode === 'retriable' ? 451 : 550 });
        cb(err);
        return;
      }
      cb();
    },
    onData(stream, _session, cb) {
      let raw = '';
      stream.setEncoding('utf8').on('data', (c: string) => (raw += c)).on('end', () => {
        standIn.attempts++;
        standIn.received.push(/X-Vigil-Incident: (\S+)/i.exec(raw)?.[1] ?? 'mail');
        cb();
      });
    },
  });
  void hang;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(standIn, { port, close: () => new Promise<void>((r) => server.close(() => r())) });
}

const page: PageDecision = {
  type: 'page', ts: '2026-11-22T12:00:00.000Z', incident: 'search-api-r311-1', service: 'search-api', versions: ['v311-us'],
  signals: ['errors'], severity: 'critical', summary: 'search-api: error ratio regression in v311-us', channels: ['x'],
  release: 'r311', reasons: ['v311-us: 5xx ratio 2.4% vs 0.31% on v310 (x7.8) across all routes'],
};
const update: UpdateDecision = {
  type: 'update', ts: '2026-11-22T12:01:00.000Z', incident: page.incident, service: 'search-api', versions: ['v311-us'],
  signals: ['errors', 'latency'], summary: 'latency too', reasons: ['v311-us: median latency 80 ms vs 40 ms'],
};
const resolve: ResolveDecision = { type: 'resolve', ts: '2026-11-22T12:09:00.000Z', incident: page.incident, service: 'search-api', reason: 'v311-us rolled back' };

/** A notifier under contract, with the stand-in it talks to. */
interface Subject {
  readonly standIn: StandIn;
  readonly notifier: Notifier;
  /** How many receipts one incident (page, update, resolve) makes at the stand-in. */
  readonly receiptsPerIncident: number;
}

const noWait: RetryClock = { sleep: () => Promise.resolve(), random: () => 0 };
const quiet = { warn: () => {}, error: () => {} };

function deliveryFor(notifier: Notifier, log: NotificationLog = new MemoryNotificationLog()): Delivery {
  return new Delivery({
    channels: new Map([['x', notifier]]), routing: routingSchema.parse({}), fallback: ['x'], log, logger: quiet,
    clock: noWait, retry: { attempts: 3, baseMs: 1, maxWaitMs: 1 },
  });
}

const subjects: Record<string, () => Promise<Subject>> = {
  slack: async () => {
    let ts = 1_700_000_000;
    const standIn = await httpStandIn(200, () => JSON.stringify({ ok: true, channel: 'C1', ts: `${++ts}.000100` }), (b) => (/thread_ts/.test(b) ? 'reply' : /chat\.update/.test(b) ? 'edit' : 'post'), true);
    const notifier = new SlackNotifier({ token: SECRET, channel: '#oncall', apiUrl: `${standIn.url}/api/`, minIntervalMs: 0, timeoutMs: TIMEOUT_MS });
    // A page posts the root; an update edits it and replies; a resolve edits and replies.
    return { standIn, notifier, receiptsPerIncident: 5 };
  },
  email: async () => {
    const standIn = await smtpStandIn();
    const notifier = new EmailNotifier({ smtp: { host: '127.0.0.1', port: standIn.port, ignoreTLS: true, user: 'vigil', password: SECRET }, from: 'vigil@example.com', to: ['oncall@example.com'], timeoutMs: TIMEOUT_MS });
    return { standIn, notifier, receiptsPerIncident: 3 };
  },
  pagerduty: async () => {
    const standIn = await httpStandIn(202, () => JSON.stringify({ status: 'success', dedup_key: page.incident }), (b) => String((JSON.parse(b) as { event_action?: string }).event_action));
    const notifier = new PagerDutyNotifier({ routingKey: SECRET, url: `${standIn.url}/v2/enqueue`, timeoutMs: TIMEOUT_MS });
    return { standIn, notifier, receiptsPerIncident: 3 };
  },
  webhook: async () => {
    const standIn = await httpStandIn(200, () => '{}', (b) => String((JSON.parse(b) as { type?: string }).type));
    const notifier = new WebhookNotifier({ url: `${standIn.url}/hook?token=${SECRET}`, secret: SECRET, timeoutMs: TIMEOUT_MS });
    return { standIn, notifier, receiptsPerIncident: 3 };
  },
};

describe.each(Object.keys(subjects))('the %s notifier, under contract', (name) => {
  let subject: Subject;
  beforeAll(async () => {
    subject = await (subjects[name] as () => Promise<Subject>)();
  });
  afterAll(async () => {
    await subject.standIn.close();
  });
  const reset = (script: Mode[]): void => {
    subject.standIn.script = script;
    subject.standIn.attempts = 0;
    subject.standIn.received.length = 0;
  };

  it('retries a failure that may pass, and delivers', async () => {
    reset(['retriable']);
    const d = deliveryFor(subject.notifier);
    d.send(page);
    await d.drain();
    expect(d.stats(), JSON.stringify(d.failures())).toMatchObject({ delivered: 1, retried: 1, failed: 0 });
    expect(subject.standIn.received.length).toBeGreaterThan(0);
  });

  it('does not retry a failure that cannot pass, and keeps it, with no secret in its reason', async () => {
    reset(['permanent']);
    const d = deliveryFor(subject.notifier);
    d.send({ ...page, incident: `${page.incident}-permanent` });
    await d.drain();
    expect(subject.standIn.attempts).toBe(1);
    expect(d.stats()).toMatchObject({ delivered: 0, retried: 0, failed: 1 });
    const reason = d.failures()[0]?.reason ?? '';
    expect(reason.length).toBeGreaterThan(0);
    expect(reason).not.toContain(SECRET);
  });

  it('takes a receiver that never answers as a timeout, retried, then given up, with no secret in the reason', async () => {
    reset(['hang', 'hang', 'hang']);
    const d = deliveryFor(subject.notifier);
    const started = Date.now();
    d.send({ ...page, incident: `${page.incident}-hang` });
    await d.drain();
    expect(d.stats()).toMatchObject({ delivered: 0, retried: 2, failed: 1 });
    expect(Date.now() - started).toBeLessThan(3 * TIMEOUT_MS + 2_000);
    expect(d.failures()[0]?.reason ?? '').not.toContain(SECRET);
    // Each says it in its own words; all name the wait that ran out.
    expect(d.failures()[0]?.reason ?? '').toMatch(/timed out|within \d+ ms/i);
  });

  it('tells an incident once, however often its decisions are sent again, across a restart sharing the log', async () => {
    reset([]);
    const log = new MemoryNotificationLog();
    const incident = `${page.incident}-once`;
    const decisions: Decision[] = [{ ...page, incident }, { ...update, incident }, { ...resolve, incident }];
    const first = deliveryFor(subject.notifier, log);
    for (const dec of [...decisions, ...decisions]) first.send(dec);
    await first.drain();
    const restarted = deliveryFor(subject.notifier, log);
    for (const dec of decisions) restarted.send(dec);
    await restarted.drain();
    expect(subject.standIn.received).toHaveLength(subject.receiptsPerIncident);
    expect(first.stats().duplicates + restarted.stats().duplicates).toBe(6);
  });
});

describe('rate limits', () => {
  it('waits out a 429 for as long as Retry-After asks, through the delivery stage, then delivers (Slack)', async () => {
    const subject = await (subjects['slack'] as () => Promise<Subject>)();
    try {
      subject.standIn.script = ['ratelimited'];
      const d = new Delivery({
        channels: new Map([['x', subject.notifier]]), routing: routingSchema.parse({}), fallback: ['x'], log: new MemoryNotificationLog(),
        logger: quiet, retry: { attempts: 3, baseMs: 1, maxWaitMs: 5_000 },
      });
      const started = Date.now();
      d.send({ ...page, incident: `${page.incident}-429` });
      await d.drain();
      expect(d.stats()).toMatchObject({ delivered: 1, retried: 1 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(subject.standIn.attempts).toBe(2);
    } finally {
      await subject.standIn.close();
    }
  });
});
