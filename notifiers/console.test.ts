import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleNotifier, formatDecision } from './console.js';
import type { Decision } from '../rules/decisions.js';

const ESC = '\x1b[';

const page: Decision = {
  type: 'page',
  ts: '2026-11-22T14:03:07.412Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  versions: ['v42'],
  signals: ['errors'],
  severity: 'critical',
  summary: 'checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41',
  channels: ['console', 'slack'],
  release: 'r-2026-11-22',
  reasons: ['v42: error rate 4.1% vs 0.2% on v41 (p < 0.001)', 'v42: p99 latency 1.8 s vs 0.4 s'],
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

const resolve: Decision = {
  type: 'resolve',
  ts: '2026-11-22T14:31:00Z',
  incident: 'inc-7f3a',
  service: 'checkout',
  reason: 'v42 and v43 rolled back',
};

const fail: Decision = {
  type: 'verdict',
  ts: '2026-11-22T14:02:00Z',
  service: 'checkout',
  version: 'v42',
  verdict: 'FAIL',
  reasons: ['error rate 4.1% vs 0.2% on v41', 'p99 latency 1.8 s vs 0.4 s'],
  score: 0.97,
  evidence: { canaryRequests: 1200, baselineRequests: 9600, comparedWith: 'v41', windowStart: '2026-11-22T13:57:00Z', windowEnd: '2026-11-22T14:02:00Z' },
  release: 'r-2026-11-22',
};

const pass: Decision = { type: 'verdict', ts: '2026-11-22T15:00:00Z', service: 'search', version: 'v8', verdict: 'PASS', reasons: ['no signal differs from v7'] };

const none: Decision = { type: 'verdict', ts: '2026-11-22T15:00:00Z', service: 'search', version: 'v9', verdict: 'NONE', reasons: ['too few requests: 12 of 200'] };

const suppressed: Decision = { type: 'suppressed', ts: '2026-11-22T14:04:00Z', incident: 'inc-7f3a', what: 'checkout v42 errors', why: 'duplicate', detail: 'already paged' };

describe('formatDecision', () => {
  const cases: { name: string; decision: Decision; lines: RegExp[]; colour: string | undefined }[] = [
    {
      name: 'a critical page: time, severity, service, version, release, incident, summary, each reason, channels',
      decision: page,
      lines: [
        /^14:03:07 {2}PAGE {2}critical {2}checkout {2}v42 \(release r-2026-11-22\) {2}incident inc-7f3a$/,
        /^ {2}checkout v42 returns 5xx on 4\.1% of requests against 0\.2% on v41$/,
        /^ {2}- v42: error rate 4\.1% vs 0\.2% on v41 \(p < 0\.001\)$/,
        /^ {2}- v42: p99 latency 1\.8 s vs 0\.4 s$/,
        /^ {2}channels: console, slack$/,
      ],
      colour: `${ESC}31m`,
    },
    {
      name: 'a warning page',
      decision: { ...page, severity: 'warning' },
      lines: [/^14:03:07 {2}PAGE {2}warning {2}checkout/],
      colour: `${ESC}33m`,
    },
    {
      name: 'an update: incident, every version now involved, the news',
      decision: update,
      lines: [/^14:09:30 {2}UPDATE {2}incident inc-7f3a {2}checkout {2}v42, v43$/, /^ {2}v43 fails the same way$/, /^ {2}- v43: error rate 3\.9% vs 0\.2% on v41$/],
      colour: undefined,
    },
    {
      name: 'a resolve: incident, service and why',
      decision: resolve,
      lines: [/^14:31:00 {2}RESOLVED {2}incident inc-7f3a \(checkout\): v42 and v43 rolled back$/],
      colour: `${ESC}32m`,
    },
    {
      name: 'a failing verdict: service, version, release, baseline, score, first reason and how many more',
      decision: fail,
      lines: [/^14:02:00 {2}VERDICT FAIL {2}checkout {2}v42 \(release r-2026-11-22\) {2}vs v41 {2}score 0\.97$/, /^ {2}error rate 4\.1% vs 0\.2% on v41 \(\+1 more\)$/],
      colour: `${ESC}31m`,
    },
    {
      name: 'a passing verdict',
      decision: pass,
      lines: [/^15:00:00 {2}VERDICT PASS {2}search {2}v8$/, /^ {2}no signal differs from v7$/],
      colour: `${ESC}32m`,
    },
    {
      name: 'a NONE verdict still prints',
      decision: none,
      lines: [/^15:00:00 {2}VERDICT NONE {2}search {2}v9$/, /^ {2}too few requests: 12 of 200$/],
      colour: undefined,
    },
  ];

  it.each(cases)('$name', ({ decision, lines }) => {
    const printed = formatDecision(decision, { color: false }).split('\n');
    for (const line of lines) expect(printed).toContainEqual(expect.stringMatching(line));
    expect(printed.join('\n')).not.toContain('\x1b');
  });

  it.each(cases)('ends the block with one blank line: $name', ({ decision }) => {
    const block = formatDecision(decision, { color: false });
    expect(block).toMatch(/[^\n]\n\n$/);
  });

  it.each(cases.filter((c) => c.colour !== undefined))('colours the header when asked: $name', ({ decision, colour, lines }) => {
    const [header = ''] = formatDecision(decision, { color: true }).split('\n');
    expect(header.startsWith(colour ?? '')).toBe(true);
    expect(header.endsWith(`${ESC}0m`)).toBe(true);
    // Colour wraps the text; it must not replace it.
    const plain = header.replace(/\p{Cc}\[\d+m/gu, '');
    expect(plain).toMatch(lines[0] ?? /./);
  });

  it('hides suppressions unless asked, then prints one line with why and what', () => {
    expect(formatDecision(suppressed, { color: false })).toBe('');
    expect(formatDecision(suppressed, { color: false, showSuppressed: false })).toBe('');
    expect(formatDecision(suppressed, { color: false, showSuppressed: true })).toBe('14:04:00  suppressed (duplicate): checkout v42 errors [already paged]\n\n');
  });

  it('wraps a long reason under its bullet instead of printing one very long line', () => {
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const printed = formatDecision({ ...page, reasons: [long] }, { color: false }).split('\n');
    const bullet = printed.findIndex((line) => line.startsWith('  - word0'));
    expect(bullet).toBeGreaterThan(0);
    expect(printed[bullet + 1]).toMatch(/^ {4}word\d+/);
    for (const line of printed.slice(1)) expect(line.length).toBeLessThanOrEqual(100);
    // Nothing is lost in the wrap.
    expect(printed.join(' ').match(/word\d+/g)).toHaveLength(30);
  });

  it('prints a page missing its optional fields without a gap where they would be', () => {
    const { release: _release, reasons: _reasons, ...bare } = page as Extract<Decision, { type: 'page' }>;
    const printed = formatDecision({ ...bare, channels: [] }, { color: false });
    expect(printed).toBe('14:03:07  PAGE  critical  checkout  v42  incident inc-7f3a\n  checkout v42 returns 5xx on 4.1% of requests against 0.2% on v41\n\n');
  });

  it('prints what it can of a malformed record rather than throwing', () => {
    const broken = { type: 'page', ts: 'not a time', service: 'checkout', severity: 'critical' } as unknown as Decision;
    expect(formatDecision(broken, { color: false })).toBe('--:--:--  PAGE  critical  checkout\n\n');
    const stranger = { type: 'heartbeat', ts: page.ts } as unknown as Decision;
    expect(formatDecision(stranger, { color: false })).toBe('');
  });

  it('neutralises escape sequences smuggled into event data', () => {
    const printed = formatDecision({ ...page, service: 'checkout\x1b[2J', summary: 'line one\nline two' }, { color: false });
    expect(printed).not.toContain('\x1b');
    expect(printed).toContain('  line one line two\n');
  });
});

describe('ConsoleNotifier', () => {
  it('writes each decision block to its stream, and nothing for a hidden suppression', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const notifier = new ConsoleNotifier({ out });
    expect(notifier.channel).toBe('console');
    await notifier.notify(fail);
    await notifier.notify(suppressed);
    await notifier.notify(resolve);
    out.end();
    await new Promise((done) => out.on('end', done));
    expect(chunks.join('')).toBe(formatDecision(fail, { color: false }) + formatDecision(resolve, { color: false }));
  });

  it('passes its colour and suppression options through', async () => {
    const out = new PassThrough();
    const notifier = new ConsoleNotifier({ out, color: true, showSuppressed: true });
    await notifier.notify(suppressed);
    await notifier.notify(pass);
    expect(String(out.read())).toBe(formatDecision(suppressed, { color: true, showSuppressed: true }) + formatDecision(pass, { color: true }));
  });

  it('keeps going when its stream has closed or fails', async () => {
    const ended = new PassThrough();
    ended.end();
    const afterEnd = new ConsoleNotifier({ out: ended });
    await expect(afterEnd.notify(page)).resolves.toBeUndefined();

    const failing = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('EPIPE')) });
    const notifier = new ConsoleNotifier({ out: failing });
    await notifier.notify(page);
    // The error surfaces asynchronously; an unheard one would fail this test run.
    await new Promise((resolve) => setImmediate(resolve));
    await expect(notifier.notify(update)).resolves.toBeUndefined();
  });
});
