/**
 * The release tools' side of the API. Argo Rollouts' web metric provider reads a verdict by
 * pod-template hash; Flagger's webhooks gate a canary on its verdict and report its lifecycle,
 * which becomes deploy events on the bus. A tool acts on the status code alone and logs the
 * body, so every answer carries the verdict and its reason in plain words.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Verdict } from '../rules/decisions.js';
import type { DeployAction, VigilEvent } from '../rules/events.js';
import { BusFullError, type EventBus } from '../ingest/bus.js';
import { sendBusFull } from './backpressure.js';
import { LIMITS, MAX_EVENT_TIME_MS, cutText, decodeValue } from '../ingest/decode.js';
import type { DecisionReader, VerdictView } from '../state/decisions.js';

const id = z.string().min(1).max(LIMITS.maxIdChars);

/** Where a Flagger canary's version comes from: the payload's `checksum`, or a key of the webhook's `metadata`. */
const flaggerVersionSchema = z.union([z.literal('checksum'), z.strictObject({ metadata: z.string().min(1).max(LIMITS.maxLabelKeyChars) })], {
  error: 'expected "checksum" or { metadata: KEY }',
});

/** One Flagger Canary and the Vigil service and version it stands for. */
const flaggerTargetSchema = z.strictObject({
  /** Namespace of the Canary resource. */
  namespace: id,
  /** Name of the Canary resource. */
  name: id,
  /** The service name the workload's telemetry reports. */
  service: id,
  /**
   * `checksum` (Flagger's hash of the canary's spec and tracked configs), or `{ metadata: KEY }`
   * to read the version from the webhook's metadata, set in the Canary beside the image tag.
   */
  version: flaggerVersionSchema.default('checksum'),
});

const FLAGGER_DEFAULTS = { targets: [], rememberedCanaries: 10_000 };

/** Settings of the release tools' endpoints (config key `releaseTools`). */
export const releaseToolsSchema = z.strictObject({
  /** Largest webhook body taken; Flagger's are a few hundred bytes. */
  maxBodyBytes: z.number().int().positive().max(1_048_576).default(65_536),
  argo: z.strictObject({
    /**
     * How a pod-template hash becomes a version: `hash` (the telemetry reports the hash as its
     * version, e.g. from the pod label `rollouts-pod-template-hash`), or `{ table: { HASH: VERSION } }`.
     */
    versionFrom: z.union([z.literal('hash'), z.strictObject({ table: z.record(id, id) })], { error: 'expected "hash" or { table: { HASH: VERSION } }' }).default('hash'),
  }).default({ versionFrom: 'hash' }),
  flagger: z.strictObject({
    /** Canaries mapped to services; any other canary is service = its name, version = its checksum. */
    targets: z.array(flaggerTargetSchema).max(10_000).superRefine((targets, ctx) => {
      const seen = new Set<string>();
      targets.forEach((t, i) => {
        const key = `${t.namespace}/${t.name}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', message: `canary ${key} is listed more than once`, path: [i] });
        seen.add(key);
      });
    }).default(FLAGGER_DEFAULTS.targets),
    /** Canaries whose last lifecycle step is remembered, to drop repeated events; the oldest are forgotten first. */
    rememberedCanaries: z.number().int().positive().max(1_000_000).default(FLAGGER_DEFAULTS.rememberedCanaries),
  }).default(FLAGGER_DEFAULTS),
});

/** The `releaseTools` settings after defaults are applied. */
export type ReleaseToolsConfig = z.infer<typeof releaseToolsSchema>;

/** What the release tools' endpoints need from the rest of the service. */
export interface ReleaseToolsDeps {
  readonly decisions: Pick<DecisionReader, 'verdict'>;
  readonly bus: EventBus;
  readonly config: ReleaseToolsConfig;
  /** Wall clock in epoch milliseconds, for lifecycle events that carry no time of their own. */
  readonly now?: () => number;
  /** Called with every batch published, like the ingest endpoints do (counters, the quiet-stream clock). */
  readonly onAccepted?: (events: readonly VigilEvent[]) => void;
  /** Called with the reason of every rejected webhook body. */
  readonly onRejected?: (reason: string) => void;
  /**
   * The API's bearer token. Flagger cannot send headers, so when it is set its webhooks must
   * carry it as metadata `token`; the API's header check lets them through (carriesTokenInBody).
   */
  readonly token?: string;
}

/** A verdict as release tools read it: the same keys every time, null where nothing is known yet. */
export interface VerdictAnswer {
  readonly service: string;
  readonly version: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly score: number;
  readonly evidence: NonNullable<VerdictView['evidence']> | null;
  readonly windowEnd: string | null;
}

/** Flagger webhook types Vigil answers as a gate. */
export type FlaggerGate = 'rollout' | 'confirm-promotion' | 'rollback';

/** Counts of what the lifecycle endpoint did with Flagger's events. */
export interface ReleaseToolsStats {
  /** Deploy events put on the bus. */
  published: number;
  /** Events that repeat the canary's last step, or end it again (Flagger sends one per action it takes). */
  duplicates: number;
  /** Events older than the canary's last step. */
  stale: number;
  /** Events of phases that are no lifecycle step (Initialized, Waiting, ...). */
  ignored: number;
  /** Canaries forgotten to stay within `rememberedCanaries`. */
  forgotten: number;
}

/** A handle on the registered endpoints. */
export interface ReleaseTools {
  stats(): Readonly<ReleaseToolsStats>;
}

/** Scores of verdicts recorded without one (the engine's scale: 100 PASS, 50 NONE, below 40 FAIL). */
const DEFAULT_SCORE: Readonly<Record<Verdict, number>> = { PASS: 100, NONE: 50, FAIL: 0 };
const DEFAULT_REASON: Readonly<Record<Verdict, string>> = {
  PASS: 'no regression found, with enough evidence',
  FAIL: 'a regression was confirmed',
  NONE: 'collecting evidence',
};

/**
 * Lifecycle steps by Flagger phase. An event carries the phase the canary is in when it is
 * sent: `Progressing` while traffic shifts, `WaitingPromotion` at a closed promotion gate,
 * `Promoting` and `Finalising` once the canary's spec is copied to the primary (the event
 * that says "Promotion completed" still carries `Finalising`), `Failed` on rollback, and
 * `Terminating`/`Terminated` when the Canary is deleted. Other phases change nothing.
 */
const PHASE_ACTIONS: Readonly<Record<string, DeployAction>> = {
  Progressing: 'start',
  WaitingPromotion: 'start',
  Promoting: 'promote',
  Finalising: 'promote',
  Succeeded: 'promote',
  Failed: 'rollback',
  Terminating: 'finish',
  Terminated: 'finish',
};

/** What Flagger posts to every webhook; forks add fields, which are ignored. */
const flaggerPayloadSchema = z.object({
  name: z.string({ error: (i) => (i.input === undefined ? 'missing' : 'must be a string') }).min(1, 'must not be empty').max(LIMITS.maxIdChars, `longer than ${LIMITS.maxIdChars} characters`),
  namespace: z.string({ error: (i) => (i.input === undefined ? 'missing' : 'must be a string') }).min(1, 'must not be empty').max(LIMITS.maxIdChars, `longer than ${LIMITS.maxIdChars} characters`),
  phase: z.string({ error: 'must be a string' }).max(64, 'longer than 64 characters').optional(),
  checksum: z.string({ error: 'must be a string' }).max(LIMITS.maxIdChars, `longer than ${LIMITS.maxIdChars} characters`).optional(),
  metadata: z.record(z.string(), z.string({ error: 'values must be strings' }), { error: 'must be an object of strings' }).optional(),
});

type FlaggerPayload = z.infer<typeof flaggerPayloadSchema>;

/** The Vigil release a canary stands for. */
interface CanaryRelease {
  readonly service: string;
  readonly version: string;
}

/** Route config of the endpoints that check the token in the body, for the API's header check to skip. */
const TOKEN_IN_BODY = { tokenInBody: true } as const;

/** Whether a request's route checks the bearer token itself, in the body, because its caller cannot send headers. */
export function carriesTokenInBody(req: FastifyRequest): boolean {
  return (req.routeOptions.config as { tokenInBody?: unknown } | undefined)?.tokenInBody === true;
}

/** A 4xx answer with its reason, thrown from parsers and handlers of this plugin. */
class RequestError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** Registers the Argo Rollouts and Flagger endpoints on the API; call it before the API listens. */
export function registerReleaseTools(app: FastifyInstance, deps: ReleaseToolsDeps): ReleaseTools {
  const { config, decisions } = deps;
  const now = deps.now ?? Date.now;
  const lifecycle = new CanaryLifecycle(config.flagger.rememberedCanaries);
  const targets = new Map(config.flagger.targets.map((t) => [`${t.namespace}/${t.name}`, t]));
  const maxBodyBytes = config.maxBodyBytes;
  const expectedToken = deps.token === undefined ? undefined : createHash('sha256').update(deps.token).digest();
  const readBody = (body: unknown): FlaggerPayload => parseFlaggerBody(body, expectedToken);
  const flaggerRoute = { bodyLimit: maxBodyBytes, config: TOKEN_IN_BODY };

  const reject = (reply: FastifyReply, status: number, reason: string): FastifyReply => {
    deps.onRejected?.(reason);
    return reply.code(status).send({ error: reason });
  };

  // A plugin of its own so that its body parsing does not depend on how the host app parses
  // (the API takes JSON as text for line-by-line decoding; a bare app parses it to objects).
  void app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      done(null, body);
    });
    api.addContentTypeParser('*', (req, _payload, done) => {
      done(new RequestError(415, `unsupported content type "${req.headers['content-type'] ?? ''}" (Flagger sends application/json)`), undefined);
    });
    api.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err instanceof BusFullError) return sendBusFull(reply, err);
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reject(reply, 413, `body larger than ${maxBodyBytes} bytes (releaseTools.maxBodyBytes)`);
      const status = err.statusCode;
      if (status !== undefined && status >= 400 && status < 500) return reject(reply, status, err.message);
      // Anything else is the host's to log and answer.
      throw err;
    });

    api.get<{ Querystring: Record<string, string | string[] | undefined> }>('/v1/argo/verdict', async (req, reply) => {
      const service = queryText(req.query, 'service');
      const canaryHash = queryText(req.query, 'canaryHash');
      const missing = [service === undefined ? 'service' : undefined, canaryHash === undefined ? 'canaryHash' : undefined].filter((n) => n !== undefined);
      if (service === undefined || canaryHash === undefined) {
        return reject(reply, 400, `missing query parameter${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(' and ')} (GET /v1/argo/verdict?service=S&canaryHash=H[&stableHash=H2])`);
      }
      const canary = argoVersion(config.argo.versionFrom, canaryHash);
      const answer = verdictAnswer(decisions, service, canary.version);
      const stableHash = queryText(req.query, 'stableHash');
      // Said only when it may explain a NONE: a hash missing from the table is looked up as it is.
      const unmapped = !canary.mapped && answer.verdict === 'NONE';
      return reply.code(200).send({
        ...answer,
        ...(unmapped ? { reason: `${answer.reason}; hash ${canaryHash} is not in releaseTools.argo.versionFrom.table, so it was looked up as the version` } : {}),
        ...(stableHash === undefined ? {} : { stableVersion: argoVersion(config.argo.versionFrom, stableHash).version }),
      });
    });

    const gate = (kind: FlaggerGate) => async (req: FastifyRequest, reply: FastifyReply) => {
      const payload = readBody(req.body);
      const release = canaryRelease(payload, targets);
      const answer = verdictAnswer(decisions, release.service, release.version);
      const open = gateOpen(kind, answer.verdict);
      return reply.code(open ? 200 : 409).send({ message: gateMessage(kind, open, answer), gate: kind, open, ...answer });
    };
    api.post('/v1/flagger/rollout', flaggerRoute, gate('rollout'));
    api.post('/v1/flagger/confirm-promotion', flaggerRoute, gate('confirm-promotion'));
    api.post('/v1/flagger/rollback', flaggerRoute, gate('rollback'));

    api.post('/v1/flagger/event', flaggerRoute, async (req, reply) => {
      const payload = readBody(req.body);
      const canary = `${payload.namespace}/${payload.name}`;
      const phase = payload.phase ?? '';
      const action = Object.hasOwn(PHASE_ACTIONS, phase) ? PHASE_ACTIONS[phase] : undefined;
      if (action === undefined) {
        lifecycle.counts.ignored++;
        return reply.code(202).send({ published: 0, skipped: `phase "${phase}" is no lifecycle step` });
      }
      const release = canaryRelease(payload, targets);
      const ts = eventTime(payload.metadata?.timestamp, now);
      const plan = lifecycle.plan(canary, { ...release, action, ts });
      if (plan.kind === 'skip') return reply.code(202).send({ published: 0, skipped: plan.why, ...release, action });
      const events = plan.steps.map((s) => deployEvent(s, canary, phase));
      // Taken as done before the publish so that a repeat arriving meanwhile is dropped; undone if it fails.
      const undo = lifecycle.commit(canary, plan.last);
      try {
        await deps.bus.publish(events);
      } catch (err) {
        undo();
        throw err;
      }
      lifecycle.counts.published += events.length;
      deps.onAccepted?.(events);
      return reply.code(202).send({ published: events.length, events: plan.steps.map((s) => ({ service: s.service, version: s.version, action: s.action })) });
    });
  });

  return { stats: () => ({ ...lifecycle.counts }) };
}

/** Whether a gate lets Flagger go on, for a verdict. */
export function gateOpen(kind: FlaggerGate, verdict: Verdict): boolean {
  switch (kind) {
    // Called at every step of the analysis: only a regression holds it (NONE is most of a canary's life).
    case 'rollout':
      return verdict !== 'FAIL';
    // PASS already implies enough evidence; Flagger asks again at the next interval.
    case 'confirm-promotion':
      return verdict === 'PASS';
    // A 2xx here makes Flagger roll back.
    case 'rollback':
      return verdict === 'FAIL';
  }
}

function gateMessage(kind: FlaggerGate, open: boolean, a: VerdictAnswer): string {
  const what = `${a.service} ${a.version} is ${a.verdict}: ${a.reason}`;
  switch (kind) {
    case 'rollout':
      return open ? `rollout may advance: ${what}` : `rollout halted: ${what}`;
    case 'confirm-promotion':
      return open ? `promotion confirmed: ${what}` : `promotion waits for PASS: ${what}`;
    case 'rollback':
      return open ? `roll back: ${what}` : `no rollback: ${what}`;
  }
}

/** The latest verdict of a version in the shape release tools read; NONE when it was never judged. */
export function verdictAnswer(decisions: Pick<DecisionReader, 'verdict'>, service: string, version: string): VerdictAnswer {
  const v = decisions.verdict(service, version);
  if (!v) {
    return {
      service, version, verdict: 'NONE', reason: 'no verdict yet: the version has not been judged (no deploy event or traffic seen)',
      score: DEFAULT_SCORE.NONE, evidence: null, windowEnd: null,
    };
  }
  return {
    service, version, verdict: v.verdict, reason: v.reasons[0] ?? DEFAULT_REASON[v.verdict], score: v.score ?? DEFAULT_SCORE[v.verdict],
    evidence: v.evidence ?? null, windowEnd: v.evidence?.windowEnd ?? v.since,
  };
}

/** One query parameter; absent, empty and repeated all count as not given. */
function queryText(query: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = Object.hasOwn(query, name) ? query[name] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function argoVersion(from: ReleaseToolsConfig['argo']['versionFrom'], hash: string): { version: string; mapped: boolean } {
  if (from === 'hash') return { version: hash, mapped: true };
  const version = Object.hasOwn(from.table, hash) ? from.table[hash] : undefined;
  return version === undefined ? { version: hash, mapped: false } : { version, mapped: true };
}

function parseFlaggerBody(body: unknown, expectedToken: Buffer | undefined): FlaggerPayload {
  const text = typeof body === 'string' ? body : '';
  if (text.trim() === '') throw new RequestError(400, 'empty body: expected the JSON object Flagger posts ({"name", "namespace", "phase", "checksum", "metadata"})');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `body is not JSON: ${cutText(err instanceof Error ? err.message : String(err), 160)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RequestError(400, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  // Checked before the payload's shape, so that a caller without the token learns nothing more.
  if (expectedToken !== undefined) {
    const metadata: unknown = (value as Record<string, unknown>).metadata;
    const given = typeof metadata === 'object' && metadata !== null && Object.hasOwn(metadata, 'token') ? (metadata as Record<string, unknown>).token : undefined;
    // Hashes of equal length, compared in constant time: the comparison says nothing of the token.
    if (typeof given !== 'string' || !timingSafeEqual(createHash('sha256').update(given).digest(), expectedToken)) {
      throw new RequestError(401, 'missing or wrong token: set the webhook\'s metadata "token" to the API token (Flagger cannot send an Authorization header)');
    }
  }
  const parsed = flaggerPayloadSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `field "${i.path.map(String).join('.')}" ${i.message}`);
    throw new RequestError(400, `not a Flagger webhook payload: ${problems.join('; ')}`);
  }
  return parsed.data;
}

function canaryRelease(p: FlaggerPayload, targets: ReadonlyMap<string, z.infer<typeof flaggerTargetSchema>>): CanaryRelease {
  const target = targets.get(`${p.namespace}/${p.name}`);
  const service = target?.service ?? p.name;
  const from = target?.version ?? 'checksum';
  let version: string | undefined;
  if (from === 'checksum') {
    version = p.checksum;
    if (version === undefined || version === '') {
      throw new RequestError(400, `payload for canary ${p.namespace}/${p.name} has no "checksum" (older Flagger releases send none): map its version from webhook metadata in releaseTools.flagger.targets`);
    }
  } else {
    const meta = p.metadata ?? {};
    version = Object.hasOwn(meta, from.metadata) ? meta[from.metadata] : undefined;
    if (version === undefined || version === '') {
      throw new RequestError(400, `payload for canary ${p.namespace}/${p.name} has no metadata "${from.metadata}" (releaseTools.flagger.targets reads the version from it): set it in this webhook's metadata in the Canary`);
    }
    if (version.length > LIMITS.maxIdChars) throw new RequestError(400, `metadata "${from.metadata}" is longer than ${LIMITS.maxIdChars} characters`);
  }
  return { service, version };
}

/** Event time of a Flagger event: its `timestamp` metadata (epoch milliseconds as text), else now. */
function eventTime(timestamp: string | undefined, now: () => number): number {
  if (timestamp === undefined) return now();
  const ms = /^\d{1,16}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!(ms <= MAX_EVENT_TIME_MS)) throw new RequestError(400, `metadata "timestamp" must be epoch milliseconds, got ${JSON.stringify(cutText(timestamp, 40))}`);
  return ms;
}

/** One lifecycle step of one canary version. */
interface Step extends CanaryRelease {
  readonly action: DeployAction;
  readonly ts: number;
}

type Plan = { readonly kind: 'skip'; readonly why: 'duplicate' | 'stale' | 'already ended' } | { readonly kind: 'publish'; readonly steps: readonly Step[]; readonly last: Step };

const ENDED: ReadonlySet<DeployAction> = new Set(['promote', 'rollback', 'finish']);

/**
 * The last step published for each canary, so that Flagger's stream of events (one per action
 * it takes, many per phase) becomes one deploy event per lifecycle change. Bounded: the least
 * recently changed canaries are forgotten first, and a forgotten canary's next event is
 * published again, which the engine takes as a repeat.
 */
class CanaryLifecycle {
  private readonly last = new Map<string, Step>();
  readonly counts: ReleaseToolsStats = { published: 0, duplicates: 0, stale: 0, ignored: 0, forgotten: 0 };

  constructor(private readonly capacity: number) {}

  plan(canary: string, step: Step): Plan {
    const prev = this.last.get(canary);
    if (prev === undefined) return { kind: 'publish', steps: [step], last: step };
    if (step.ts < prev.ts) return this.skip('stale');
    if (prev.service === step.service && prev.version === step.version) {
      if (prev.action === step.action) return this.skip('duplicate');
      if (ENDED.has(prev.action) && ENDED.has(step.action)) return this.skip('already ended');
      return { kind: 'publish', steps: [step], last: step };
    }
    // A new revision of the same canary replaces one still being analysed: that one is over.
    const steps = prev.action === 'start' ? [{ ...prev, action: 'finish' as const, ts: step.ts }, step] : [step];
    return { kind: 'publish', steps, last: step };
  }

  /** Records a canary's step; the returned function restores what was there before. */
  commit(canary: string, step: Step): () => void {
    const prev = this.last.get(canary);
    this.last.delete(canary);
    this.last.set(canary, step);
    let evicted: [string, Step] | undefined;
    if (this.last.size > this.capacity) {
      const oldest = this.last.entries().next().value as [string, Step];
      this.last.delete(oldest[0]);
      this.counts.forgotten++;
      evicted = oldest;
    }
    return () => {
      this.last.delete(canary);
      if (prev !== undefined) this.last.set(canary, prev);
      if (evicted !== undefined && !this.last.has(evicted[0])) {
        this.last.set(evicted[0], evicted[1]);
        this.counts.forgotten--;
      }
    };
  }

  private skip(why: 'duplicate' | 'stale' | 'already ended'): Plan {
    if (why === 'stale') this.counts.stale++;
    else this.counts.duplicates++;
    return { kind: 'skip', why };
  }
}

/** A lifecycle step as a deploy event, through the same decoder as every other input. */
function deployEvent(step: Step, canary: string, phase: string): VigilEvent {
  const decoded = decodeValue({
    type: 'deploy', ts: new Date(step.ts).toISOString(), service: step.service, version: step.version, role: 'canary', action: step.action,
    labels: { source: 'flagger', canary, phase },
  });
  if (!decoded.ok) throw new RequestError(400, `the deploy event for canary ${canary} is invalid: ${decoded.reason}`);
  return decoded.event;
}
