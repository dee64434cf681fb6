/**
 * Abuse of the service as a user runs it (`vigil run` in a child process): listening beyond
 * loopback needs a token, the API refuses requests without it, invalid UTF-8 is refused with
 * the reason, and no secret (API token, Slack token, PagerDuty routing key, SMTP password)
 * reaches the logs, the metrics or an API response, even when the channels fail and a
 * stand-in echoes what it was sent back in its error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';

const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist', 'app', 'cli.js');
const SECRETS = {
  VIGIL_API_TOKEN: 'api-token-0123456789abcdef',
  VIGIL_SLACK_TOKEN: 'xoxb-slack-secret-9876543210',
  VIGIL_PAGERDUTY_ROUTING_KEY: 'pd-routing-secret-55555',
  VIGIL_SMTP_PASSWORD: 'smtp-password-secret-777',
};

let echo: Server, smtp: SMTPServer;
let echoPort = 0, smtpPort = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Answers every request with a 500 that echoes the headers and the body back: a careless
  // notifier would put that into its error, and from there into logs and the API.
  echo = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`failed: ${JSON.stringify(req.headers)} ${Buffer.concat(chunks).toString('utf8')}`);
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as AddressInfo).port;
  smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'], allowInsecureAuth: true, logger: false,
    onAuth(auth, _session, callback) {
      callback(Object.assign(new Error(`bad credentials ${auth.username ?? ''}:${auth.password ?? ''}`), { responseCode: 535 }));
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  echo.closeAllConnections();
  await new Promise<void>((r) => echo.close(() => r()));
  await new Promise<void>((r) => smtp.close(() => r()));
});

interface Run {
  readonly child: ChildProcess;
  readonly url: string;
  readonly out: () => string;
  readonly err: () => string;
}

async function run(config: string, env: Record<string, string>): Promise<Run | { code: number | null; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-security-'));
  await writeFile(join(dir, 'vigil.yaml'), config);
  const child = spawn(process.execPath, [CLI, 'run', '--config', join(dir, 'vigil.yaml')], {
    env: { PATH: process.env['PATH'] ?? '', VIGIL_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '', err = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
  let code: number | null | undefined;
  child.once('close', (c) => { code = c; });
  const deadline = Date.now() + 30_000;
  while (!/listening on http/.test(out) && code === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (code !== undefined) return { code, err };
  const port = /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1];
  return { child, url: `http://127.0.0.1:${port}`, out: () => out, err: () => err };
}

const BASE = ['server:', '  host: 0.0.0.0', 'log:', '  level: debug'];

describe('the API beyond loopback', () => {
  it('refuses to start without a token, saying which variable to set', async () => {
    const r = await run(BASE.join('\n'), {});
    expect('code' in r && r.code).not.toBe(0);
    expect('code' in r ? r.err : '').toMatch(/VIGIL_API_TOKEN/);
  });

  it('with a token: requests without it or with a wrong one get 401, the probes and the right token pass', async () => {
    const r = await run(BASE.join('\n'), { VIGIL_API_TOKEN: SECRETS.VIGIL_API_TOKEN });
    if ('code' in r) throw new Error(`did not start: ${r.err}`);
    for (const path of ['/v1/verdicts', '/v1/incidents', '/metrics', '/v1/notifications']) {
      expect((await fetch(`${r.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${r.url}${path}`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, path).toBe(401);
      expect((await fetch(`${r.url}${path}`, { headers: { authorization: `Bearer ${SECRETS.VIGIL_API_TOKEN}` } })).status, path).toBe(200);
    }
    const post = await fetch(`${r.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"type":"request","ts":1796662273894,"service":"shop"}' });
    expect(post.status).toBe(401);
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${r.url}/healthz`)).status).toBe(200);
    r.child.kill('SIGTERM');
  });
});

describe('secrets', () => {
  it('never reach the logs, the metrics or an API response, even from failing channels that echo them', async () => {
    const config = [
      'log:', '  level: debug',
      'incidents:', '  channels: [slack, pagerduty, mail]',
      'notify:',
      '  retry: { attempts: 2, baseMs: 10, maxWaitMs: 50, outageMs: 0 }',
      '  channels:',
      `    slack: { type: slack, channel: "#oncall", tokenEnv: VIGIL_SLACK_TOKEN, apiUrl: "http://127.0.0.1:${echoPort}/api/", minIntervalMs: 0 }`,
      `    pagerduty: { type: pagerduty, routingKeyEnv: VIGIL_PAGERDUTY_ROUTING_KEY, url: "http://127.0.0.1:${echoPort}/v2/enqueue" }`,
      `    mail: { type: email, from: vigil@example.com, to: [oncall@example.com], smtp: { host: 127.0.0.1, port: ${smtpPort}, user: vigil, passwordEnv: VIGIL_SMTP_PASSWORD } }`,
    ].join('\n');
    const r = await run(config, SECRETS);
    if ('code' in r) throw new Error(`did not start: ${r.err}`);
    const auth = { authorization: `Bearer ${SECRETS.VIGIL_API_TOKEN}` };
    // A regression, so that pages and a FAIL verdict go to the failing channels.
    const lines = renderScenario(catalogEntry('error-regression')!, 1).ndjson.split('\n').filter((l) => l !== '');
    for (let i = 0; i < lines.length; i += 5_000) {
      const res = await fetch(`${r.url}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 5_000).join('\n') });
      expect(res.status).toBe(202);
    }
    // Invalid UTF-8 is refused with the reason, not decoded into events nobody sent.
    const bad = await fetch(`${r.url}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('body is not valid UTF-8');
    const deadline = Date.now() + 60_000;
    let notifications: string;
    for (;;) {
      notifications = await (await fetch(`${r.url}/v1/notifications`, { headers: auth })).text();
      const failed = (JSON.parse(notifications) as { failed: { channel: string }[] }).failed;
      if (['slack', 'pagerduty', 'mail'].every((c) => failed.some((f) => f.channel === c))) break;
      if (Date.now() > deadline) throw new Error(`the channels did not all fail: ${notifications}`);
      await new Promise((res) => setTimeout(res, 300));
    }
    const responses = [notifications];
    for (const path of ['/metrics', '/v1/incidents?state=all', '/v1/verdicts', '/v1/suppressed', '/readyz', '/v1/verdicts/checkout/v42']) {
      responses.push(await (await fetch(`${r.url}${path}`, { headers: auth })).text());
    }
    r.child.kill('SIGTERM');
    await new Promise((res) => r.child.once('close', res));
    const everything = [...responses, r.out(), r.err()].join('\n');
    expect(everything).toContain('notification given up');
    for (const [name, secret] of Object.entries(SECRETS)) expect(everything.includes(secret), `${name} leaked`).toBe(false);
  }, 120_000);
});
