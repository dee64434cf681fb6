import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../rules/decisions.js';
import { NotifyError } from './notifier.js';
import { PagerDutyNotifier, type PagerDutyNotifierOptions } from './pagerduty.js';

const ROUTING_KEY = 'R0UTING-SECRET-KEY';

const page: Decision = {
  type: 'page',
  ts: '2026-11-22T14:03:07.412Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42'],
  signals: ['errors', 'latency'],
  severity: 'warning',
  summary: 'checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41',
  channels: ['pagerduty', 'slack'],
  release: 'r-2026-11-22',
  reasons: ['v42: error rate 4.1% vs 0.2% on v41 (p < 0.001)'],
};

const update: Decision = {
  type: 'update',
  ts: '2026-11-22T14:09:30Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42', 'v43'],
  signals: ['errors'],
  summary: 'v43 fails the same way',
  reasons: ['v43: error rate 3.9% vs 0.2% on v41'],
};

const resolve: Decision = { type: 'resolve', ts: '2026-11-22T14:31:00Z', incident: 'inc-7f3a', service: 'checkout', reason: 'v42 and v43 rolled back' };

// PagerDuty's answer to an accepted event.
const ACCEPTED = JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'inc-7f3a' });

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface StandIn {
  readonly url: string;
  readonly received: Received[];
  /** The JSON bodies received, parsed. */
  events(): Record<string, unknown>[];
}

const servers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
});

/** A stand-in Events API on 127.0.0.1 that records each request and answers it with `reply` (or never). */
async function standIn(reply: (res: ServerResponse, got: Received) => void = (res) => res.writeHead(202, { 'content-type': 'application/json' }).end(ACCEPTED)): Promise<StandIn> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const got = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(got);
      reply(res, got);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  servers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`,
    received,
    events: () => received.map((got) => JSON.parse(got.body) as Record<string, unknown>),
  };
}

function notifier(url: string, options: Partial<PagerDutyNotifierOptions> = {}): PagerDutyNotifier {
  return new PagerDutyNotifier({ routingKey: ROUTING_KEY, url, ...options });
}

async function failure(promise: Promise<void>): Promise<NotifyError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotifyError);
  return err as NotifyError;
}

describe('PagerDutyNotifier events', () => {
  it('triggers on a page, triggers again on an update and resolves, all on the incident as dedup_key', async () => {
    const api = await standIn();
    const pd = notifier(api.url, { links: { dashboardUrl: 'https://vigil.example/', apiUrl: 'https://vigil.example/api/' } });
    await pd.notify(page);
    await pd.notify(update);
    await pd.notify(resolve);

    const [triggered, updated, resolved] = api.events();
    expect(api.received.every((got) => got.headers['content-type'] === 'application/json')).toBe(true);
    expect(triggered).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'inc-7f3a',
      payload: {
        summary: page.summary,
        source: 'vigil',
        severity: 'warning',
        timestamp: '2026-11-22T14:03:07.412Z',
        component: 'checkout',
        group: 'r-2026-11-22',
        class: 'errors, latency',
        custom_details: {
          versions: ['v42'],
          signals: ['errors', 'latency'],
          reasons: ['v42: error rate 4.1% vs 0.2% on v41 (p < 0.001)'],
          channels: ['pagerduty', 'slack'],
        },
      },
      client: 'Vigil',
      client_url: 'https://vigil.example/',
      links: [
        { href: 'https://vigil.example/', text: 'Vigil dashboard' },
        { href: 'https://vigil.example/api/v1/incidents', text: 'Open incidents in the Vigil API (JSON)' },
      ],
    });
    // The update keeps the page's severity and release: a lower severity would downgrade the alert.
    expect(updated).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'inc-7f3a',
      payload: {
        summary: 'v43 fails the same way',
        severity: 'warning',
        group: 'r-2026-11-22',
        class: 'errors',
        custom_details: { versions: ['v42', 'v43'], signals: ['errors'], reasons: ['v43: error rate 3.9% vs 0.2% on v41'] },
      },
    });
    expect(resolved).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'inc-7f3a' });
  });

  it('sends nothing for verdicts and suppressions', async () => {
    const api = await standIn();
    const pd = notifier(api.url);
    await pd.notify({ type: 'verdict', ts: '2026-11-22T14:02:00Z', service: 'checkout', version: 'v42', verdict: 'FAIL', reasons: ['error rate'] });
    await pd.notify({ type: 'suppressed', ts: '2026-11-22T14:04:00Z', what: 'checkout v42 errors', why: 'duplicate' });
    expect(api.received).toHaveLength(0);
  });

  it('cuts a long summary to 1024 characters and keeps the whole text in the details, without links unless configured', async () => {
    const api = await standIn();
    const long = `checkout v42 fails: ${'e'.repeat(2000)}`;
    await notifier(api.url, { source: 'vigil-eu' }).notify({ ...page, summary: long, release: undefined });

    const [event] = api.events();
    const payload = event?.payload as { summary: string; source: string; group: string; custom_details: { summary?: string } };
    expect(payload.summary).toHaveLength(1024);
    expect(payload.summary.endsWith('…')).toBe(true);
    expect(payload.custom_details.summary).toBe(long);
    expect(payload.source).toBe('vigil-eu');
    expect(payload.group).toBe('checkout');
    expect(event).not.toHaveProperty('links');
    expect(event).not.toHaveProperty('client_url');
  });

  it('sends an update for an incident it never paged as critical', async () => {
    const api = await standIn();
    await notifier(api.url).notify(update);
    expect(api.events()[0]).toMatchObject({ event_action: 'trigger', dedup_key: 'inc-7f3a', payload: { severity: 'critical', group: 'checkout' } });
  });
});

describe('PagerDutyNotifier failures', () => {
  it('maps a 500 to a retriable error with its status', async () => {
    const api = await standIn((res) => res.writeHead(500).end('internal error'));
    const err = await failure(notifier(api.url).notify(page));
    expect(err).toMatchObject({ channel: 'pagerduty', retriable: true, status: 500 });
    expect(err.message).toContain('HTTP 500');
  });

  it('maps a 429 to retriable with the Retry-After seconds as retryAfterMs', async () => {
    const api = await standIn((res) => res.writeHead(429, { 'retry-after': '2' }).end());
    const err = await failure(notifier(api.url).notify(page));
    expect(err).toMatchObject({ retriable: true, status: 429, retryAfterMs: 2000 });
  });

  it('maps a 400 to a permanent error that quotes the start of the body', async () => {
    const invalid = JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: ['payload.severity is invalid'], padding: 'p'.repeat(1000) });
    const api = await standIn((res) => res.writeHead(400, { 'content-type': 'application/json' }).end(invalid));
    const err = await failure(notifier(api.url).notify(page));
    expect(err).toMatchObject({ retriable: false, status: 400 });
    expect(err.message).toContain('"status":"invalid event","message":"Event object is invalid"');
    expect(err.message).not.toContain('p'.repeat(300));
  });

  it('maps an API that never answers to a retriable timeout', async () => {
    const api = await standIn(() => undefined);
    const err = await failure(notifier(api.url, { timeoutMs: 200 }).notify(resolve));
    expect(err).toMatchObject({ retriable: true, status: undefined });
    expect(err.message).toContain('no answer within 200 ms');
  });

  it('maps a refused connection to a retriable error', async () => {
    const api = await standIn();
    await servers.splice(0)[0]?.();
    const err = await failure(notifier(api.url).notify(page));
    expect(err).toMatchObject({ retriable: true });
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('keeps the routing key out of the error even when the API echoes the event back', async () => {
    // The key sits across the 200-character cut too: redacting after cutting would leave its start.
    const api = await standIn((res, got) => res.writeHead(400).end(`${'x'.repeat(190)}${ROUTING_KEY} rejected: ${got.body}`));
    const err = await failure(notifier(api.url).notify(page));
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain('R0UTING');

    const echoing = await standIn((res, got) => res.writeHead(400).end(`invalid event: ${got.body}`));
    const echoed = await failure(notifier(echoing.url).notify(page));
    expect(echoed.message).toContain('"routing_key":"[redacted]"');
    expect(echoed.message).not.toContain('R0UTING');
  });
});
