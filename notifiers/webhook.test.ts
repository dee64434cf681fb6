import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../rules/decisions.js';
import { decisionId } from './delivery.js';
import { NotifyError } from './notifier.js';
import { verifyWebhookSignature, WebhookNotifier, type WebhookNotifierOptions } from './webhook.js';

const SECRET = 'W3BHOOK-SIGNING-SECRET-0123';
const TOKEN = 'Bearer T0KEN-IN-A-HEADER-4567';
// A whole second, so an HTTP date (second resolution) converts back exactly.
const NOW_MS = Date.UTC(2026, 10, 22, 14, 5, 0);
const NOW_S = NOW_MS / 1000;

const page: Decision = {
  type: 'page',
  ts: '2026-11-22T14:03:07.412Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42'],
  signals: ['errors'],
  severity: 'critical',
  summary: 'checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41',
  channels: ['webhook'],
  release: 'r-2026-11-22',
  reasons: ['v42: error rate 4.1% vs 0.2% on v41 (p < 0.001)'],
};

const verdict: Decision = { type: 'verdict', ts: '2026-11-22T14:02:00Z', service: 'checkout', version: 'v42', verdict: 'FAIL', reasons: ['error rate 4.1% vs 0.2% on v41'] };

const suppressed: Decision = { type: 'suppressed', ts: '2026-11-22T14:04:00Z', incident: 'inc-7f3a', what: 'checkout v42 errors', why: 'duplicate' };

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface StandIn {
  readonly url: string;
  readonly received: Received[];
}

const servers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
});

/** A receiver on 127.0.0.1 that records each request and answers it with `reply` (or never, if it does not end the response). */
async function standIn(reply: (res: ServerResponse, got: Received) => void = (res) => res.writeHead(204).end()): Promise<StandIn> {
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vigil`, received };
}

function notifier(url: string, options: Partial<WebhookNotifierOptions> = {}): WebhookNotifier {
  return new WebhookNotifier({ url, secret: SECRET, now: () => NOW_MS, ...options });
}

async function failure(promise: Promise<void>): Promise<NotifyError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotifyError);
  return err as NotifyError;
}

function header(got: Received | undefined, name: string): string {
  const value = got?.headers[name];
  if (typeof value !== 'string') throw new Error(`header ${name} missing`);
  return value;
}

describe('WebhookNotifier delivery', () => {
  it('posts the decision record exactly, signed over the timestamp and body', async () => {
    const receiver = await standIn();
    await notifier(receiver.url, { headers: { Authorization: TOKEN } }).notify(page);

    const [got] = receiver.received;
    expect(got?.body).toBe(JSON.stringify(page));
    expect(header(got, 'content-type')).toBe('application/json');
    expect(header(got, 'authorization')).toBe(TOKEN);
    const timestamp = header(got, 'x-vigil-timestamp');
    expect(timestamp).toBe(String(NOW_S));
    const signature = header(got, 'x-vigil-signature');
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(got?.body ?? '', timestamp, signature, SECRET, 300, NOW_S)).toBe(true);
  });

  it('gives the same decision the same delivery id and a different one another', async () => {
    const receiver = await standIn();
    const webhook = notifier(receiver.url);
    await webhook.notify(page);
    await webhook.notify(page);
    await webhook.notify({ ...page, incident: 'inc-8b01' });

    const ids = receiver.received.map((got) => header(got, 'x-vigil-delivery'));
    expect(ids[0]).toBe(decisionId(page));
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('sends no signature without a secret', async () => {
    const receiver = await standIn();
    await new WebhookNotifier({ url: receiver.url }).notify(page);
    expect(receiver.received[0]?.headers['x-vigil-signature']).toBeUndefined();
    expect(receiver.received[0]?.headers['x-vigil-timestamp']).toMatch(/^\d+$/);
  });

  it('leaves out suppressions by default and sends only the configured types when told', async () => {
    const receiver = await standIn();
    const byDefault = notifier(receiver.url);
    await byDefault.notify(suppressed);
    await byDefault.notify(verdict);
    expect(receiver.received.map((got) => JSON.parse(got.body) as Decision)).toEqual([verdict]);

    const onlySuppressed = notifier(receiver.url, { types: ['suppressed'] });
    await onlySuppressed.notify(page);
    await onlySuppressed.notify(suppressed);
    expect(receiver.received.map((got) => (JSON.parse(got.body) as Decision).type)).toEqual(['verdict', 'suppressed']);
  });

  it('refuses a signing secret too short to be one', () => {
    expect(() => new WebhookNotifier({ url: 'http://127.0.0.1:1/', secret: '' })).toThrow(/at least 16/);
  });
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify(page);
  const timestamp = String(NOW_S);

  async function signed(): Promise<string> {
    const receiver = await standIn();
    await notifier(receiver.url).notify(page);
    return header(receiver.received[0], 'x-vigil-signature');
  }

  it('rejects a wrong secret, a changed body, a stale or future timestamp and a malformed signature', async () => {
    const signature = await signed();
    const cases: { name: string; args: Parameters<typeof verifyWebhookSignature>; ok: boolean }[] = [
      { name: 'genuine', args: [body, timestamp, signature, SECRET, 300, NOW_S], ok: true },
      { name: 'genuine, at the edge of the tolerance', args: [body, timestamp, signature, SECRET, 300, NOW_S + 300], ok: true },
      { name: 'wrong secret', args: [body, timestamp, signature, 'ANOTHER-SECRET-OF-16+', 300, NOW_S], ok: false },
      { name: 'changed body', args: [body.replace('4.1%', '0.1%'), timestamp, signature, SECRET, 300, NOW_S], ok: false },
      { name: 'timestamp older than the tolerance', args: [body, timestamp, signature, SECRET, 300, NOW_S + 301], ok: false },
      { name: 'timestamp from the future', args: [body, timestamp, signature, SECRET, 300, NOW_S - 301], ok: false },
      { name: 'timestamp replaced by a fresh one', args: [body, String(NOW_S + 600), signature, SECRET, 300, NOW_S + 600], ok: false },
      { name: 'no scheme', args: [body, timestamp, signature.slice('sha256='.length), SECRET, 300, NOW_S], ok: false },
      { name: 'truncated', args: [body, timestamp, signature.slice(0, -2), SECRET, 300, NOW_S], ok: false },
      { name: 'non-numeric timestamp', args: [body, `${timestamp}.0`, signature, SECRET, 300, NOW_S], ok: false },
    ];
    for (const c of cases) expect({ name: c.name, ok: verifyWebhookSignature(...c.args) }).toEqual({ name: c.name, ok: c.ok });
  });
});

describe('WebhookNotifier failures', () => {
  it('maps a 500 to a retriable error with the status and the start of the body', async () => {
    const receiver = await standIn((res) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`database down\n${'x'.repeat(1000)}`));
    const err = await failure(notifier(receiver.url).notify(page));
    expect(err).toMatchObject({ channel: 'webhook', retriable: true, status: 500 });
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toContain('database down x');
    // "webhook: HTTP 500 Internal Server Error: " + 200 chars of body + an ellipsis.
    expect(err.message.length).toBeLessThan(260);
  });

  it('maps a 429 to retriable with the wait from a Retry-After date', async () => {
    const retryAt = new Date(NOW_MS + 5_000).toUTCString();
    const receiver = await standIn((res) => res.writeHead(429, { 'retry-after': retryAt }).end());
    const err = await failure(notifier(receiver.url).notify(page));
    expect(err).toMatchObject({ retriable: true, status: 429, retryAfterMs: 5_000 });
  });

  it('maps a 404 to a permanent error', async () => {
    const receiver = await standIn((res) => res.writeHead(404).end('no such hook'));
    const err = await failure(notifier(receiver.url).notify(page));
    expect(err).toMatchObject({ retriable: false, status: 404 });
    expect(err.message).toContain('no such hook');
  });

  it('does not follow a redirect, and says so', async () => {
    const receiver = await standIn((res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    const err = await failure(notifier(receiver.url).notify(page));
    expect(err).toMatchObject({ retriable: false, status: 302 });
    expect(err.message).toContain('configure the final URL');
    expect(receiver.received).toHaveLength(1);
  });

  it('maps a receiver that never answers to a retriable timeout', async () => {
    const receiver = await standIn(() => undefined);
    const err = await failure(notifier(receiver.url, { timeoutMs: 200 }).notify(page));
    expect(err).toMatchObject({ retriable: true, status: undefined });
    expect(err.message).toContain('no answer within 200 ms');
  });

  it('maps a receiver that sends headers and then stalls to a retriable timeout', async () => {
    const receiver = await standIn((res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('starting');
    });
    const err = await failure(notifier(receiver.url, { timeoutMs: 200 }).notify(page));
    expect(err).toMatchObject({ retriable: true, status: 503 });
    expect(err.message).toContain('no answer within 200 ms');
  });

  it('maps a refused connection to a retriable error', async () => {
    const receiver = await standIn();
    await servers.splice(0)[0]?.();
    const err = await failure(notifier(receiver.url).notify(page));
    expect(err).toMatchObject({ retriable: true, status: undefined });
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('keeps the secret and header values out of the error even when the receiver echoes them', async () => {
    const receiver = await standIn((res, got) =>
      res.writeHead(401).end(`expected secret ${SECRET}; you sent ${JSON.stringify(got.headers)}; ${'y'.repeat(150)}${SECRET}`),
    );
    const err = await failure(notifier(receiver.url, { headers: { Authorization: TOKEN } }).notify(page));
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('[redacted]');
    for (const secret of [SECRET, TOKEN]) {
      // No piece long enough to matter either: a cut after redaction cannot leave a prefix.
      expect(err.message).not.toContain(secret.slice(0, 10));
    }
  });
});
