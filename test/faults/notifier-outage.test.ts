/**
 * Slack, SMTP and PagerDuty down for minutes, then back: real local stand-ins (an HTTP
 * server answering as Slack's Web API, an SMTP server, an HTTP server answering as the
 * PagerDuty Events API) refuse with 5xx and 429 while a virtual clock is inside the outage;
 * the delivery stage runs the default retry policy on that clock, so the outage spans many
 * retries of every notification without the test waiting for it. Afterwards every
 * notification must have arrived exactly once, in order per incident.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision, PageDecision, ResolveDecision, UpdateDecision } from '../../rules/decisions.js';
import { routingSchema } from '../../rules/routing.js';
import { Delivery, MemoryNotificationLog } from '../../notifiers/delivery.js';
import type { Notifier } from '../../notifiers/notifier.js';
import { DEFAULT_RETRY, type RetryClock } from '../../notifiers/retry.js';
import { SlackNotifier } from '../../notifiers/slack.js';
import { EmailNotifier } from '../../notifiers/email.js';
import { PagerDutyNotifier } from '../../notifiers/pagerduty.js';

const OUTAGE_MS = 10 * 60_000;
const SLACK_TOKEN = 'xoxb-outage-test-token';

/** Virtual wall time: the retry waits move it; the stand-ins read it to know whether they are down. */
const clock = { nowMs: 0 };
/**
 * A channel is down until the virtual clock is past the outage and it has refused at least
 * REFUSALS_EACH attempts itself (the clock is shared, and a channel whose attempts take
 * longer in real time, as SMTP's conversation does, would otherwise meet fewer of them).
 */
const REFUSALS_EACH = 12;
const refusedBy: Record<string, number> = {};
const down = (channel: string): boolean => clock.nowMs < OUTAGE_MS || (refusedBy[channel] ?? 0) < REFUSALS_EACH;
function refused(channel: string, text: string): void {
  refusedBy[channel] = (refusedBy[channel] ?? 0) + 1;
  arrivals.push({ channel, ok: false, text });
}
const virtualClock: RetryClock = {
  // A real turn of the event loop on every wait, so that sockets make progress in between.
  sleep: (ms) => { clock.nowMs += ms; return new Promise((resolve) => setImmediate(resolve)); },
  random: () => 0.5,
};

/** One request a stand-in took (success) or refused (outage). */
interface Arrival {
  readonly channel: string;
  readonly ok: boolean;
  readonly text: string;
}
const arrivals: Arrival[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** While down, every other answer is a 429 with Retry-After and the rest a 5xx. */
function refuse(res: ServerResponse, n: number): void {
  if (n % 2 === 0) res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' }).end('{"ok":false,"error":"ratelimited"}');
  else res.writeHead(n % 3 === 0 ? 502 : 503, { 'content-type': 'text/plain' }).end('unavailable');
}

let refusals = 0;
let slackServer: Server, pdServer: Server, smtp: SMTPServer;
let slackPort = 0, pdPort = 0, smtpPort = 0;
const slackMessages = new Map<string, true>();

beforeAll(async () => {
  slackServer = createServer((req, res) => void (async () => {
    const raw = await bodyOf(req);
    const body = Object.fromEntries(new URLSearchParams(raw)) as Record<string, string>;
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    if (down('slack')) {
      refused('slack', method);
      refuse(res, ++refusals);
      return;
    }
    const reply = (payload: Record<string, unknown>): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    if (req.headers.authorization !== `Bearer ${SLACK_TOKEN}`) return reply({ ok: false, error: 'invalid_auth' });
    if (method === 'chat.postMessage') {
      const ts = `1700000000.${String(slackMessages.size + 1).padStart(6, '0')}`;
      slackMessages.set(ts, true);
      arrivals.push({ channel: 'slack', ok: true, text: `${body['thread_ts'] ?? 'root'} ${body['text'] ?? ''}` });
      return reply({ ok: true, channel: 'C0ONCALL', ts, message: { ts } });
    }
    if (method === 'chat.update') {
      if (!slackMessages.has(body['ts'] ?? '')) return reply({ ok: false, error: 'message_not_found' });
      return reply({ ok: true, channel: body['channel'], ts: body['ts'] });
    }
    return reply({ ok: false, error: 'unknown_method' });
  })());
  pdServer = createServer((req, res) => void (async () => {
    const raw = await bodyOf(req);
    if (down('pagerduty')) {
      refused('pagerduty', raw);
      refuse(res, ++refusals);
      return;
    }
    arrivals.push({ channel: 'pagerduty', ok: true, text: raw });
    res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success","message":"Event processed","dedup_key":"x"}');
  })());
  smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onRcptTo(_address, _session, callback) {
      if (!down('email')) return callback();
      refused('email', 'RCPT');
      // 421: the server closes the connection; 451: try again later.
      callback(Object.assign(new Error('service not available, try later'), { responseCode: ++refusals % 2 === 0 ? 421 : 451 }));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          arrivals.push({ channel: 'email', ok: true, text: `${mail.subject ?? ''}\n${mail.text ?? ''}` });
          callback();
        }, (err: unknown) => callback(err as Error));
      });
    },
  });
  [slackPort, pdPort] = await Promise.all([listen(slackServer), listen(pdServer)]);
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of [slackServer, pdServer]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

/** Three incidents, each a page, two updates and a resolve, interleaved as a busy day would have them. */
function decisions(): Decision[] {
  const channels = ['slack', 'email', 'pagerduty'];
  const out: Decision[] = [];
  const ids = ['inc-a1', 'inc-b2', 'inc-c3'];
  const at = (m: number): string => new Date(Date.UTC(2026, 11, 7, 12, m)).toISOString();
  ids.forEach((incident, i) => {
    const page: PageDecision = {
      type: 'page', ts: at(i), incident, service: `svc-${i}`, versions: ['v2'], signals: ['errors'], severity: 'critical',
      summary: `marker-${incident}-0 errors up`, channels,
    };
    out.push(page);
  });
  for (let step = 1; step <= 2; step++) {
    ids.forEach((incident, i) => {
      const update: UpdateDecision = {
        type: 'update', ts: at(10 * step + i), incident, service: `svc-${i}`, versions: ['v2'], signals: ['errors', 'latency'], summary: `marker-${incident}-${step} more evidence`,
      };
      out.push(update);
    });
  }
  ids.forEach((incident, i) => {
    const resolve: ResolveDecision = { type: 'resolve', ts: at(40 + i), incident, service: `svc-${i}`, reason: `marker-${incident}-3 rolled back` };
    out.push(resolve);
  });
  return out;
}

/** Per incident, the steps a channel received, in arrival order (PagerDuty's resolve carries no text: its action says it). */
function stepsByIncident(channel: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of arrivals) {
    if (a.channel !== channel || !a.ok) continue;
    if (channel === 'pagerduty') {
      const body = JSON.parse(a.text) as { event_action: string; dedup_key: string; payload?: { summary?: string } };
      const step = body.event_action === 'resolve' ? `${body.dedup_key}-3` : /marker-(inc-\w+-\d)/.exec(body.payload?.summary ?? '')?.[1] ?? '?';
      const key = body.dedup_key;
      (out[key] ??= []).push(step.replace(/^.*-(\d)$/, '$1'));
      continue;
    }
    const found = [...a.text.matchAll(/marker-(inc-\w+)-(\d)/g)];
    const last = found.at(-1);
    if (!last) continue;
    (out[last[1]!] ??= []).push(last[2]!);
  }
  return out;
}

describe('notification channels down for minutes, then back', () => {
  it('every notification reaches Slack, SMTP and PagerDuty exactly once afterwards, in order per incident', async () => {
    const channels = new Map<string, Notifier>([
      ['slack', new SlackNotifier({ token: SLACK_TOKEN, channel: '#oncall', apiUrl: `http://127.0.0.1:${slackPort}/api/`, minIntervalMs: 0, timeoutMs: 5_000 })],
      ['email', new EmailNotifier({ smtp: { host: '127.0.0.1', port: smtpPort }, from: 'vigil@example.com', to: ['oncall@example.com'], timeoutMs: 5_000 })],
      ['pagerduty', new PagerDutyNotifier({ routingKey: 'R0UTING-KEY-OUTAGE', url: `http://127.0.0.1:${pdPort}/v2/enqueue`, timeoutMs: 5_000 })],
    ]);
    const delivery = new Delivery({
      channels, routing: routingSchema.parse({ routes: [] }), fallback: ['slack'], log: new MemoryNotificationLog(),
      logger: { warn: () => {}, error: () => {} }, retry: DEFAULT_RETRY, clock: virtualClock,
    });
    const all = decisions();
    for (const d of all) delivery.send(d);
    await delivery.drain();

    expect(clock.nowMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    const stats = delivery.stats();
    expect(stats.failed).toBe(0);
    expect(delivery.failures()).toEqual([]);
    for (const channel of ['slack', 'email', 'pagerduty']) {
      expect(refusedBy[channel], channel).toBeGreaterThanOrEqual(REFUSALS_EACH);
      expect(stats.byChannel[channel]?.delivered, channel).toBe(all.length);
      const steps = stepsByIncident(channel);
      expect(Object.keys(steps), channel).toHaveLength(3);
      for (const [incident, got] of Object.entries(steps)) expect(got, `${channel} ${incident}`).toEqual(['0', '1', '2', '3']);
    }
  });
});
