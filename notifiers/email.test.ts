import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmailNotifier } from './email.js';
import type { EmailNotifierOptions } from './email.js';
import { NotifyError } from './notifier.js';
import type { PageDecision, ResolveDecision, UpdateDecision, VerdictDecision } from '../rules/decisions.js';

const INCIDENT = 'search-api-r311-20261122T140307Z';

const page: PageDecision = {
  type: 'page',
  ts: '2026-11-22T14:03:07.412Z',
  incident: INCIDENT,
  service: 'search-api',
  versions: ['v311-us'],
  signals: ['errors'],
  severity: 'warning',
  summary: 'search-api: error ratio regression in v311-us; 5xx on 4.1% of requests against 0.2% on v310',
  channels: ['email'],
  release: 'r311',
  reasons: ['v311-us: error ratio 4.1% vs 0.2% on v310 over 12400 requests'],
};

const update: UpdateDecision = {
  type: 'update',
  ts: '2026-11-22T14:09:30.000Z',
  incident: INCIDENT,
  service: 'search-api',
  versions: ['v311-us', 'v311-eu'],
  signals: ['errors', 'latency'],
  summary: 'v311-eu fails the same way',
  reasons: ['v311-eu: error ratio 3.9% vs 0.2% on v310', 'v311-eu: p99 latency 1.8 s vs 0.4 s'],
};

const resolve: ResolveDecision = {
  type: 'resolve',
  ts: '2026-11-22T14:31:00.000Z',
  incident: INCIDENT,
  service: 'search-api',
  reason: 'rolled back v311-us, v311-eu',
};

const fail: VerdictDecision = {
  type: 'verdict',
  ts: '2026-11-22T14:05:00.000Z',
  service: 'search-api',
  version: 'v311-us',
  verdict: 'FAIL',
  reasons: ['error ratio 4.1% vs 0.2% on v310'],
  score: 0.93,
  evidence: { canaryRequests: 12400, baselineRequests: 98000, comparedWith: 'v310', windowStart: '2026-11-22T13:55:00.000Z', windowEnd: '2026-11-22T14:05:00.000Z' },
  release: 'r311',
};

const RECIPIENTS = ['oncall@example.com', 'sre-lead@example.com'];
const PASSWORD = 'pw-SECRET-42';

interface Received {
  readonly rcptTo: readonly string[];
  readonly mail: ParsedMail;
}

interface TestSmtp {
  readonly port: number;
  readonly received: Received[];
  close(): Promise<void>;
}

/** A real SMTP server on a free loopback port that keeps every message it accepts. */
async function startSmtp(options: SMTPServerOptions = {}): Promise<TestSmtp> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    ...options,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then(
          (mail) => {
            received.push({ rcptTo: session.envelope.rcptTo.map((a) => a.address), mail });
            callback();
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function notifier(port: number, overrides: Partial<EmailNotifierOptions> = {}): EmailNotifier {
  return new EmailNotifier({
    smtp: { host: '127.0.0.1', port },
    from: 'Vigil <vigil@example.com>',
    to: RECIPIENTS,
    links: { dashboardUrl: 'https://vigil.example.com/', apiUrl: 'https://vigil.example.com/api/' },
    timeoutMs: 2_000,
    ...overrides,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NotifyError) return err;
    throw err;
  }
  throw new Error('expected the notify to fail');
}

function refsOf(mail: ParsedMail): string[] {
  return mail.references === undefined ? [] : [mail.references].flat();
}

describe('EmailNotifier against a real SMTP server', () => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await smtp.close();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  it('threads a page, its update and its resolution for the route recipients', async () => {
    const email = notifier(smtp.port);
    await email.notify(page);
    await email.notify(update);
    await email.notify(resolve);

    expect(smtp.received).toHaveLength(3);
    const [p, u, r] = smtp.received.map((m) => m.mail);
    for (const m of smtp.received) expect([...m.rcptTo].sort()).toEqual([...RECIPIENTS].sort());
    expect(p?.to && !Array.isArray(p.to) ? p.to.value.map((a) => a.address) : []).toEqual(RECIPIENTS);

    expect(p?.subject).toBe('[Vigil] PAGE warning: search-api v311-us (release r311) — error ratio regression');
    expect(u?.subject).toBe('Re: [Vigil] PAGE: search-api v311-us, v311-eu — error ratio and latency regression');
    expect(r?.subject).toBe('Re: [Vigil] PAGE: search-api — resolved');

    expect(p?.messageId).toBe(`<${INCIDENT}@vigil.local>`);
    for (const reply of [u, r]) {
      expect(reply?.inReplyTo).toBe(p?.messageId);
      expect(reply ? refsOf(reply) : []).toContain(p?.messageId);
    }
    expect(u?.messageId).toBe(`<${INCIDENT}.update.20261122T140930000Z@vigil.local>`);
    expect(r?.messageId).toBe(`<${INCIDENT}.resolve@vigil.local>`);
    expect(new Set([p?.messageId, u?.messageId, r?.messageId]).size).toBe(3);
  });

  it('puts the service, versions, numbers, incident and links in both the HTML and the text body', async () => {
    await notifier(smtp.port).notify(page);
    const mail = smtp.received[0]?.mail;
    const html = typeof mail?.html === 'string' ? mail.html : '';
    const text = mail?.text ?? '';
    for (const body of [html, text]) {
      expect(body).toContain('search-api');
      expect(body).toContain('v311-us');
      expect(body).toContain('r311');
      expect(body).toContain('4.1% vs 0.2% on v310 over 12400 requests');
      expect(body).toContain(INCIDENT);
      expect(body).toContain('https://vigil.example.com/api/v1/incidents?state=all');
    }
    expect(html).toMatch(/<li>v311-us: error ratio 4\.1% vs 0\.2%/);
  });

  it('gives the update both new versions and its numbers in both bodies', async () => {
    await notifier(smtp.port).notify(update);
    const mail = smtp.received[0]?.mail;
    for (const body of [typeof mail?.html === 'string' ? mail.html : '', mail?.text ?? '']) {
      expect(body).toContain('v311-us, v311-eu');
      expect(body).toContain('3.9% vs 0.2% on v310');
      expect(body).toContain('p99 latency 1.8 s vs 0.4 s');
    }
  });

  it('sends the same decision twice with the same Message-ID', async () => {
    const email = notifier(smtp.port);
    await email.notify(update);
    await notifier(smtp.port).notify(update);
    const [first, second] = smtp.received.map((m) => m.mail.messageId);
    expect(first).toBeDefined();
    expect(second).toBe(first);
  });

  it('escapes markup from events in the HTML body and keeps newlines out of the subject', async () => {
    const hostile: PageDecision = {
      ...page,
      service: 'search-api\r\nBcc: attacker@evil.example',
      reasons: ['v311-us: <script>alert(1)</script> & "quotes"'],
    };
    await notifier(smtp.port).notify(hostile);
    const [got] = smtp.received;
    const html = typeof got?.mail.html === 'string' ? got.mail.html : '';
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;quotes&#34;');
    expect(got?.mail.text).toContain('<script>alert(1)</script>');
    expect(got?.mail.subject).toBe('[Vigil] PAGE warning: search-api Bcc: attacker@evil.example v311-us (release r311) — error ratio regression');
    expect(got?.mail.bcc).toBeUndefined();
    expect(got?.rcptTo).toEqual(RECIPIENTS);
  });

  it('mails a FAIL verdict with its evidence and stays quiet on PASS, NONE and suppressions', async () => {
    const email = notifier(smtp.port);
    await email.notify({ ...fail, verdict: 'PASS' });
    await email.notify({ ...fail, verdict: 'NONE' });
    await email.notify({ type: 'suppressed', ts: fail.ts, service: 'search-api', what: 'page for v311-us', why: 'silenced' });
    expect(smtp.received).toHaveLength(0);

    await email.notify(fail);
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]?.mail;
    expect(mail?.subject).toBe('[Vigil] FAIL search-api v311-us');
    for (const body of [typeof mail?.html === 'string' ? mail.html : '', mail?.text ?? '']) {
      expect(body).toContain('4.1% vs 0.2% on v310');
      expect(body).toContain('12,400');
      expect(body).toContain('98,000');
      expect(body).toContain('https://vigil.example.com/api/v1/verdicts/search-api/v311-us');
    }
  });
});

describe('EmailNotifier failures', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  async function server(options: SMTPServerOptions): Promise<TestSmtp> {
    const s = await startSmtp(options);
    closers.push(() => s.close());
    return s;
  }
  function refuseRecipients(code: number, only?: string): Pick<SMTPServerOptions, 'onRcptTo'> {
    return {
      onRcptTo(address, _session, callback) {
        if (only !== undefined && address.address !== only) return callback();
        callback(Object.assign(new Error(`mailbox ${address.address} unavailable`), { responseCode: code }));
      },
    };
  }

  it('reports a 550 for the recipient as final, with the SMTP code', async () => {
    const s = await server(refuseRecipients(550));
    const err = await failureOf(notifier(s.port).notify(page));
    expect(err.retriable).toBe(false);
    expect(err.status).toBe(550);
    expect(err.channel).toBe('email');
    expect(err.message).toContain(INCIDENT);
    expect(s.received).toHaveLength(0);
  });

  it('reports a 451 as worth another try', async () => {
    const s = await server(refuseRecipients(451));
    const err = await failureOf(notifier(s.port).notify(page));
    expect(err.retriable).toBe(true);
    expect(err.status).toBe(451);
  });

  it('fails a page one recipient was refused, naming that recipient, while the other gets it', async () => {
    const s = await server(refuseRecipients(550, 'sre-lead@example.com'));
    const err = await failureOf(notifier(s.port).notify(page));
    expect(err.retriable).toBe(false);
    expect(err.status).toBe(550);
    expect(err.message).toContain('sre-lead@example.com');
    expect(s.received.map((m) => m.rcptTo)).toEqual([['oncall@example.com']]);
  });

  it('reports nothing listening as worth another try', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const err = await failureOf(notifier(port).notify(page));
    expect(err.retriable).toBe(true);
    expect(err.status).toBeUndefined();
    expect(err.message).toContain('ECONNREFUSED');
  });

  // The per-test limit is far below the 10 s default timeout: the test fails unless the
  // configured timeoutMs is what ends the wait.
  it('gives up on a server that never greets after timeoutMs, as worth another try', { timeout: 2_500 }, async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const { port } = silent.address() as AddressInfo;

    const err = await failureOf(new EmailNotifier({ smtp: { host: '127.0.0.1', port }, from: 'vigil@example.com', to: ['oncall@example.com'], timeoutMs: 300 }).notify(page));
    expect(err.retriable).toBe(true);
    // Which of the greeting and socket timers fires first is a race; either is the same silence.
    expect(err.message).toMatch(/(no greeting within|sent nothing for) 300 ms/);
    expect(err.cause).toMatchObject({ code: 'ETIMEDOUT' });
    expect(sockets.size).toBe(1);
  });

  it('never puts the password in an error, even when the server quotes it back', async () => {
    const s = await server({
      authOptional: false,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        callback(new Error(`credentials ${auth.username}/${auth.password ?? ''} not accepted`));
      },
    });
    const email = notifier(s.port, { smtp: { host: '127.0.0.1', port: s.port, user: 'vigil', password: PASSWORD } });
    const err = await failureOf(email.notify(page));
    expect(err.retriable).toBe(false);
    expect(err.status).toBe(535);
    expect(err.message).toContain('[redacted]');
    const cause = err.cause instanceof Error ? err.cause : undefined;
    for (const textOfError of [err.message, String(err), err.stack ?? '', cause?.message ?? '', cause?.stack ?? '']) {
      expect(textOfError).not.toContain(PASSWORD);
    }
    expect(s.received).toHaveLength(0);
  });
});
