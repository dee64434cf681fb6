/**
 * Turns a scenario spec into the event stream an engine would receive: deploy events,
 * requests or metric samples, log lines and webhooks, each in the contract's wire shape
 * (field order as in the shared samples), with tags dropped and delivery delayed as the
 * spec's delivery settings say, sorted by the moment each event is emitted.
 */
import type { DeployAction, Deployment, Role, ScenarioSpec, ServiceSpec, WebhookSource } from './model.js';
import { createRng, type Rng } from './random.js';
import { loadCurve, simulateInstance, type ServedRequest } from './traffic.js';
import { notificationsOf } from './webhooks.js';

/** A `request` event on the wire. */
export interface WireRequest {
  readonly type: 'request';
  readonly ts: string;
  readonly service: string;
  readonly instance: string;
  readonly route: string;
  readonly status: number;
  readonly latency_ms: number;
  readonly version?: string;
}

/** A `log` event on the wire. */
export interface WireLog {
  readonly type: 'log';
  readonly ts: string;
  readonly service: string;
  readonly instance: string;
  readonly level: string;
  readonly message: string;
  readonly version?: string;
}

/** A `metric` event on the wire. */
export interface WireMetric {
  readonly type: 'metric';
  readonly ts: string;
  readonly service: string;
  readonly instance: string;
  readonly name: string;
  readonly value: number;
  readonly unit?: string;
  readonly version?: string;
}

/** A `deploy` event on the wire. */
export interface WireDeploy {
  readonly type: 'deploy';
  readonly ts: string;
  readonly service: string;
  readonly version: string;
  readonly role: Role;
  readonly action: DeployAction;
  readonly instances: readonly string[];
  readonly release?: string;
}

/** A `webhook` event on the wire. */
export interface WireWebhook {
  readonly type: 'webhook';
  readonly ts: string;
  readonly source: WebhookSource;
  readonly body: unknown;
}

/** Any event on the wire. */
export type WireEvent = WireRequest | WireLog | WireMetric | WireDeploy | WireWebhook;

/** One generated event with its event time and the time it is emitted (later when late). */
export interface TimedEvent {
  /** Event time, offset from the scenario start. */
  readonly tsMs: number;
  /** Emission time, offset from the scenario start; the stream is sorted by it. */
  readonly emitMs: number;
  readonly event: WireEvent;
}

/** Width of a metrics-emitting service's counter buckets. */
export const METRIC_BUCKET_MS = 10_000;

/**
 * ISO-8601 text of epoch milliseconds, as `Date#toISOString` gives it. Formatting a Date
 * per event dominated generation time; the minute prefix changes rarely within one
 * instance's time-ordered events, so it is cached.
 */
function isoFormatter(): (epochMs: number) => string {
  let minute = Number.NaN;
  let prefix = '';
  return (epochMs) => {
    const m = Math.floor(epochMs / 60_000);
    if (m !== minute) {
      minute = m;
      prefix = new Date(m * 60_000).toISOString().slice(0, 17);
    }
    const inMinute = epochMs - m * 60_000;
    const sec = Math.floor(inMinute / 1000);
    const ms = inMinute - sec * 1000;
    return `${prefix}${sec < 10 ? '0' : ''}${sec}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  };
}

interface Collected extends TimedEvent {
  readonly seq: number;
}

interface Collector {
  readonly out: Collected[];
  seq: number;
}

function add(c: Collector, tsMs: number, emitMs: number, event: WireEvent): void {
  c.out.push({ tsMs, emitMs, seq: c.seq++, event });
}

/** Decides per event whether it loses its version tag and how late it is emitted. */
class DeliveryDraws {
  private readonly rng: Rng;
  private readonly idle: boolean;
  private readonly untag: boolean;
  /** Tag decision of the last `next` call (kept in fields: one tuple per event was measurable). */
  tagged = true;
  emitMs = 0;

  constructor(
    private readonly spec: ScenarioSpec,
    stream: string,
    untagThisDeployment: boolean,
  ) {
    this.rng = createRng(spec.seed, `delivery/${stream}`);
    const d = spec.delivery;
    this.untag = untagThisDeployment && d.untaggedShare > 0;
    this.idle = !this.untag && d.lateShare <= 0 && d.veryLateShare <= 0;
  }

  /** Decides for one event; three draws per event whenever delivery does anything. */
  next(tsMs: number): void {
    this.tagged = true;
    this.emitMs = tsMs;
    if (this.idle) return;
    const d = this.spec.delivery;
    const uTag = this.rng.next();
    const uLate = this.rng.next();
    const uDelay = this.rng.next();
    this.tagged = !(this.untag && uTag < d.untaggedShare);
    if (uLate < d.veryLateShare) this.emitMs = tsMs + d.veryLateMinMs + Math.floor(uDelay * (d.veryLateMaxMs - d.veryLateMinMs));
    else if (uLate < d.veryLateShare + d.lateShare) this.emitMs = tsMs + 1 + Math.floor(uDelay * d.lateMaxMs);
  }
}

function emitDeploys(c: Collector, spec: ScenarioSpec, service: string, dep: Deployment): void {
  const instances = dep.instances.map((i) => i.name);
  const make = (atMs: number, action: WireDeploy['action']): WireDeploy => ({
    type: 'deploy',
    ts: new Date(spec.startEpochMs + atMs).toISOString(),
    service,
    version: dep.version,
    role: dep.role,
    action,
    instances,
    ...(dep.release === undefined ? {} : { release: dep.release }),
  });
  add(c, dep.startMs, dep.startMs, make(dep.startMs, 'start'));
  for (const step of dep.steps) if (step.atMs < spec.durationMs) add(c, step.atMs, step.atMs, make(step.atMs, step.action));
}

function emitRequests(c: Collector, spec: ScenarioSpec, svc: ServiceSpec, dep: Deployment, instance: string, served: readonly ServedRequest[], delivery: DeliveryDraws): void {
  const service = svc.profile.name;
  const version = dep.version;
  const iso = isoFormatter();
  for (const r of served) {
    delivery.next(r.tsMs);
    const ts = iso(spec.startEpochMs + r.tsMs);
    const req: WireRequest = delivery.tagged
      ? { type: 'request', ts, service, instance, route: r.route, status: r.status, latency_ms: r.latencyMs, version }
      : { type: 'request', ts, service, instance, route: r.route, status: r.status, latency_ms: r.latencyMs };
    add(c, r.tsMs, delivery.emitMs, req);
    if (r.logs.length > 0) emitLogs(c, spec, service, version, instance, r, delivery);
  }
}

function emitLogs(c: Collector, spec: ScenarioSpec, service: string, version: string, instance: string, r: ServedRequest, delivery: DeliveryDraws): void {
  for (const l of r.logs) {
    const tsMs = r.tsMs + 1;
    delivery.next(tsMs);
    const ts = new Date(spec.startEpochMs + tsMs).toISOString();
    const log: WireLog = delivery.tagged
      ? { type: 'log', ts, service, instance, level: l.level, message: l.message, version }
      : { type: 'log', ts, service, instance, level: l.level, message: l.message };
    add(c, tsMs, delivery.emitMs, log);
  }
}

function emitMetrics(c: Collector, spec: ScenarioSpec, svc: ServiceSpec, dep: Deployment, instance: string, fromMs: number, untilMs: number, served: readonly ServedRequest[], delivery: DeliveryDraws, rng: Rng): void {
  const service = svc.profile.name;
  const metric = (tsMs: number, name: string, value: number, unit: string | undefined): void => {
    delivery.next(tsMs);
    const m: WireMetric = {
      type: 'metric',
      ts: new Date(spec.startEpochMs + tsMs).toISOString(),
      service,
      instance,
      name,
      value,
      ...(unit === undefined ? {} : { unit }),
    };
    add(c, tsMs, delivery.emitMs, delivery.tagged ? { ...m, version: dep.version } : m);
  };
  // Buckets are aligned to the scenario's clock, like a scraper's interval.
  let i = 0;
  const firstBucket = Math.floor(fromMs / METRIC_BUCKET_MS) * METRIC_BUCKET_MS;
  const memoryBaseMb = 380 + rng.next() * 60;
  for (let b = firstBucket; b < untilMs; b += METRIC_BUCKET_MS) {
    const end = Math.min(b + METRIC_BUCKET_MS, untilMs, spec.durationMs);
    let requests = 0;
    let errors = 0;
    for (; i < served.length && (served[i]?.tsMs ?? Infinity) < end; i++) {
      const r = served[i] as ServedRequest;
      requests++;
      if (r.status >= 500) errors++;
      if (r.sampled) metric(r.tsMs, 'latency_ms', r.latencyMs, 'ms');
      emitLogs(c, spec, service, dep.version, instance, r, delivery);
    }
    const reportAt = Math.max(end - 1, fromMs);
    metric(reportAt, 'requests', requests, undefined);
    metric(reportAt, 'errors', errors, undefined);
    metric(reportAt, 'memory_mb', Math.round((memoryBaseMb + rng.normal() * 4) * 10) / 10, 'MB');
  }
}

/** Generates every event of a scenario, sorted by emission time (stable for ties). */
export function generate(spec: ScenarioSpec): TimedEvent[] {
  const c: Collector = { out: [], seq: 0 };
  for (const svc of spec.services) {
    for (const dep of svc.deployments) emitDeploys(c, spec, svc.profile.name, dep);
  }
  for (const svc of spec.services) {
    const service = svc.profile.name;
    const load = loadCurve(spec.seed, service, svc.load);
    for (const dep of svc.deployments) {
      const untag = spec.delivery.untaggedShare > 0 && (spec.delivery.untaggedVersions === undefined || spec.delivery.untaggedVersions.includes(dep.version));
      for (const inst of dep.instances) {
        const spread = createRng(spec.seed, `spread/${service}/${inst.name}/${inst.fromMs}`);
        // Load balancers are never perfectly even: +-4% per instance unless set.
        const factor = inst.rateFactor ?? 1 + 0.08 * (spread.next() - 0.5);
        const untilMs = Math.min(inst.untilMs ?? spec.durationMs, spec.durationMs);
        const served = simulateInstance({
          seed: spec.seed,
          profile: svc.profile,
          version: dep.version,
          instance: inst.name,
          fromMs: inst.fromMs,
          untilMs,
          ratePerSecond: dep.ratePerInstance * factor,
          load,
          faults: spec.faults,
        });
        const delivery = new DeliveryDraws(spec, `${service}/${inst.name}/${inst.fromMs}`, untag);
        if (svc.emission === 'requests') emitRequests(c, spec, svc, dep, inst.name, served, delivery);
        else emitMetrics(c, spec, svc, dep, inst.name, inst.fromMs, untilMs, served, delivery, spread);
      }
    }
  }
  for (const rule of spec.alerts) {
    for (const n of notificationsOf(rule, spec.seed, spec.startEpochMs)) {
      if (n.tsMs < 0 || n.tsMs >= spec.durationMs) continue;
      add(c, n.tsMs, n.tsMs, { type: 'webhook', ts: new Date(spec.startEpochMs + n.tsMs).toISOString(), source: n.source, body: n.body });
    }
  }
  c.out.sort((a, b) => a.emitMs - b.emitMs || a.tsMs - b.tsMs || a.seq - b.seq);
  return c.out;
}

/** The NDJSON text of a generated stream, one event per line, ending with a newline. */
export function toNdjson(events: readonly TimedEvent[]): string {
  const lines = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) lines[i] = JSON.stringify((events[i] as TimedEvent).event);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
