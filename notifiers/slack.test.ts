import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../rules/decisions.js';
import { NotifyError } from './notifier.js';
import { MemoryThreadStore, SlackNotifier, type SlackNotifierOptions } from './slack.js';

const TOKEN = 'xoxb-test-SECRET-123';
const CHANNEL_ID = 'C0ONCALL';

/** One request as the stand-in received it. */
interface SlackCall {
  readonly method: string;
  readonly body: Record<string, unknown>;
  readonly authorization: string | undefined;
  readonly atMs: number;
}

/** What the stand-in answers the next call with instead of doing it. */
type Fault = 'rate-limited' | 'server-error' | 'hang' | { readonly error: string };

/**
 * A stand-in for Slack's Web API: `chat.postMessage` and `chat.update` answered the way
 * Slack answers them (channel names resolve to ids, updates need the id and an existing
 * message, a wrong token is `invalid_auth`), every call recorded, faults on request.
 */
class FakeSlack {
  readonly calls: SlackCall[] = [];
  private readonly faults: Fault[] = [];
  private readonly messages = new Map<string, Record<string, unknown>>();
  private seq = 0;
  private readonly server: Server = createServer((req, res) => void this.answer(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
  }

  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  reset(): void {
    this.calls.length = 0;
    this.faults.length = 0;
    this.messages.clear();
  }

  posts(): SlackCall[] {
    return this.calls.filter((c) => c.method === 'chat.postMessage');
  }

  updates(): SlackCall[] {
    return this.calls.filter((c) => c.method === 'chat.update');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = parseBody(raw, req.headers['content-type'] ?? '');
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    this.calls.push({ method, body, authorization: req.headers.authorization, atMs: performance.now() });

    const fault = this.faults.shift();
    if (fault === 'hang') return;
    if (fault === 'rate-limited') {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      return;
    }
    if (fault === 'server-error') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal server error');
      return;
    }
    const reply = (payload: Record<string, unknown>): void => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(payload));
    };
    if (fault !== undefined) return reply({ ok: false, error: fault.error });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply({ ok: false, error: 'invalid_auth' });

    const channel = String(body.channel ?? '');
    if (method === 'chat.postMessage') {
      const id = channel === '#oncall' ? CHANNEL_ID : channel;
      if (!/^C[0-9A-Z]+$/.test(id)) return reply({ ok: false, error: 'channel_not_found' });
      this.seq += 1;
      const ts = `1700000000.${String(this.seq * 100).padStart(6, '0')}`;
      const message = { type: 'message', text: body.text, blocks: body.blocks, ts, ...(body.thread_ts ? { thread_ts: body.thread_ts } : {}) };
      this.messages.set(`${id}/${ts}`, message);
      return reply({ ok: true, channel: id, ts, message });
    }
    if (method === 'chat.update') {
      // Slack's chat.update takes a channel id only, never a name.
      if (!/^C[0-9A-Z]+$/.test(channel)) return reply({ ok: false, error: 'channel_not_found' });
      const key = `${channel}/${String(body.ts)}`;
      const old = this.messages.get(key);
      if (!old) return reply({ ok: false, error: 'message_not_found' });
      const message = { ...old, text: body.text, blocks: body.blocks };
      this.messages.set(key, message);
      return reply({ ok: true, channel, ts: body.ts, text: body.text, message });
    }
    return reply({ ok: false, error: 'unknown_method' });
  }
}

// The WebClient posts form-encoded bodies with `blocks` as a JSON string; JSON bodies are
// accepted too, as Slack does.
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) out[key] = key === 'blocks' ? JSON.parse(value) : value;
  return out;
}

/** All the text a person can read in a message: its fallback and every block. */
function visibleText(call: SlackCall | undefined): string {
  if (!call) return '';
  return `${String(call.body.text)}\n${JSON.stringify(call.body.blocks)}`;
}

const page: Decision = {
  type: 'page',
  ts: '2026-11-22T14:03:07.412Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42'],
  signals: ['errors'],
  severity: 'critical',
  summary: 'checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41',
  channels: ['slack'],
  release: 'r-2026-11-22',
  reasons: ['v42: 5xx ratio 4.1% vs 0.2% on v41 (p < 0.001), 1200 requests in 5 min', 'v42: p99 latency 1.8 s vs 0.4 s'],
};

const update1: Decision = {
  type: 'update',
  ts: '2026-11-22T14:09:30Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42', 'v43'],
  signals: ['errors'],
  summary: 'v43 fails the same way',
  reasons: ['v43: 5xx ratio 3.9% vs 0.2% on v41'],
};

const update2: Decision = {
  ...update1,
  ts: '2026-11-22T14:12:00Z',
  signals: ['errors', 'latency'],
  summary: 'v43 also regresses in latency',
  reasons: ['v43: median latency 310 ms vs 120 ms on v41'],
};

const resolve: Decision = { type: 'resolve', ts: '2026-11-22T14:31:00Z', incident: 'inc-7f3a', service: 'checkout', reason: 'v42 and v43 rolled back' };

const fail: Decision = {
  type: 'verdict',
  ts: '2026-11-22T14:02:00Z',
  service: 'checkout',
  version: 'v42',
  verdict: 'FAIL',
  reasons: ['5xx ratio 4.1% vs 0.2% on v41', 'p99 latency 1.8 s vs 0.4 s'],
  score: 0.97,
  evidence: { canaryRequests: 1200, baselineRequests: 9600, comparedWith: 'v41', windowStart: '2026-11-22T13:57:00Z', windowEnd: '2026-11-22T14:02:00Z' },
  release: 'r-2026-11-22',
};

const slack = new FakeSlack();

beforeAll(() => slack.start());
afterAll(() => slack.stop());
afterEach(() => slack.reset());

function notifier(overrides: Partial<SlackNotifierOptions> = {}): SlackNotifier {
  return new SlackNotifier({ token: TOKEN, channel: '#oncall', apiUrl: slack.apiUrl, minIntervalMs: 0, ...overrides });
}

/** A loopback port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function failureOf(work: Promise<unknown>): Promise<NotifyError> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(NotifyError);
  return err as NotifyError;
}

describe('SlackNotifier: an incident is one message with a thread', () => {
  it('a page, two updates and a resolve: one root, three replies under it, the root redrawn until it says resolved', async () => {
    const n = notifier({ links: { dashboardUrl: 'https://vigil.example/dash', apiUrl: 'https://vigil.example/api/' } });
    for (const d of [page, update1, update2, resolve]) await n.notify(d);

    const posts = slack.posts();
    const roots = posts.filter((c) => c.body.thread_ts === undefined);
    expect(roots).toHaveLength(1);
    const root = roots[0];
    expect(root?.body.channel).toBe('#oncall');
    expect(root?.authorization).toBe(`Bearer ${TOKEN}`);
    const rootTs = '1700000000.000100';

    const replies = posts.filter((c) => c.body.thread_ts !== undefined);
    expect(replies.map((c) => [c.body.channel, c.body.thread_ts])).toEqual([
      [CHANNEL_ID, rootTs],
      [CHANNEL_ID, rootTs],
      [CHANNEL_ID, rootTs],
    ]);
    expect(visibleText(replies[0])).toContain('v43 fails the same way');
    expect(visibleText(replies[1])).toContain('median latency 310 ms vs 120 ms');
    expect(visibleText(replies[2])).toMatch(/Resolved.*v42 and v43 rolled back/);

    // chat.update needs the channel id Slack answered with, not the name the post used.
    const updates = slack.updates();
    expect(updates.map((c) => [c.body.channel, c.body.ts])).toEqual([
      [CHANNEL_ID, rootTs],
      [CHANNEL_ID, rootTs],
      [CHANNEL_ID, rootTs],
    ]);
    expect(visibleText(updates[1])).toContain('v43 also regresses in latency');
    // The root keeps the evidence so far, the page's and the updates'.
    expect(visibleText(updates[1])).toContain('4.1% vs 0.2%');
    expect(visibleText(updates[1])).toContain('310 ms vs 120 ms');
    const last = visibleText(updates[2]);
    expect(last).toContain('Resolved: checkout v42, v43');
    expect(last).toContain('v42 and v43 rolled back');
    expect(String(updates[2]?.body.text)).toMatch(/^Resolved: /);
  });

  it('the page names severity, service, version and release, lists each reason with its numbers, and links the dashboard and verdicts', async () => {
    await notifier({ links: { dashboardUrl: 'https://vigil.example/dash', apiUrl: 'https://vigil.example/api/' } }).notify(page);
    const [root] = slack.posts();
    const blocks = root?.body.blocks as { type: string; text?: { text: string }; elements?: { text: string }[] }[];
    const header = blocks.find((b) => b.type === 'header')?.text?.text ?? '';
    expect(header).toContain('Critical: checkout v42 (release r-2026-11-22)');
    const sections = blocks.filter((b) => b.type === 'section').map((b) => b.text?.text ?? '');
    expect(sections).toContain('checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41');
    // `<` unescaped would start a Slack link and swallow the rest of the line.
    expect(sections).toContain('• v42: 5xx ratio 4.1% vs 0.2% on v41 (p &lt; 0.001), 1200 requests in 5 min\n• v42: p99 latency 1.8 s vs 0.4 s');
    const context = blocks.filter((b) => b.type === 'context').flatMap((b) => (b.elements ?? []).map((e) => e.text)).join('\n');
    expect(context).toContain('Incident inc-7f3a');
    expect(context).toContain('<https://vigil.example/dash|Open the dashboard>');
    expect(context).toContain('<https://vigil.example/api/v1/verdicts/checkout/v42|Verdict for v42>');
    expect(String(root?.body.text)).toBe('Critical: checkout v42 (release r-2026-11-22) - checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41');
  });

  it('an update for an incident with no known root (after a restart) posts a fresh message, and the next one threads under it', async () => {
    const n = notifier({ threads: new MemoryThreadStore() });
    await n.notify(update1);
    await n.notify(update2);
    const posts = slack.posts();
    expect(posts).toHaveLength(2);
    expect(posts[0]?.body.thread_ts).toBeUndefined();
    expect(visibleText(posts[0])).toContain('v43 fails the same way');
    expect(visibleText(posts[0])).toContain('first message of this incident is not known here');
    expect(posts[1]?.body.thread_ts).toBe(slack.updates()[0]?.body.ts);
    expect(slack.updates()).toHaveLength(1);
  });

  it('a resolve with no known root posts a fresh resolved message', async () => {
    await notifier().notify(resolve);
    expect(slack.updates()).toHaveLength(0);
    const posts = slack.posts();
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body.thread_ts).toBeUndefined();
    expect(String(posts[0]?.body.text)).toBe('Resolved: checkout - v42 and v43 rolled back');
  });

  it('a root deleted in Slack: the update posts a fresh root instead of failing', async () => {
    const n = notifier();
    await n.notify(page);
    slack.failNext({ error: 'message_not_found' });
    await n.notify(update1);
    const roots = slack.posts().filter((c) => c.body.thread_ts === undefined);
    expect(roots).toHaveLength(2);
    expect(visibleText(roots[1])).toContain('v43 fails the same way');
  });

  it('a page told twice (retried after it was posted) redraws its message instead of opening a second one', async () => {
    const n = notifier();
    await n.notify(page);
    await n.notify(page);
    expect(slack.posts()).toHaveLength(1);
    expect(slack.updates()).toHaveLength(1);
  });
});

describe('SlackNotifier: verdicts and suppressions', () => {
  it('a FAIL verdict is one message: the verdict in a line, each reason, the request counts', async () => {
    await notifier({ links: { apiUrl: 'https://vigil.example/api' } }).notify(fail);
    const posts = slack.posts();
    expect(posts).toHaveLength(1);
    const seen = visibleText(posts[0]);
    expect(seen).toContain('checkout v42 failed its canary check against v41 (release r-2026-11-22)');
    expect(seen).toContain('• 5xx ratio 4.1% vs 0.2% on v41');
    expect(seen).toContain('• p99 latency 1.8 s vs 0.4 s');
    expect(seen).toContain('1,200 requests on v42 vs 9,600 on v41');
    expect(seen).toContain('https://vigil.example/api/v1/verdicts/checkout/v42');
  });

  it('PASS and NONE verdicts and suppressions send nothing', async () => {
    const n = notifier();
    await n.notify({ ...fail, verdict: 'PASS', reasons: ['no signal differs from v41'] });
    await n.notify({ ...fail, verdict: 'NONE', reasons: ['too few requests: 12 of 200'] });
    await n.notify({ type: 'suppressed', ts: '2026-11-22T14:04:00Z', incident: 'inc-7f3a', what: 'checkout v42 errors', why: 'duplicate' });
    expect(slack.calls).toHaveLength(0);
  });
});

describe('SlackNotifier: failures', () => {
  it('429: retriable, with the wait Slack asked for, and the client does not retry by itself', async () => {
    slack.failNext('rate-limited');
    const err = await failureOf(notifier().notify(page));
    expect(err.retriable).toBe(true);
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(1000);
    expect(slack.calls).toHaveLength(1);
  });

  it('500: retriable, one call', async () => {
    slack.failNext('server-error');
    const err = await failureOf(notifier().notify(page));
    expect(err.retriable).toBe(true);
    expect(err.status).toBe(500);
    expect(slack.calls).toHaveLength(1);
  });

  it.each(['channel_not_found', 'not_in_channel'])('Slack refusing with %s: not retriable, the code named', async (code) => {
    slack.failNext({ error: code });
    const err = await failureOf(notifier().notify(page));
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(code);
    expect(err.message).toMatch(/^slack: chat\.postMessage/);
  });

  it('a wrong token: invalid_auth, not retriable, and neither token in any error text', async () => {
    const wrong = 'xoxb-test-WRONG-456';
    const err = await failureOf(notifier({ token: wrong }).notify(page));
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('invalid_auth');
    expect(slack.calls[0]?.authorization).toBe(`Bearer ${wrong}`);
    expect(inspect(err, { depth: 10 })).not.toContain(wrong);
  });

  it('no failure, whatever its kind, shows the token in its message or its causes', async () => {
    const errors: NotifyError[] = [];
    for (const fault of ['rate-limited', 'server-error', { error: 'channel_not_found' }] as const) {
      slack.failNext(fault);
      errors.push(await failureOf(notifier().notify(page)));
    }
    errors.push(await failureOf(notifier({ apiUrl: `http://127.0.0.1:${await closedPort()}/api/` }).notify(page)));
    for (const err of errors) {
      expect(err.message).not.toContain(TOKEN);
      expect(inspect(err, { depth: 10 })).not.toContain(TOKEN);
    }
  });

  it('no answer within timeoutMs: retriable, says it timed out', async () => {
    slack.failNext('hang');
    const err = await failureOf(notifier({ timeoutMs: 200 }).notify(page));
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('timed out after 200 ms');
  });

  it('nothing listening: retriable, with the connection error', async () => {
    const err = await failureOf(notifier({ apiUrl: `http://127.0.0.1:${await closedPort()}/api/` }).notify(page));
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('a failed redraw of the root fails the update before its thread reply is posted', async () => {
    const n = notifier();
    await n.notify(page);
    slack.failNext('server-error');
    const err = await failureOf(n.notify(update1));
    expect(err.retriable).toBe(true);
    expect(slack.posts()).toHaveLength(1);
    // The retry posts the reply once.
    await n.notify(update1);
    expect(slack.posts().filter((c) => c.body.thread_ts !== undefined)).toHaveLength(1);
  });
});

describe('SlackNotifier: pacing', () => {
  it('two pages in a row to one channel go out at least minIntervalMs apart', async () => {
    const n = notifier({ minIntervalMs: 200 });
    await n.notify(page);
    await n.notify({ ...page, incident: 'inc-0b1c', service: 'cart' });
    const [first, second] = slack.posts();
    expect(first && second).toBeTruthy();
    // Loose: timers may fire a little early and the two requests travel differently.
    expect((second?.atMs ?? 0) - (first?.atMs ?? 0)).toBeGreaterThanOrEqual(150);
  });
});

describe('MemoryThreadStore', () => {
  it('forgets the oldest incident past its bound and counts it', async () => {
    const store = new MemoryThreadStore(2);
    await store.set('a', { channel: 'C1', ts: '1.1' });
    await store.set('b', { channel: 'C1', ts: '1.2' });
    await store.set('c', { channel: 'C1', ts: '1.3' });
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('c')).toEqual({ channel: 'C1', ts: '1.3' });
    expect(store.forgottenIncidents).toBe(1);
  });
});
