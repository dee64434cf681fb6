import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Verdict, VerdictDecision } from '../rules/decisions.js';
import type { DeployEvent, VigilEvent } from '../rules/events.js';
import { MemoryBus } from '../ingest/bus.js';
import { MemoryDecisions } from '../state/decisions.js';
import { buildApi } from './http.js';
import { type FlaggerGate, type ReleaseTools, carriesTokenInBody, registerReleaseTools, releaseToolsSchema } from './release-tools.js';

/** A webhook body as Flagger posts it. */
interface FlaggerBody {
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
  readonly checksum: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** One metric of the AnalysisTemplates in docs/release-tools.md. */
interface ArgoMetric {
  readonly count?: number;
  readonly failureLimit: number;
  readonly inconclusiveLimit?: number;
  readonly successCondition: string;
  readonly failureCondition: string;
}

interface ArgoWebRequest {
  readonly args: readonly { readonly name: string; readonly value: string }[];
  readonly request: { readonly method: string; readonly urlTemplate: string; readonly url: string; readonly headers: readonly { readonly key: string; readonly value: string }[] };
  readonly metrics: Readonly<Record<'vigil-not-failing' | 'vigil-pass', ArgoMetric>>;
}

function fixture<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(`../test/fixtures/${path}`, import.meta.url), 'utf8')) as T;
}

const argo = fixture<ArgoWebRequest>('argo/web-request.json');
const flagger = {
  rollout: fixture<FlaggerBody>('flagger/rollout.json'),
  'confirm-promotion': fixture<FlaggerBody>('flagger/confirm-promotion.json'),
  rollback: fixture<FlaggerBody>('flagger/rollback.json'),
  succeeded: fixture<FlaggerBody[]>('flagger/event-succeeded.json'),
  failed: fixture<FlaggerBody[]>('flagger/event-failed.json'),
  restarted: fixture<FlaggerBody[]>('flagger/event-restarted.json'),
} as const;

/** Wall clock of the tests: after every fixture's timestamp. */
const NOW_MS = Date.parse('2024-06-10T08:00:00.000Z');

const REASONS: Readonly<Record<Verdict, string>> = {
  FAIL: '5xx ratio 3.1% vs 0.64% on 5c9b7d6f48 (x4.7) across all routes, 817 requests in 3 min, sustained 1.5 min',
  PASS: 'no regression in 1,904 requests over 6 min against 5c9b7d6f48',
  NONE: 'collecting evidence: 120 of 300 requests, 2 of 5 min',
};

/** A verdict decision as the engine emits it. */
function verdictDecision(service: string, version: string, verdict: Verdict): VerdictDecision {
  return {
    type: 'verdict', ts: '2024-06-10T06:20:00.000Z', service, version, verdict, reasons: [REASONS[verdict]],
    score: verdict === 'PASS' ? 100 : verdict === 'FAIL' ? 12 : 50,
    ...(verdict === 'NONE' ? {} : {
      evidence: { canaryRequests: 817, baselineRequests: 9_120, comparedWith: '5c9b7d6f48', windowStart: '2024-06-10T06:17:00.000Z', windowEnd: '2024-06-10T06:20:00.000Z' },
    }),
  };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

interface Harness {
  readonly app: FastifyInstance;
  readonly decisions: MemoryDecisions;
  readonly published: VigilEvent[];
  readonly tools: ReleaseTools;
  post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  get(url: string): Promise<{ status: number; json: Record<string, unknown> }>;
}

function harness(settings: unknown = {}, token?: string): Harness {
  const decisions = new MemoryDecisions();
  const published: VigilEvent[] = [];
  const app = Fastify();
  apps.push(app);
  const tools = registerReleaseTools(app, { decisions, bus: new MemoryBus((e) => published.push(e)), config: releaseToolsSchema.parse(settings), now: () => NOW_MS, token });
  return {
    app, decisions, published, tools,
    async post(path, body) {
      const res = await app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.statusCode, json: res.json<Record<string, unknown>>() };
    },
    async get(url) {
      const res = await app.inject({ method: 'GET', url });
      return { status: res.statusCode, json: res.json<Record<string, unknown>>() };
    },
  };
}

/** The path and query Argo's web provider requests, from the fixture's URL template and args. */
function argoPath(args: readonly { name: string; value: string }[], template = argo.request.urlTemplate): string {
  const url = new URL(template.replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_m, name: string) => args.find((a) => a.name === name)?.value ?? ''));
  return `${url.pathname}${url.search}`;
}

/** Evaluates `result.KEY == "V"` and `!=`, the only condition forms the templates use, as Argo's expression engine would. */
function condition(expr: string, result: Record<string, unknown>): boolean {
  const m = /^result\.(\w+) (==|!=) "([^"]*)"$/.exec(expr);
  if (!m) throw new Error(`condition not understood by this test: ${expr}`);
  const equal = result[m[1] as string] === m[3];
  return m[2] === '==' ? equal : !equal;
}

type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive';

/** A measurement's phase with both conditions set: failure wins, neither is inconclusive. */
function measure(metric: ArgoMetric, result: Record<string, unknown>): MeasurementPhase {
  if (condition(metric.failureCondition, result)) return 'Failed';
  return condition(metric.successCondition, result) ? 'Successful' : 'Inconclusive';
}

/** A metric's phase after some measurements: limits first, then the count; without a count it runs until the rollout ends it. */
function assess(metric: ArgoMetric, phases: readonly MeasurementPhase[]): MeasurementPhase | 'Running' {
  let failed = 0;
  let inconclusive = 0;
  for (const [i, p] of phases.entries()) {
    if (p === 'Failed') failed++;
    if (p === 'Inconclusive') inconclusive++;
    if (failed > metric.failureLimit) return 'Failed';
    if (inconclusive > (metric.inconclusiveLimit ?? 0)) return 'Inconclusive';
    if (metric.count !== undefined && i + 1 >= metric.count) return 'Successful';
  }
  return 'Running';
}

describe('GET /v1/argo/verdict (the web metric provider)', () => {
  const args = Object.fromEntries(argo.args.map((a) => [a.name, a.value]));

  it('requests what the fixture records, and the template resolves to the same URL', () => {
    expect(argo.request.method).toBe('GET');
    const resolved = argo.request.urlTemplate.replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_m, name: string) => args[name] ?? '');
    expect(resolved).toBe(argo.request.url);
  });

  it.each<[Verdict, number]>([['PASS', 100], ['FAIL', 12], ['NONE', 50]])('answers 200 with %s and its reason, score and evidence', async (verdict, score) => {
    const h = harness();
    h.decisions.apply(verdictDecision('checkout', '6d4f8b9c7d', verdict));
    const res = await h.get(argoPath(argo.args));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ service: 'checkout', version: '6d4f8b9c7d', verdict, reason: REASONS[verdict], score, stableVersion: '5c9b7d6f48' });
    if (verdict === 'NONE') expect(res.json).toMatchObject({ evidence: null, windowEnd: '2024-06-10T06:20:00.000Z' });
    else expect(res.json).toMatchObject({ evidence: { canaryRequests: 817, comparedWith: '5c9b7d6f48' }, windowEnd: '2024-06-10T06:20:00.000Z' });
  });

  it('answers 200 NONE, with the same keys and nulls, for a hash never judged', async () => {
    const res = await harness().get(argoPath(argo.args));
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['evidence', 'reason', 'score', 'service', 'stableVersion', 'verdict', 'version', 'windowEnd']);
    expect(res.json).toMatchObject({ verdict: 'NONE', score: 50, evidence: null, windowEnd: null });
    expect(res.json.reason).toMatch(/not been judged/);
  });

  it('leads each template to the outcome the docs promise, for every verdict', async () => {
    const h = harness();
    const answer = async (verdict: Verdict | undefined): Promise<Record<string, unknown>> => {
      if (verdict) h.decisions.apply(verdictDecision('checkout', '6d4f8b9c7d', verdict));
      return (await h.get(argoPath(argo.args))).json;
    };
    const none = await answer(undefined);
    const pass = await answer('PASS');
    const fail = await answer('FAIL');
    const background = argo.metrics['vigil-not-failing'];
    // Background: NONE and PASS keep the rollout going; the first FAIL aborts it.
    expect(assess(background, [none, none, pass].map((r) => measure(background, r)))).toBe('Running');
    expect(assess(background, [none, fail].map((r) => measure(background, r)))).toBe('Failed');
    // Gate: PASS within the count promotes, FAIL aborts, NONE to the end pauses for a person.
    const gate = argo.metrics['vigil-pass'];
    const count = gate.count ?? 0;
    expect(assess(gate, [...Array<Record<string, unknown>>(count - 1).fill(none), pass].map((r) => measure(gate, r)))).toBe('Successful');
    expect(assess(gate, [none, none, fail].map((r) => measure(gate, r)))).toBe('Failed');
    expect(assess(gate, Array<Record<string, unknown>>(count).fill(none).map((r) => measure(gate, r)))).toBe('Inconclusive');
  });

  it.each([
    ['service', /"service"/],
    ['canary-hash', /"canaryHash"/],
  ])('answers 400 with the reason when %s is missing', async (arg, reason) => {
    const res = await harness().get(argoPath(argo.args.filter((a) => a.name !== arg)));
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(reason);
  });

  it('names both parameters when both are missing, and takes an empty value as missing', async () => {
    const h = harness();
    const both = await h.get('/v1/argo/verdict');
    expect(both.status).toBe(400);
    expect(both.json.error).toMatch(/"service" and "canaryHash"/);
    const empty = await h.get('/v1/argo/verdict?service=&canaryHash=6d4f8b9c7d');
    expect(empty.status).toBe(400);
    expect(empty.json.error).toMatch(/"service"/);
  });

  it('does not need the stable hash', async () => {
    const res = await harness().get(argoPath(argo.args.filter((a) => a.name !== 'stable-hash')));
    expect(res.status).toBe(200);
    expect(res.json).not.toHaveProperty('stableVersion');
  });

  it('maps hashes to versions through the table, and says so when a hash is not in it', async () => {
    const h = harness({ argo: { versionFrom: { table: { '6d4f8b9c7d': '2024.06.1', '5c9b7d6f48': '2024.05.3' } } } });
    h.decisions.apply(verdictDecision('checkout', '2024.06.1', 'FAIL'));
    const mapped = await h.get(argoPath(argo.args));
    expect(mapped.json).toMatchObject({ version: '2024.06.1', verdict: 'FAIL', stableVersion: '2024.05.3' });
    const unmapped = await h.get(argoPath(argo.args.map((a) => (a.name === 'canary-hash' ? { ...a, value: '7b9f6d5c8f' } : a))));
    expect(unmapped.status).toBe(200);
    expect(unmapped.json).toMatchObject({ version: '7b9f6d5c8f', verdict: 'NONE' });
    expect(unmapped.json.reason).toMatch(/not in releaseTools\.argo\.versionFrom\.table/);
  });
});

describe('Flagger gates', () => {
  const cases: [FlaggerGate, Verdict | undefined, number][] = [
    ['rollout', 'PASS', 200], ['rollout', 'NONE', 200], ['rollout', undefined, 200], ['rollout', 'FAIL', 409],
    ['confirm-promotion', 'PASS', 200], ['confirm-promotion', 'NONE', 409], ['confirm-promotion', undefined, 409], ['confirm-promotion', 'FAIL', 409],
    ['rollback', 'FAIL', 200], ['rollback', 'PASS', 409], ['rollback', 'NONE', 409], ['rollback', undefined, 409],
  ];

  it.each(cases)('%s with verdict %s answers %i, with the verdict and its reason', async (gate, verdict, status) => {
    const h = harness();
    if (verdict) h.decisions.apply(verdictDecision('podinfo', '85d557f47b', verdict));
    const res = await h.post(`/v1/flagger/${gate}`, flagger[gate]);
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ gate, open: status === 200, service: 'podinfo', version: '85d557f47b', verdict: verdict ?? 'NONE' });
    expect(res.json.message).toContain(verdict === undefined ? 'not been judged' : REASONS[verdict]);
  });

  it('reads the version from a metadata key for a mapped canary, and the service from the target', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo-api', version: { metadata: 'version' } }] } });
    h.decisions.apply(verdictDecision('podinfo-api', '6.1.5', 'FAIL'));
    const res = await h.post('/v1/flagger/rollout', flagger.rollout);
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ service: 'podinfo-api', version: '6.1.5', verdict: 'FAIL' });
  });

  it('maps a target by checksum when told so, and leaves other canaries at name and checksum', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo-api' }] } });
    h.decisions.apply(verdictDecision('podinfo-api', '85d557f47b', 'PASS'));
    h.decisions.apply(verdictDecision('frontend', '85d557f47b', 'PASS'));
    expect((await h.post('/v1/flagger/confirm-promotion', flagger['confirm-promotion'])).json).toMatchObject({ service: 'podinfo-api', open: true });
    const other = await h.post('/v1/flagger/confirm-promotion', { ...flagger['confirm-promotion'], name: 'frontend' });
    expect(other).toMatchObject({ status: 200, json: { service: 'frontend', version: '85d557f47b' } });
    // The same name in another namespace is not the mapped canary.
    const elsewhere = await h.post('/v1/flagger/confirm-promotion', { ...flagger['confirm-promotion'], namespace: 'prod' });
    expect(elsewhere.json).toMatchObject({ service: 'podinfo', verdict: 'NONE' });
  });

  it('answers 400 when the metadata key the target names is not in the payload', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo', version: { metadata: 'app-version' } }] } });
    const res = await h.post('/v1/flagger/rollout', flagger.rollout);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/no metadata "app-version"/);
  });

  it('answers 400 when the version is the checksum and the payload has none', async () => {
    const { checksum: _checksum, ...old } = flagger.rollout;
    const res = await harness().post('/v1/flagger/rollout', old);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/no "checksum"/);
  });

  it.each<[string, string | object, RegExp]>([
    ['not JSON', '{"name": "podinfo",', /not JSON/],
    ['an array', [flagger.rollout], /expected a JSON object, got an array/],
    ['without a name', { namespace: 'test', phase: 'Progressing', checksum: '85d557f47b' }, /field "name" missing/],
    ['with a numeric namespace', { ...flagger.rollout, namespace: 7 }, /field "namespace" must be a string/],
    ['with non-string metadata', { ...flagger.rollout, metadata: { replicas: 3 } }, /field "metadata.replicas" values must be strings/],
    ['empty', '', /empty body/],
  ])('answers 400 with the reason for a body %s', async (_what, body, reason) => {
    const h = harness();
    for (const path of ['/v1/flagger/rollout', '/v1/flagger/confirm-promotion', '/v1/flagger/rollback', '/v1/flagger/event']) {
      const res = await h.post(path, body);
      expect(res.status, path).toBe(400);
      expect(res.json.error, path).toMatch(reason);
    }
    expect(h.published).toEqual([]);
  });

  it('answers 415 for a body that is not JSON by type, and 413 beyond the size limit', async () => {
    const h = harness({ maxBodyBytes: 1_024 });
    const text = await h.app.inject({ method: 'POST', url: '/v1/flagger/rollout', headers: { 'content-type': 'text/plain' }, payload: 'podinfo' });
    expect(text.statusCode).toBe(415);
    const big = await h.post('/v1/flagger/rollout', { ...flagger.rollout, metadata: { note: 'x'.repeat(2_000) } });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/releaseTools\.maxBodyBytes/);
  });
});

describe('POST /v1/flagger/event', () => {
  const deploy = (action: DeployEvent['action'], ts: string, version = '85d557f47b', service = 'podinfo', phase = 'Progressing'): DeployEvent => ({
    type: 'deploy', ts: Date.parse(ts), service, version, role: 'canary', action, instances: undefined, release: undefined,
    labels: expect.objectContaining({ source: 'flagger', canary: 'test/podinfo', phase }) as unknown as DeployEvent['labels'],
  });

  async function replay(h: Harness, events: readonly FlaggerBody[]): Promise<void> {
    for (const e of events) {
      const res = await h.post('/v1/flagger/event', e);
      expect(res.status, e.metadata?.eventMessage).toBe(202);
    }
  }

  it('turns a promoted canary into one start and one promote, at Flagger\'s event times', async () => {
    const h = harness();
    await replay(h, flagger.succeeded);
    expect(h.published).toEqual([
      deploy('start', '2024-06-10T06:23:20.000Z'),
      deploy('promote', '2024-06-10T06:34:20.000Z', '85d557f47b', 'podinfo', 'Promoting'),
    ]);
    expect(h.tools.stats()).toMatchObject({ published: 2, ignored: 1 });
  });

  it('turns a failed canary into one start and one rollback', async () => {
    const h = harness();
    await replay(h, flagger.failed);
    expect(h.published.map((e) => e.type === 'deploy' && [e.action, e.version])).toEqual([['start', '85d557f47b'], ['rollback', '85d557f47b']]);
  });

  it('publishes nothing more when Flagger repeats its events', async () => {
    const h = harness();
    await replay(h, flagger.failed);
    const once = [...h.published];
    await replay(h, flagger.failed);
    await replay(h, flagger.failed.slice(0, 2));
    expect(h.published).toEqual(once);
    const again = await h.post('/v1/flagger/event', flagger.failed[5]);
    expect(again.json).toMatchObject({ published: 0, skipped: 'duplicate' });
  });

  it('drops an event older than the canary\'s last step', async () => {
    const h = harness();
    await replay(h, flagger.failed);
    // A retried delivery of an earlier Progressing event arriving after the rollback.
    const late = await h.post('/v1/flagger/event', flagger.failed[2]);
    expect(late.json).toMatchObject({ published: 0, skipped: 'stale' });
    expect(h.published).toHaveLength(2);
  });

  it('finishes the revision being analysed when a new one restarts the analysis', async () => {
    const h = harness();
    await replay(h, flagger.restarted);
    expect(h.published.map((e) => e.type === 'deploy' && [e.action, e.version])).toEqual([
      ['start', '85d557f47b'], ['finish', '85d557f47b'], ['start', '7b9f6d5c8f'],
    ]);
  });

  it('publishes the mapped service and the version from metadata', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo-api', version: { metadata: 'version' } }] } });
    await replay(h, flagger.succeeded);
    expect(h.published.map((e) => e.type === 'deploy' && [e.service, e.version, e.action])).toEqual([
      ['podinfo-api', '6.1.5', 'start'], ['podinfo-api', '6.1.5', 'promote'],
    ]);
  });

  it('ignores phases that are no lifecycle step without needing a version', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo', version: { metadata: 'absent' } }] } });
    const res = await h.post('/v1/flagger/event', flagger.succeeded[0]);
    expect(res).toMatchObject({ status: 202, json: { published: 0, skipped: 'phase "Initialized" is no lifecycle step' } });
  });

  it('takes the wall clock when the event has no timestamp, and rejects one that is not epoch milliseconds', async () => {
    const h = harness();
    const { timestamp: _timestamp, ...metadata } = flagger.failed[0]?.metadata ?? {};
    expect((await h.post('/v1/flagger/event', { ...flagger.failed[0], metadata })).status).toBe(202);
    expect(h.published[0]).toMatchObject({ ts: NOW_MS, action: 'start' });
    const bad = await h.post('/v1/flagger/event', { ...flagger.failed[5], metadata: { ...flagger.failed[5]?.metadata, timestamp: '2024-06-10T06:20:00Z' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/epoch milliseconds/);
  });

  it('rejects, through the deploy decoder, a version the engine would not take', async () => {
    const h = harness({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'podinfo', version: { metadata: 'version' } }] } });
    const res = await h.post('/v1/flagger/event', { ...flagger.failed[0], metadata: { ...flagger.failed[0]?.metadata, version: 'v'.repeat(300) } });
    expect(res.status).toBe(400);
    expect(h.published).toEqual([]);
  });

  it('forgets the oldest canaries beyond the limit, and counts them', async () => {
    const h = harness({ flagger: { rememberedCanaries: 2 } });
    const first = flagger.failed[0] as FlaggerBody;
    for (const name of ['a', 'b', 'c']) await h.post('/v1/flagger/event', { ...first, name });
    expect(h.tools.stats().forgotten).toBe(1);
    // "a" was forgotten, so its repeat is published again; "c" is still remembered.
    await h.post('/v1/flagger/event', { ...first, name: 'a' });
    await h.post('/v1/flagger/event', { ...first, name: 'c' });
    expect(h.published.map((e) => e.type === 'deploy' && e.service)).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('the API token', () => {
  const TOKEN = 'a-random-token-of-32-characters!';
  const withToken = (body: FlaggerBody, token: string | undefined): FlaggerBody => ({ ...body, metadata: { ...body.metadata, ...(token === undefined ? {} : { token }) } });

  it.each<[string, string | undefined, boolean]>([['no', undefined, false], ['a wrong', 'guess', false], ['the right', TOKEN, true]])('with %s token in metadata, lets Flagger in: %s', async (_what, token, admitted) => {
    const h = harness({}, TOKEN);
    expect((await h.post('/v1/flagger/rollout', withToken(flagger.rollout, token))).status).toBe(admitted ? 200 : 401);
    expect((await h.post('/v1/flagger/event', withToken(flagger.failed[0] as FlaggerBody, token))).status).toBe(admitted ? 202 : 401);
    expect(h.published).toHaveLength(admitted ? 1 : 0);
  });

  it('is checked before the payload, so a caller without it learns nothing of the shape', async () => {
    const res = await harness({}, TOKEN).post('/v1/flagger/rollout', { metadata: { token: 'guess' } });
    expect(res.status).toBe(401);
    expect(res.json.error).not.toMatch(/name/);
  });

  it('marks the Flagger routes, and only those, for the API\'s header check to skip', async () => {
    const app = Fastify();
    apps.push(app);
    // The API's header check, letting through the routes that check the token in the body.
    app.addHook('onRequest', async (req, reply) => {
      if (carriesTokenInBody(req)) return;
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply.code(401).send({ error: 'missing or wrong bearer token' });
    });
    registerReleaseTools(app, { decisions: new MemoryDecisions(), bus: new MemoryBus(() => undefined), config: releaseToolsSchema.parse({}), token: TOKEN });
    const flaggerCall = await app.inject({ method: 'POST', url: '/v1/flagger/rollout', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(withToken(flagger.rollout, TOKEN)) });
    expect(flaggerCall.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: argoPath(argo.args) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: argoPath(argo.args), headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
  });
});

describe('inside the service API', () => {
  it('works beside the API\'s own body parsing, behind its bearer token', async () => {
    const decisions = new MemoryDecisions();
    const published: VigilEvent[] = [];
    const bus = new MemoryBus((e) => published.push(e));
    const accepted: VigilEvent[] = [];
    const api = buildApi({
      bus, decisions, logger: pino({ level: 'silent' }), bodyLimitBytes: 1_048_576, accepting: () => true, series: () => undefined, token: 's3cret-token',
      delivery: { stats: () => ({ delivered: 0, failed: 0, retried: 0, duplicates: 0, quiet: 0, unknownChannel: 0, pending: 0, byChannel: {} }), failures: () => [] },
    });
    apps.push(api);
    registerReleaseTools(api, { decisions, bus, config: releaseToolsSchema.parse({}), now: () => NOW_MS, onAccepted: (events) => accepted.push(...events) });
    decisions.apply(verdictDecision('checkout', '6d4f8b9c7d', 'PASS'));
    const authorization = argo.request.headers.find((h) => h.key === 'Authorization')?.value ?? '';

    const verdict = await api.inject({ method: 'GET', url: argoPath(argo.args), headers: { authorization } });
    expect(verdict.statusCode).toBe(200);
    expect(verdict.json()).toMatchObject({ verdict: 'PASS' });
    expect((await api.inject({ method: 'GET', url: argoPath(argo.args) })).statusCode).toBe(401);

    const event = await api.inject({ method: 'POST', url: '/v1/flagger/event', headers: { authorization, 'content-type': 'application/json' }, payload: JSON.stringify(flagger.failed[0]) });
    expect(event.statusCode).toBe(202);
    expect(published).toHaveLength(1);
    expect(accepted).toEqual(published);
    // The API's own ingest still takes its bodies as before.
    const ingest = await api.inject({ method: 'POST', url: '/v1/deployments', headers: { authorization, 'content-type': 'application/json' }, payload: JSON.stringify({ ts: '2024-06-10T06:00:00Z', service: 'checkout', version: 'v2', role: 'canary', action: 'start' }) });
    expect(ingest.statusCode).toBe(202);
  });
});

describe('releaseToolsSchema', () => {
  it('has defaults for everything, and rejects a canary listed twice', () => {
    expect(releaseToolsSchema.parse({})).toEqual({ maxBodyBytes: 65_536, argo: { versionFrom: 'hash' }, flagger: { targets: [], rememberedCanaries: 10_000 } });
    const twice = releaseToolsSchema.safeParse({ flagger: { targets: [{ namespace: 'test', name: 'podinfo', service: 'a' }, { namespace: 'test', name: 'podinfo', service: 'b' }] } });
    expect(twice.success).toBe(false);
    expect(twice.error?.issues[0]?.message).toMatch(/test\/podinfo is listed more than once/);
    expect(releaseToolsSchema.safeParse({ argo: { versionFrom: 'label' } }).success).toBe(false);
  });
});
