/**
 * The dashboard as on-call meets it, in a real headless Chromium: a failing canary streamed
 * into the running service shows up as FAIL with its charts drawn from the data, text from
 * events stays text, and only the dashboard's own files are served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type Browser, type Page, chromium } from 'playwright-core';
import { DEFAULT_CONFIG, type VigilConfig } from '../app/config-file.js';
import { type RunningService, startService } from '../app/service.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import { httpSender, streamEvents } from '../simulate/stream.js';
import type { TimedEvent } from '../simulate/generate.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const screenshotPath = join(repoRoot, '.local', 'artifacts', 'dashboard.png');
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
const installHint = `headless Chromium not found at ${chromiumPath}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`;
// Skipped tests show no reason in the summary; this line says why and what to do.
if (!hasChromium && !process.env['CI']) console.warn(`dashboard browser tests skipped: ${installHint}`);

// A service and version named like markup: if the page ever parsed API text as HTML, this
// would add an element and run a handler.
const HOSTILE_SERVICE = '<img src=x onerror="document.body.dataset.injected=1">';
const HOSTILE_VERSION = '<b id="injected">v2</b>';

/** What a canvas gives a page script, typed here without the DOM library. */
interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { readonly data: ArrayLike<number> } } | null;
}

/** Pixels of a canvas close to one colour: antialiased line edges are near it, not on it. */
function pixelsNear(canvas: CanvasLike, rgb: readonly [number, number, number]): number {
  const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
  if (!data) return 0;
  let count = 0;
  for (let i = 0; i + 3 < data.length; i += 4) {
    const near = Math.abs((data[i] ?? 0) - rgb[0]) < 40 && Math.abs((data[i + 1] ?? 0) - rgb[1]) < 40 && Math.abs((data[i + 2] ?? 0) - rgb[2]) < 40;
    if (near && (data[i + 3] ?? 0) > 200) count++;
  }
  return count;
}

const SILENCED_ALERT = 'DiskAlmostFull';

/** A generic monitoring alert as the stream carries it, `tsMs` after the scenario's start. */
function alertAt(tsMs: number, body: Record<string, unknown>): TimedEvent {
  return { tsMs, emitMs: tsMs, event: { type: 'webhook', ts: tsMs, source: 'generic', body } as unknown as TimedEvent['event'] };
}

const CANARY_RGB = [0xe8, 0x59, 0x0c] as const;
const COMPARISON_RGB = [0x19, 0x71, 0xc2] as const;

describe('the dashboard in headless Chromium', () => {
  let service: RunningService | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) {
      if (process.env['CI']) throw new Error(installHint);
      return;
    }
    const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0 } };
    service = await startService({ config, logger: pino({ level: 'silent' }), channels: new Map() });
    const startMs = Date.now();
    const start = new Date(startMs).toISOString();
    const hostile = [
      { type: 'deploy', ts: start, service: HOSTILE_SERVICE, version: 'v1', role: 'stable', action: 'start' },
      { type: 'deploy', ts: start, service: HOSTILE_SERVICE, version: HOSTILE_VERSION, role: 'canary', action: 'start' },
      { type: 'request', ts: start, service: HOSTILE_SERVICE, version: HOSTILE_VERSION, route: '/<script>', status: 200, latency_ms: 10 },
    ];
    const res = await fetch(`${service.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${hostile.map((e) => JSON.stringify(e)).join('\n')}\n` });
    expect(res.status).toBe(202);
    // A silence made through the API before the stream, and monitoring alerts about checkout
    // near its end, while its incident is open: the symptom alerts fold into that incident and
    // the silenced one is kept quiet; the dashboard shows both, and the silence.
    const silence = await fetch(`${service.url}/v1/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [`alertname="${SILENCED_ALERT}"`], endsAt: new Date(startMs + 7_200_000).toISOString(), createdBy: 'ops', comment: 'disk swap on checkout-db' }),
    });
    expect(silence.status).toBe(201);
    const rendered = renderScenario(catalogEntry('error-regression')!, 1);
    const lastMs = Math.max(...rendered.events.map((e) => e.tsMs));
    const alerts: TimedEvent[] = [
      ...['checkout-1', 'checkout-2', 'checkout-3'].map((instance, k) => alertAt(lastMs - 360_000 + k * 5_000, { title: 'HighErrorRate', status: 'firing', labels: { service: 'checkout', instance, severity: 'critical' } })),
      alertAt(lastMs - 330_000, { title: SILENCED_ALERT, status: 'firing', labels: { service: 'checkout', instance: 'checkout-db' } }),
    ];
    const stream = [...rendered.events, ...alerts].sort((a, b) => a.emitMs - b.emitMs);
    await streamEvents(stream, { speed: Infinity, startMs, send: httpSender(service.url) });

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    // Script errors and refused resources (the content security policy) would break the page
    // quietly for a user; here they fail the test.
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    await page.goto(service.url);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('shows the FAIL of checkout v42 and draws its error ratio and latency over time, canary against v41', async (ctx) => {
    if (!page || !service) return ctx.skip(installHint);
    const row = page.locator('#release-rows tr[data-service="checkout"][data-version="v42"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-verdict')).toBe('FAIL');
    const rowText = await row.innerText();
    expect(rowText).toContain('FAIL');
    expect(rowText).toMatch(/5xx ratio .* vs .* on v41/);
    expect(rowText).toContain('v41');
    await expect.poll(() => row.locator('.badge').evaluate((b: { readonly className: string }) => b.className)).toContain('verdict-FAIL');

    await row.click();
    const detail = page.locator('#release-detail[data-release="checkout/v42"]');
    await detail.waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => {
      const d = (globalThis as unknown as { document: { getElementById(id: string): { dataset: Record<string, string | undefined> } | null } }).document;
      return Number(d.getElementById('release-detail')?.dataset['points'] ?? '0') > 0;
    }, undefined, { timeout: 10_000 });

    const series = (await (await fetch(`${service.url}/v1/releases/checkout/v42/series`)).json()) as { points: unknown[]; routes: string[] };
    const points = Number(await detail.getAttribute('data-points'));
    // Twenty-odd minutes of 10 s slices; the quiet-stream clock may close a few more meanwhile.
    expect(points).toBeGreaterThan(100);
    expect(Math.abs(points - series.points.length)).toBeLessThanOrEqual(3);
    expect(await page.locator('#chart-meta').innerText()).toContain(`${points} points of 10 s`);
    expect(await page.locator('#detail-title').innerText()).toMatch(/FAIL\s+checkout v42 vs v41/);

    for (const id of ['chart-errors', 'chart-p50', 'chart-p99']) {
      const canvas = page.locator(`#${id} canvas`);
      const box = await canvas.boundingBox();
      expect(box?.width, id).toBeGreaterThan(300);
      expect(box?.height, id).toBeGreaterThan(100);
      // Both lines are drawn: pixels of the canary's and of the comparison's colour.
      expect(await canvas.evaluate(pixelsNear, CANARY_RGB), `${id} canary line`).toBeGreaterThan(200);
      expect(await canvas.evaluate(pixelsNear, COMPARISON_RGB), `${id} comparison line`).toBeGreaterThan(200);
    }
    const legend = await page.locator('#chart-errors .u-legend').innerText();
    expect(legend).toContain('v42 (canary)');
    expect(legend).toContain('v41 (comparison)');
    expect(await page.locator('#marks').innerText()).toMatch(/FAIL at \d\d:\d\d:\d\d/);

    // The route selector offers the version's routes, and choosing one charts that route.
    const options = await page.locator('#route option').allInnerTexts();
    expect(options).toEqual(['all routes', ...series.routes]);
    const route = series.routes[0]!;
    await page.locator('#route').selectOption(route);
    await page.waitForFunction((r) => {
      const d = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document;
      return (d.getElementById('chart-meta')?.textContent ?? '').endsWith(r);
    }, route, { timeout: 10_000 });
    expect(await page.locator('#chart-errors canvas').evaluate(pixelsNear, CANARY_RGB)).toBeGreaterThan(100);
    await page.locator('#route').selectOption('');
    await page.waitForFunction(() => {
      const d = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document;
      return (d.getElementById('chart-meta')?.textContent ?? '').endsWith('all routes');
    }, undefined, { timeout: 10_000 });

    const incident = page.locator('#incident-list article').first();
    const incidentText = await incident.innerText();
    expect(incidentText).toContain('OPEN');
    expect(incidentText).toMatch(/checkout: error ratio regression in v42/);
    expect(incidentText).toMatch(/opened\s+\d\d:\d\d:\d\d/);
    expect(await incident.locator('a', { hasText: /^v42$/ }).getAttribute('href')).toBe('#service=checkout&version=v42');
    expect(await page.locator('body').innerText()).not.toContain('[object ');

    // The three instances' alerts joined the release's incident as evidence, not a page of
    // their own; the silenced one is listed as kept quiet, and the silence is in force.
    const folded = incident.locator('details.folded');
    await expect.poll(() => folded.locator('summary').innerText(), { timeout: 10_000 }).toMatch(/^3 alerts folded in \(3 from generic\)$/);
    await folded.locator('summary').click();
    const alertRows = await folded.locator('li').allInnerTexts();
    expect(alertRows).toHaveLength(3);
    for (const instance of ['checkout-1', 'checkout-2', 'checkout-3']) expect(alertRows.some((r) => r.includes('HighErrorRate') && r.includes(instance))).toBe(true);
    expect(await page.locator('#incident-list article').count()).toBe(1);
    // The page's headline stays; the update that brought the alerts is the latest news.
    const card = await incident.innerText();
    expect(card).toMatch(/checkout: error ratio regression in v42/);
    expect(card).toMatch(/latest\s+3 alerts folded in: HighErrorRate/);
    const silencedRow = page.locator('#suppressed-rows tr', { hasText: SILENCED_ALERT });
    await silencedRow.waitFor({ timeout: 10_000 });
    expect(await silencedRow.innerText()).toContain('silenced');
    const silenceRow = page.locator('#silence-rows tr');
    expect(await silenceRow.count()).toBe(1);
    const silenceText = await silenceRow.innerText();
    expect(silenceText).toContain(`alertname="${SILENCED_ALERT}"`);
    expect(silenceText).toContain('disk swap on checkout-db');
    expect(await page.locator('#silences-empty').isHidden()).toBe(true);

    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(problems).toEqual([]);
  }, 30_000);

  it('shows service and version names from events as text, never as markup', async (ctx) => {
    if (!page) return ctx.skip(installHint);
    const row = page.locator(`#release-rows tr[data-version="${HOSTILE_VERSION.replace(/"/g, '\\"')}"]`);
    await row.waitFor({ timeout: 10_000 });
    const text = await row.innerText();
    expect(text).toContain(HOSTILE_SERVICE);
    expect(text).toContain(HOSTILE_VERSION);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.locator('#release-rows img').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-injected')).toBeNull();
    expect(problems).toEqual([]);
  });
});

describe('the dashboard of a service with an API token', () => {
  let service: RunningService | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('loads without the token, asks for it, and shows the data once it is given', async (ctx) => {
    if (!hasChromium) {
      if (process.env['CI']) throw new Error(installHint);
      return ctx.skip(installHint);
    }
    const apiToken = 'dashboard-test-token-0123456789';
    const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0 } };
    service = await startService({ config, logger: pino({ level: 'silent' }), channels: new Map(), apiToken });
    const t0 = Date.now();
    const ts = new Date(t0).toISOString();
    // A deploy and a minute of traffic: enough for a first (NONE) verdict of the canary.
    const events = [
      { type: 'deploy', ts, service: 'shop', version: 'v1', role: 'stable', action: 'start' },
      { type: 'deploy', ts, service: 'shop', version: 'v2', role: 'canary', action: 'start' },
      ...[0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000].flatMap((ms) => ['v1', 'v2'].map((version) => (
        { type: 'request', ts: new Date(t0 + ms).toISOString(), service: 'shop', version, route: '/cart', status: 200, latency_ms: 20 }
      ))),
    ];
    const posted = await fetch(`${service.url}/v1/events`, {
      method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${apiToken}` },
      body: `${events.map((e) => JSON.stringify(e)).join('\n')}\n`,
    });
    expect(posted.status).toBe(202);
    // The data stays behind the token; only the page's own files are open.
    expect((await fetch(`${service.url}/v1/verdicts`)).status).toBe(401);

    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const page = await browser.newPage();
    await page.goto(service.url);
    await page.locator('#auth-token').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#status').innerText()).toMatch(/needs a token/);
    await page.locator('#auth-token').fill('not-the-token');
    await page.locator('#auth-form button').click();
    await expect.poll(() => page.locator('#status').innerText(), { timeout: 10_000 }).toMatch(/token was refused/);
    await page.locator('#auth-token').fill(apiToken);
    await page.locator('#auth-form button').click();
    await expect.poll(() => page.locator('#status').innerText(), { timeout: 10_000 }).toMatch(/^live/);
    expect(await page.locator('#auth').isHidden()).toBe(true);
    expect(await page.locator('#release-rows tr[data-service="shop"]').count()).toBeGreaterThan(0);
  }, 30_000);
});

describe('the dashboard files, over HTTP', () => {
  let service: RunningService | undefined;

  beforeAll(async () => {
    const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0 } };
    service = await startService({ config, logger: pino({ level: 'silent' }), channels: new Map() });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('serves the page and its scripts with their types and revalidation, and nothing else from disk', async () => {
    const url = service!.url;
    const expected: [string, RegExp][] = [
      ['/', /^text\/html; charset=utf-8/],
      ['/ui/app.js', /^text\/javascript/],
      ['/ui/style.css', /^text\/css/],
      ['/ui/favicon.svg', /^image\/svg\+xml/],
      ['/ui/vendor/uPlot.esm.js', /^text\/javascript/],
      ['/ui/vendor/uPlot.min.css', /^text\/css/],
    ];
    for (const [path, type] of expected) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(type);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      const etag = res.headers.get('etag');
      expect(etag, path).toMatch(/^".+"$/);
      const again = await fetch(`${url}${path}`, { headers: { 'if-none-match': etag! } });
      expect(again.status, path).toBe(304);
    }
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    for (const path of ['/ui/%2e%2e/package.json', '/ui/..%2fpackage.json', '/ui/vendor/..%2f..%2fpackage.json', '/ui/index.html', '/web/app.js', '/ui/vendor/uPlot.cjs.js']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/"name": "vigil"|function uPlot/);
    }
  });
});
