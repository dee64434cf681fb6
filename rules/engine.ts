/**
 * The pure engine: events in, decisions out, driven by event time alone. Read top to bottom
 * it is the pipeline: tag by release -> event-time windows -> judge -> verdicts -> incidents.
 * No I/O, timers or wall clock: a replay of the same input gives the same decisions.
 */
import type { DeployEvent, LogEvent, MetricEvent, RequestEvent, VigilEvent, WebhookEvent } from './events.js';
import { isErrorLevel, isErrorRequest } from './events.js';
import type { Decision, Verdict, VerdictDecision } from './decisions.js';
import { isoTime } from './decisions.js';
import type { RulesConfig } from './config.js';
import { quantile, setSketchAccuracy } from './aggregate.js';
import { type Bins, sketchOfBins } from './bins.js';
import { DeployRegistry, UNKNOWN_VERSION, type LifecycleChange, type Placement, type VersionInfo } from './registry.js';
import { type Cohort, OVERFLOW_ROUTE, ServiceWindows, SliceRing } from './window.js';
import { type Candidate, type Comparison, type Effect, JudgeState, judgeWindows, summarise } from './judge.js';
import { COUNT_FIELDS, countTestFromSums } from './stats.js';
import { Judgment, duration } from './verdicts.js';
import { IncidentBook } from './incidents.js';
import { errorSignature, routeTemplate } from './signature.js';
import { channelsFor } from './routing.js';
import { CHECKPOINT_FORMAT, type EngineCheckpoint } from './checkpoint.js';
import { AlertBook, toAlert } from './alerts.js';
import type { Silence } from './silences.js';

/** Counts the engine keeps about what it saw. */
export interface EngineStats {
  readonly accepted: number;
  readonly late: number;
  /** Request, log and metric events stored in a time slice (accepted = windowed + late + deploys + webhooks). */
  readonly windowed: number;
  readonly deploys: number;
  readonly unknownVersion: number;
  readonly overflowSeries: number;
  readonly webhooks: number;
  /** Events refused for being further ahead of the watermark than `window.maxAheadMs` (not in `accepted`). */
  readonly tooFarAhead: number;
  readonly decisions: Readonly<Record<string, number>>;
}

/** Whether the engine took an event; a refused one changed nothing and says why. */
export type Admission = { readonly kind: 'taken' } | { readonly kind: 'refused'; readonly reason: string };

const TAKEN: Admission = { kind: 'taken' };

/** The engine as its drivers (replay, the service) see it. */
export interface Engine {
  /** Feeds one event; decisions come out through the sink given at creation. */
  push(event: VigilEvent): Admission;
  /**
   * Moves event time forward with no event: the driver's estimate of the newest event time
   * when the stream is quiet (a live service extrapolates it from the wall clock), so that
   * windows close and incidents recover without new traffic. Never moves time back.
   */
  advanceTo(eventTimeMs: number): void;
  /** Ends the stream: closes every window and makes the final decisions. */
  finish(): void;
  /** What the engine holds right now: services, series (version x route) and judgments in progress. */
  live(): { readonly services: number; readonly series: number; readonly judgments: number };
  /**
   * A judged version and its comparison side by side, slice by slice over the closed
   * slices the windows still hold (for charts); undefined when the version is not judged.
   * `route` narrows it to one route.
   */
  series(service: string, version: string, route?: string): ReleaseSeries | undefined;
  stats(): EngineStats;
  /** What the engine must carry over a rebuild from retained events (see checkpoint.ts). */
  checkpoint(): EngineCheckpoint;
}

/** Where decisions go. */
export type DecisionSink = (decision: Decision) => void;

/** One side of a chart point: traffic, errors and latency quantiles of one slice. */
export interface SeriesSide {
  readonly requests: number;
  readonly errors: number;
  /** Milliseconds; null when the slice holds no latency values. */
  readonly p50: number | null;
  readonly p99: number | null;
}

/** A judged version against its comparison over time, one point per closed slice. */
export interface ReleaseSeries {
  readonly service: string;
  readonly version: string;
  readonly comparedWith: string;
  readonly route: string | undefined;
  /** Routes of the version, for choosing one. */
  readonly routes: readonly string[];
  readonly sliceMs: number;
  readonly points: readonly { readonly t: string; readonly canary: SeriesSide; readonly comparison: SeriesSide }[];
}

/** Odds a sibling canary's own count must give "the shared bug" over "no difference" to be blamed with it. */
const SHARED_BUG_ODDS = 100;

/** Raw routes whose templates are remembered (distinct ids in paths would otherwise grow it). */
const ROUTE_TEMPLATE_CACHE = 10_000;

/** Route of request events that carry none. */
const NO_ROUTE = '(none)';
/** Signature that collects error messages past the per-service cap. */
const OVERFLOW_SIGNATURE = '(other error messages)';

/** What an engine reads from outside its events: the silences made through the API. */
export interface EnginePorts {
  /** Silences in force now (the config file's are the engine's own); none when absent. */
  readonly silences?: () => readonly Silence[];
}

/** Creates an engine with the given settings; `from` starts it from a checkpoint, before any event. */
export function createEngine(config: RulesConfig, emit: DecisionSink, from?: EngineCheckpoint, ports: EnginePorts = {}): Engine {
  const engine = new EventTimeEngine(config, emit, ports);
  if (from) engine.restore(from);
  return engine;
}

/** A service's windows and its resolved tags, valid until the service's next deploy event. */
interface Intake {
  readonly win: ServiceWindows;
  /** The registry's instance placements of the service (live), when it has any. */
  readonly placements: ReadonlyMap<string, Placement> | undefined;
  /** Main cohorts by version, with the version's registry record (none for `unknown`). */
  readonly mains: Map<string, { readonly info: VersionInfo | undefined; readonly cohort: Cohort }>;
}

class EventTimeEngine implements Engine {
  private readonly registry = new DeployRegistry();
  private readonly services = new Map<string, ServiceWindows>();
  private readonly judgments = new Map<string, Judgment>();
  private readonly incidents: IncidentBook;
  private readonly alerts: AlertBook;
  private readonly sliceMs: number;
  private readonly ringSize: number;
  private readonly evaluateEverySlices: number;
  /** Lifecycle changes wait for the watermark, so evidence up to the change still counts. */
  private readonly pendingLifecycle: LifecycleChange[] = [];
  private maxTs = -Infinity;
  /** Last slice closed by the watermark; events for it or older are late. */
  private closedSlot = Number.NaN;
  private accepted = 0;
  private late = 0;
  private windowed = 0;
  private deploys = 0;
  private unknownVersion = 0;
  private overflowSeries = 0;
  private webhooks = 0;
  private tooFarAhead = 0;
  private readonly decisionCounts: Record<string, number> = {};
  private readonly routeTemplates = new Map<string, string>();
  /** Per service, what event tags resolved to: the same few arrive millions of times. */
  private readonly intake = new Map<string, Intake>();
  private readonly out: DecisionSink;

  constructor(private readonly cfg: RulesConfig, emit: DecisionSink, ports: EnginePorts) {
    setSketchAccuracy(cfg.window.sketchRelativeAccuracy);
    this.sliceMs = cfg.window.sliceMs;
    this.ringSize = Math.ceil(cfg.window.horizonMs / cfg.window.sliceMs) + 2;
    this.evaluateEverySlices = Math.max(1, Math.round(cfg.judge.evaluateEveryMs / cfg.window.sliceMs));
    this.out = (d) => {
      this.decisionCounts[d.type] = (this.decisionCounts[d.type] ?? 0) + 1;
      emit(d);
    };
    this.incidents = new IncidentBook({
      route: (what) => channelsFor(what, cfg.routing, cfg.incidents.channels), recoverAfterMs: cfg.incidents.recoverAfterMs,
      adopt: (service) => this.alerts.adoptable(service),
    }, this.out);
    const noSilences: readonly Silence[] = [];
    this.alerts = new AlertBook(cfg.alerts, {
      route: (what) => channelsFor(what, cfg.routing, cfg.incidents.channels),
      releaseIncident: (service) => {
        for (const inc of this.incidents.openIncidents()) if (inc.service === service) return { id: inc.id, versions: inc.versions, signals: [...inc.signals], severity: inc.severity };
        return undefined;
      },
      canaries: (service) => {
        const out = new Map<string, { failed: boolean }>();
        for (const j of this.judgments.values()) if (j.service === service && j.kind === 'canary' && !j.ended) out.set(j.version, { failed: j.verdict === 'FAIL' });
        return out;
      },
      silences: ports.silences ?? (() => noSilences),
    }, this.out);
  }

  live(): { services: number; series: number; judgments: number } {
    let series = 0, judgments = 0;
    for (const win of this.services.values()) series += win.seriesCount;
    for (const j of this.judgments.values()) if (!j.ended) judgments++;
    return { services: this.services.size, series, judgments };
  }

  stats(): EngineStats {
    return {
      accepted: this.accepted, late: this.late, windowed: this.windowed, deploys: this.deploys, unknownVersion: this.unknownVersion,
      overflowSeries: this.overflowSeries, webhooks: this.webhooks, tooFarAhead: this.tooFarAhead, decisions: { ...this.decisionCounts },
    };
  }

  checkpoint(): EngineCheckpoint {
    const { versions, placements } = this.registry.records();
    const judgments = [...this.judgments.values()].map((j) => ({
      service: j.service, version: j.version, kind: j.kind, startTs: j.startTs, ...(j.release !== undefined ? { release: j.release } : {}),
      ...(j.verdict !== undefined ? { verdict: j.verdict } : {}), reasons: [...j.reasons], ended: j.ended, comparedWith: j.comparedWith,
    }));
    const lifecycle = this.pendingLifecycle.map((c) => ({ ts: c.ts, service: c.service, version: c.version, action: c.action, role: c.role }));
    const alerts = this.alerts.records();
    const withAlerts = alerts.groups.length > 0 || alerts.flaps.length > 0 || alerts.usedIds.length > 0 ? { alerts } : {};
    return { format: CHECKPOINT_FORMAT, versions, placements, judgments, incidents: this.incidents.records(), lifecycle, ...withAlerts };
  }

  /** Takes a checkpoint's state; only before the first event. */
  restore(from: EngineCheckpoint): void {
    this.registry.restore(from.versions, from.placements);
    for (const r of from.judgments) {
      const j = new Judgment(r.service, r.version, r.kind, r.startTs, r.release);
      j.verdict = r.verdict;
      j.reasons = r.reasons;
      j.ended = r.ended;
      j.comparedWith = r.comparedWith;
      this.judgments.set(judgmentKey(r.service, r.version), j);
    }
    for (const r of from.lifecycle) {
      const info = this.registry.info(r.service, r.version);
      if (info) this.pendingLifecycle.push({ ts: r.ts, service: r.service, version: r.version, action: r.action, role: r.role, info });
    }
    this.incidents.restore(from.incidents);
    if (from.alerts) this.alerts.restore(from.alerts);
    for (const service of new Set(from.judgments.map((j) => j.service))) {
      if (!this.services.has(service)) this.services.set(service, new ServiceWindows(service));
      this.refreshTracked(service);
    }
  }

  push(e: VigilEvent): Admission {
    // The watermark trails the newest event by the allowed lateness.
    const aheadMs = e.ts - (this.maxTs - this.cfg.window.allowedLatenessMs);
    if (this.maxTs !== -Infinity && aheadMs > this.cfg.window.maxAheadMs) {
      this.tooFarAhead++;
      return { kind: 'refused', reason: `event time ${isoTime(e.ts)} is ${duration(aheadMs)} ahead of the stream's watermark (more than window.maxAheadMs)` };
    }
    this.accepted++;
    switch (e.type) {
      case 'request': this.onRequest(e); break;
      case 'log': this.onLog(e); break;
      case 'metric': this.onMetric(e); break;
      case 'deploy': this.deploys++; this.onDeploy(e); break;
      case 'webhook': this.webhooks++; this.onWebhook(e); break;
    }
    if (e.ts > this.maxTs) {
      this.maxTs = e.ts;
      this.advance(e.ts - this.cfg.window.allowedLatenessMs);
    }
    return TAKEN;
  }

  advanceTo(eventTimeMs: number): void {
    // Only forwards, and only once the stream has begun: before the first event there is no slice to close.
    if (this.maxTs === -Infinity || !(eventTimeMs > this.maxTs)) return;
    this.maxTs = eventTimeMs;
    this.advance(eventTimeMs - this.cfg.window.allowedLatenessMs);
  }

  finish(): void {
    if (this.maxTs === -Infinity) return;
    // Everything seen is final now: close the slice holding the newest event.
    this.advance(Math.floor(this.maxTs / this.sliceMs) * this.sliceMs + this.sliceMs, true);
  }

  series(service: string, version: string, route?: string): ReleaseSeries | undefined {
    const judgment = this.judgments.get(judgmentKey(service, version));
    const win = this.services.get(service);
    if (!judgment || !win || Number.isNaN(this.closedSlot)) return undefined;
    const cmp = this.comparisonFor(win, judgment, this.closedSlot);
    const canary = win.cohorts.get(version)?.main;
    if (!canary) return undefined;
    const against = cmp?.history ? [] : (cmp?.against ?? []);
    const ringsOf = (cohorts: readonly Cohort[]): SliceRing[] => {
      const out: SliceRing[] = [];
      for (const c of cohorts) {
        if (route === undefined) for (const r of c.routes.values()) out.push(r);
        else { const r = c.routes.get(route); if (r) out.push(r); }
      }
      return out;
    };
    const mine = ringsOf([canary]), theirs = ringsOf(against);
    const side = (rings: readonly SliceRing[], t: number): SeriesSide => {
      let requests = 0, errors = 0;
      const lists: Bins[] = [];
      for (const r of rings) {
        requests += r.requestsAt(t);
        errors += r.errorsAt(t);
        const b = r.binsAt(t);
        if (b) lists.push(b);
      }
      const sketch = sketchOfBins(lists);
      const q = (p: number): number | null => (sketch ? Math.round(quantile(sketch, p) * 100) / 100 : null);
      return { requests, errors, p50: q(0.5), p99: q(0.99) };
    };
    const first = Math.max(Math.floor(judgment.startTs / this.sliceMs), this.closedSlot - this.ringSize + 3);
    const points: { t: string; canary: SeriesSide; comparison: SeriesSide }[] = [];
    for (let t = first; t <= this.closedSlot; t++) points.push({ t: isoTime(t * this.sliceMs), canary: side(mine, t), comparison: side(theirs, t) });
    return {
      service, version, comparedWith: cmp?.label ?? judgment.comparedWith, route, routes: [...canary.routes.keys()], sliceMs: this.sliceMs, points,
    };
  }

  // ---- tag by release and store in event-time windows

  /** The slice an event falls into, or undefined (counted) when it is later than allowed. */
  private sliceOf(ts: number): number | undefined {
    const s = Math.floor(ts / this.sliceMs);
    if (s <= this.closedSlot) {
      this.late++;
      return undefined;
    }
    if (Number.isNaN(this.closedSlot)) this.closedSlot = s - 1;
    this.windowed++;
    return s;
  }

  /** The intake of a service: its windows and what its tags resolved to so far. */
  private intakeOf(service: string): Intake {
    let svc = this.intake.get(service);
    if (!svc) {
      let win = this.services.get(service);
      if (!win) this.services.set(service, (win = new ServiceWindows(service)));
      svc = { win, placements: this.registry.placementsOf(service), mains: new Map() };
      this.intake.set(service, svc);
    }
    return svc;
  }

  /**
   * The cohort an event belongs to: its instance's placement when the version agrees (or the
   * event has none), else the main cohort of its version tag, else `unknown`.
   */
  private cohortFor(svc: Intake, version: string | undefined, instance: string | undefined, ts: number): Cohort {
    if (instance !== undefined && svc.placements !== undefined) {
      const p = svc.placements.get(instance);
      if (p && (version === undefined || p.version === version)) {
        return p.flavor === 'main' ? this.mainCohort(svc, p.version, ts) : svc.win.cohort(p.version, p.flavor, this.ringSize);
      }
    }
    return this.mainCohort(svc, version ?? UNKNOWN_VERSION, ts);
  }

  private mainCohort(svc: Intake, version: string, ts: number): Cohort {
    let main = svc.mains.get(version);
    if (!main) {
      const info = this.registry.observe(svc.win.service, version, ts);
      main = { info, cohort: svc.win.cohort(version, 'main', this.ringSize) };
      svc.mains.set(version, main);
    }
    const info = main.info;
    if (info === undefined) this.unknownVersion++;
    else if (info.inferred && info.role === 'canary' && info.state === 'active') this.ensureJudgment(info, 'canary');
    return main.cohort;
  }

  private ring(win: ServiceWindows, cohort: Cohort, route: string, metric: boolean): SliceRing {
    const map = metric ? cohort.metrics : cohort.routes;
    let r = map.get(route);
    if (r) return r;
    if (win.seriesCount >= this.cfg.window.maxSeriesPerService) {
      this.overflowSeries++;
      win.overflowed++;
      r = map.get(OVERFLOW_ROUTE);
      if (r) return r;
      route = OVERFLOW_ROUTE;
    }
    win.seriesCount++;
    r = new SliceRing(this.ringSize);
    map.set(route, r);
    return r;
  }

  /** The template of a raw route, remembered: the same few routes arrive millions of times. */
  private route(raw: string): string {
    let t = this.routeTemplates.get(raw);
    if (t === undefined) {
      t = routeTemplate(raw);
      if (this.routeTemplates.size < ROUTE_TEMPLATE_CACHE) this.routeTemplates.set(raw, t);
    }
    return t;
  }

  private onRequest(e: RequestEvent): void {
    const s = this.sliceOf(e.ts);
    if (s === undefined) return;
    const svc = this.intakeOf(e.service);
    const win = svc.win;
    const cohort = this.cohortFor(svc, e.version, e.instance, e.ts);
    const ring = this.ring(win, cohort, e.route !== undefined ? this.route(e.route) : NO_ROUTE, false);
    ring.add(s, 1, isErrorRequest(e) ? 1 : 0, e.latencyMs, win.tracked);
    cohort.touch(s);
    cohort.requestsTotal++;
  }

  private onMetric(e: MetricEvent): void {
    const s = this.sliceOf(e.ts);
    if (s === undefined) return;
    const svc = this.intakeOf(e.service);
    const win = svc.win;
    const cohort = this.cohortFor(svc, e.version, e.instance, e.ts);
    const route = e.labels?.['route'] !== undefined ? this.route(e.labels['route']) : NO_ROUTE;
    switch (e.name) {
      case 'requests':
        this.ring(win, cohort, route, false).add(s, e.value, 0, undefined, win.tracked);
        cohort.requestsTotal += e.value;
        break;
      case 'errors':
        this.ring(win, cohort, route, false).add(s, 0, e.value, undefined, win.tracked);
        break;
      case 'latency_ms':
        this.ring(win, cohort, route, false).add(s, 0, 0, e.value, win.tracked);
        break;
      default:
        this.ring(win, cohort, e.name, true).add(s, 1, 0, e.value, win.tracked);
    }
    cohort.touch(s);
  }

  private onLog(e: LogEvent): void {
    const s = this.sliceOf(e.ts);
    if (s === undefined) return;
    const svc = this.intakeOf(e.service);
    const win = svc.win;
    const cohort = this.cohortFor(svc, e.version, e.instance, e.ts);
    cohort.logLines.add(s, 1, 0, undefined, false);
    cohort.touch(s);
    if (!isErrorLevel(e.level)) return;
    let sig = errorSignature(e.message, e.errorType);
    if (!win.signatureNames.has(sig)) {
      if (win.signatureNames.size >= this.cfg.window.maxSignaturesPerService) sig = OVERFLOW_SIGNATURE;
      else win.signatureNames.add(sig);
    }
    cohort.signatures.add(s, sig);
    if (!this.judgments.has(judgmentKey(e.service, cohort.version)) && cohort.version !== UNKNOWN_VERSION) {
      win.knownSignatures.add(sig);
    }
  }

  private onWebhook(e: WebhookEvent): void {
    if (e.alerts.length === 0) return;
    const known = (): Iterable<string> => this.services.keys();
    const versionOf = (service: string, instance: string): string | undefined => this.registry.placementsOf(service)?.get(instance)?.version;
    this.alerts.add(e.alerts.map((raw) => toAlert(raw, e.source, e.ts, this.cfg.alerts, known, versionOf)), e.ts);
  }

  private onDeploy(e: DeployEvent): void {
    const change = this.registry.apply(e);
    // Placements may have changed: the service's tags resolve afresh from its next event on.
    this.intake.delete(e.service);
    const info = change.info;
    if (e.role !== 'baseline' && e.action === 'start') {
      if (e.role === 'canary') this.ensureJudgment(info, 'canary');
      else if (info.replaced !== undefined) this.ensureJudgment(info, 'rollout');
    }
    if (e.action !== 'start' && e.role !== 'baseline') this.pendingLifecycle.push(change);
  }

  private ensureJudgment(info: VersionInfo, kind: 'canary' | 'rollout'): void {
    const key = judgmentKey(info.service, info.version);
    const existing = this.judgments.get(key);
    if (existing && !existing.ended) {
      existing.release = info.release;
      return;
    }
    this.judgments.set(key, new Judgment(info.service, info.version, kind, info.startTs, info.release));
    let win = this.services.get(info.service);
    if (!win) this.services.set(info.service, (win = new ServiceWindows(info.service)));
    win.tracked = true;
  }

  // ---- watermark: close slices, evaluate, apply lifecycle changes in event time

  private advance(watermark: number, final = false): void {
    if (Number.isNaN(this.closedSlot)) {
      // A stream of alerts alone has no slices, but its timers still run on the watermark.
      this.alerts.advance(watermark);
      return;
    }
    const target = Math.floor(watermark / this.sliceMs) - 1;
    if (target <= this.closedSlot) {
      this.applyLifecycle(watermark);
      this.alerts.advance(watermark);
      return;
    }
    // A jump longer than the horizon leaves nothing to judge in between: skip to its end.
    if (target - this.closedSlot > this.ringSize) this.closedSlot = target - this.ringSize;
    while (this.closedSlot < target) {
      const s = ++this.closedSlot;
      const endTs = (s + 1) * this.sliceMs;
      for (const win of this.services.values()) win.closeSlice(s);
      this.applyLifecycle(endTs);
      if ((s + 1) % this.evaluateEverySlices === 0 || (final && s === target)) {
        this.evaluate(s, final && s === target ? Math.min(endTs, this.maxTs) : endTs);
      }
      this.alerts.advance(endTs);
    }
    this.alerts.advance(watermark);
  }

  private applyLifecycle(upTo: number): void {
    if (this.pendingLifecycle.length === 0) return;
    this.pendingLifecycle.sort((a, b) => a.ts - b.ts);
    while (this.pendingLifecycle.length > 0 && (this.pendingLifecycle[0] as LifecycleChange).ts <= upTo) {
      const c = this.pendingLifecycle.shift() as LifecycleChange;
      const j = this.judgments.get(judgmentKey(c.service, c.version));
      if (j && !j.ended) {
        j.ended = true;
        const how = c.action === 'rollback' ? 'rolled back' : c.action === 'promote' ? 'promoted' : 'finished';
        this.incidents.versionEnded(c.service, j.release ?? j.version, c.version, how,
          (v) => { const o = this.judgments.get(judgmentKey(c.service, v)); return !!o && !o.ended; }, Math.max(upTo, c.ts));
      }
      this.refreshTracked(c.service);
    }
  }

  private refreshTracked(service: string): void {
    const win = this.services.get(service);
    if (!win) return;
    let any = false;
    for (const j of this.judgments.values()) if (j.service === service && !j.ended) any = true;
    win.tracked = any;
  }

  private evaluate(slot: number, ts: number): void {
    const byService = new Map<string, Judgment[]>();
    for (const j of this.judgments.values()) {
      // A judgment starts at its deploy's event time, which the watermark may not have reached.
      if (j.ended || j.startTs > ts) continue;
      let list = byService.get(j.service);
      if (!list) byService.set(j.service, (list = []));
      list.push(j);
    }
    for (const [service, list] of byService) this.evaluateService(service, list, slot, ts);
    this.incidents.recoverQuiet(ts);
    if (slot % 30 === 0) this.prune(slot);
  }

  private evaluateService(service: string, list: Judgment[], slot: number, ts: number): void {
    const win = this.services.get(service);
    if (!win) return;
    const j = this.cfg.judge;
    const perJudgment: { judgment: Judgment; candidates: Candidate[] }[] = [];
    let tests = 0;
    for (const judgment of list) {
      const cmp = this.comparisonFor(win, judgment, slot);
      const candidates: Candidate[] = [];
      if (cmp) {
        const identity = `${cmp.label}|${cmp.originSlot}|${cmp.history ? `${cmp.history.from}-${cmp.history.to}` : ''}`;
        if (identity !== judgment.state.signature) judgment.state = new JudgeState(identity, this.ringSize);
        judgment.comparedWith = cmp.label;
        summarise(judgment.state, cmp, slot, this.cfg, win.knownSignatures);
        const froms: number[] = [];
        const maxWindow = Math.max(...j.windowsMs);
        const life = (slot - cmp.startSlot + 1) * this.sliceMs;
        for (const w of [...j.windowsMs, ...(life > maxWindow ? [Math.min(life, this.cfg.window.horizonMs)] : [])]) {
          const from = Math.max(cmp.startSlot, slot - Math.round(w / this.sliceMs) + 1);
          if (!froms.includes(from) && from <= slot) froms.push(from);
        }
        judgeWindows(judgment.state, cmp, froms, slot, this.cfg, win.knownSignatures, candidates);
        judgment.evidence = judgment.state.canaryEvidence;
        judgment.baselineEvidence = judgment.state.comparisonEvidence;
      }
      for (const c of candidates) tests += c.weight;
      perJudgment.push({ judgment, candidates });
    }
    const alpha = j.familyAlpha / Math.max(1, tests);  // per unit of weight
    for (const { judgment, candidates } of perJudgment) this.updateFindings(judgment, candidates, alpha, slot, ts);
    for (const { judgment, candidates } of perJudgment) this.corroborate(judgment, candidates, perJudgment, slot, ts);
    for (const { judgment } of perJudgment) this.noteFleetWide(judgment, slot, ts);
    for (const { judgment } of perJudgment) this.updateVerdict(judgment, list, ts);
  }

  /** What a version is compared with: its baseline, else the stable fleet, else untagged traffic. */
  private comparisonFor(win: ServiceWindows, judgment: Judgment, slot: number): Comparison | undefined {
    const canary = win.cohorts.get(judgment.version)?.main;
    if (!canary) return undefined;
    const originSlot = Math.floor(judgment.startTs / this.sliceMs);
    const startSlot = Math.max(originSlot, slot - this.ringSize + 3);
    if (judgment.kind === 'rollout') {
      const info = this.registry.info(judgment.service, judgment.version);
      const prev = info?.replaced !== undefined ? win.cohorts.get(info.replaced)?.main : undefined;
      if (!prev) return undefined;
      let overlap = 0;
      const first = Math.max(startSlot, slot - 30);
      for (let t = first; t <= slot; t++) if (hasTraffic(prev, t)) overlap++;
      if (overlap * 2 >= slot - first + 1) return { canary, against: [prev], label: prev.version, startSlot, originSlot };
      const to = Math.min(prev.lastSlot, startSlot - 1 >= prev.firstSlot ? startSlot - 1 : prev.lastSlot);
      const from = Math.max(prev.firstSlot, to - Math.round(this.cfg.judge.selfHistoryMs / this.sliceMs) + 1, slot - this.ringSize + 3);
      if (to < from) return undefined;
      return { canary, against: [prev], label: `${prev.version} (before the rollout)`, startSlot, originSlot, history: { from, to } };
    }
    const baselines: Cohort[] = [];
    const stables: Cohort[] = [];
    for (const info of this.registry.versionsOf(judgment.service)) {
      if (info.version === judgment.version) continue;
      const pair = win.cohorts.get(info.version);
      if (!pair) continue;
      if (pair.baseline && info.baselineActive) baselines.push(pair.baseline);
      const other = this.judgments.get(judgmentKey(judgment.service, info.version));
      if (pair.main && info.role === 'stable' && (!other || other.ended) && info.state !== 'rolled-back') stables.push(pair.main);
    }
    const live = (cs: Cohort[]) => cs.filter((c) => c.lastSlot >= startSlot);
    const b = live(baselines);
    if (b.length > 0) return { canary, against: b, label: `${b.map((c) => c.version).join(', ')} baseline`, startSlot, originSlot };
    const st = live(stables);
    if (st.length > 0) return { canary, against: st, label: st.map((c) => c.version).join(', '), startSlot, originSlot };
    const unknown = win.cohorts.get(UNKNOWN_VERSION)?.main;
    if (unknown && unknown.lastSlot >= startSlot) return { canary, against: [unknown], label: 'untagged traffic', startSlot, originSlot };
    return undefined;
  }

  private updateFindings(judgment: Judgment, candidates: readonly Candidate[], alpha: number, slot: number, ts: number): void {
    // Per key, the strongest window whose effect holds up (describe is the costly part: only for the significant).
    const significant = candidates.filter((c) => c.p <= alpha * c.weight || c.changed === true).sort((a, b) => a.p - b.p || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const best = new Map<string, { c: Candidate; effect: Effect }>();
    for (const c of significant) {
      if (best.has(c.key)) continue;
      // A confirmed finding keeps the words it was confirmed with; only its being seen is news.
      const held = judgment.findings.get(c.key);
      const effect = held?.confirmed ? held.effect : c.describe();
      if (effect) best.set(c.key, { c, effect });
    }
    // A finding near its threshold flickers; it ends only after a recent-stretch without it.
    const graceMs = Math.max(2 * this.cfg.judge.evaluateEveryMs, this.cfg.judge.recentMs);
    for (const [key, { c, effect }] of best) {
      const f = judgment.findings.get(key);
      if (f) {
        f.effect = effect;
        f.p = c.p;
        f.lastTs = ts;
        f.confirmLR = c.confirmLR;
        // The change detector's bound already holds for data no burst explains: no need to wait.
        if (c.changed === true) f.confirmed = true;
      } else {
        judgment.findings.set(key, {
          key, signal: c.signal, route: c.route, effect, p: c.p, sinceTs: ts, sinceSlot: slot, lastTs: ts, confirmed: c.changed === true, confirmLR: c.confirmLR,
        });
      }
    }
    // Persistence is judged on data, not on evaluations: past the persistence time, the
    // slices that came after the finding was first seen (and after any burst that could
    // have caused it) must show the regression on their own.
    const j = this.cfg.judge;
    const burstSlots = Math.ceil(j.blipMs / this.sliceMs);
    for (const [key, f] of judgment.findings) {
      if (f.lastTs === ts) {
        if (!f.confirmed && ts - f.sinceTs >= j.persistMs && (!f.confirmLR || f.confirmLR(f.sinceSlot + burstSlots + 1) >= -Math.log(j.confirmAlpha))) {
          f.confirmed = true;
        }
        continue;
      }
      if (ts - f.lastTs <= graceMs && !f.confirmed) continue;
      judgment.findings.delete(key);
      // When what came after the first sighting favours "no difference", the episode was a
      // burst: its slices are not judged again for that signal on any route (a long window
      // would otherwise keep finding it). Weaker but real evidence is kept.
      if (!f.confirmed && f.confirmLR && f.confirmLR(f.sinceSlot + burstSlots + 1) <= 0) {
        judgment.state.restartSignal(f.signal, slot);
      }
      // Only a finding that could have paged is worth a record; detail of a failed release is not.
      if (!f.confirmed && judgment.verdict !== 'FAIL') {
        this.out({
          type: 'suppressed', ts: isoTime(ts), service: judgment.service, versions: [judgment.version],
          what: `${judgment.version}: ${f.effect.summary}`, why: 'transient',
          detail: `held ${duration(f.lastTs - f.sinceTs)}; a regression must persist ${duration(j.persistMs)} and show again in the data that follows`,
        });
      }
    }
  }

  /**
   * Parallel canaries of one release share their code: once one of them failed on a
   * signal, the same signal on a sibling needs far less evidence to be believed (one
   * shared bug, not a coincidence), so it fails the sibling without waiting.
   */
  private corroborate(judgment: Judgment, candidates: readonly Candidate[], all: readonly { judgment: Judgment; candidates: readonly Candidate[] }[], slot: number, ts: number): void {
    if (judgment.release === undefined || judgment.verdict === 'FAIL') return;
    const failed = all.filter((o) => o.judgment !== judgment && o.judgment.release === judgment.release && o.judgment.verdict === 'FAIL');
    const failedKeys = new Set(failed.flatMap((o) => o.judgment.confirmedFindings().map((f) => f.key)));
    if (failedKeys.size === 0) return;
    const confirm = (c: Candidate, effect: Effect): void => {
      const held = judgment.findings.get(c.key);
      judgment.findings.set(c.key, {
        key: c.key, signal: c.signal, route: c.route, effect, p: c.p, sinceTs: held?.sinceTs ?? ts, sinceSlot: held?.sinceSlot ?? slot,
        lastTs: ts, confirmed: true, confirmLR: c.confirmLR,
      });
    };
    // Every candidate looked at is a chance of a coincidence: split the sibling budget over them.
    const looked = candidates.filter((c) => failedKeys.has(c.key) && !judgment.findings.get(c.key)?.confirmed).sort((a, b) => a.p - b.p);
    const alpha = this.cfg.judge.siblingAlpha / Math.max(1, looked.length);
    for (const c of looked) {
      if (judgment.findings.get(c.key)?.confirmed) continue;
      if (c.p <= alpha) {
        const effect = c.describe();
        if (effect) { confirm(c, effect); continue; }
      }
      if (!c.counts || c.p > 0.05) continue;
      // Which is likelier for this canary's count: the failed siblings' ratio, or none at all?
      // Odds of 100 to 1 (per look) for the shared bug blame it; a clean sibling's count is
      // always likelier under "none", so the one bad canary of a release never drags the rest in.
      let obs = 0, exp = 0;
      for (const o of failed) {
        const best = o.candidates.filter((x) => x.key === c.key && x.counts).sort((a, b) => a.p - b.p)[0];
        if (best?.counts) { obs += best.counts.observed; exp += best.counts.expected; }
      }
      const ratio = exp > 0 ? obs / exp : 0;
      const { observed: x, expected: e } = c.counts;
      if (!(ratio > 1) || !(x > e)) continue;
      const logLikelihoodRatio = x * Math.log(ratio) - e * (ratio - 1);
      if (logLikelihoodRatio < Math.log(SHARED_BUG_ODDS * looked.length)) continue;
      const effect = c.describe();
      if (effect) confirm(c, effect);
    }
  }

  /**
   * Says so (once per episode) when errors rose on the canary and on its comparison alike:
   * the reason the canary is not blamed, for the people who saw the errors elsewhere.
   */
  private noteFleetWide(judgment: Judgment, slot: number, ts: number): void {
    const cum = judgment.state.series.get('e|*');
    if (!cum || Number.isNaN(cum.first)) return;
    const recentSlots = Math.round(this.cfg.judge.recentMs / this.sliceMs);
    const split = slot - recentSlots;
    if (split - cum.first < recentSlots) return;
    const recent = countTestFromSums(cum.sum(split + 1, slot, new Float64Array(COUNT_FIELDS)));
    const before = countTestFromSums(cum.sum(cum.first, split, new Float64Array(COUNT_FIELDS)));
    const rose = (x: number, n: number, x0: number, n0: number): boolean =>
      n > 0 && n0 > 0 && x >= 5 && x / n >= Math.max(3 * (x0 / n0), x0 / n0 + 0.01);
    const canaryRose = rose(recent.x1, recent.n1, before.x1, before.n1);
    const fleetRose = rose(recent.x0, recent.n0, before.x0, before.n0);
    const blamed = [...judgment.findings.values()].some((f) => f.signal === 'errors');
    if (canaryRose && fleetRose && !blamed && !judgment.fleetWideNoted) {
      judgment.fleetWideNoted = true;
      this.out({
        type: 'suppressed', ts: isoTime(ts), service: judgment.service, versions: [judgment.version],
        what: `${judgment.service} 5xx ratio rose on ${judgment.version} (${percent(recent.x1 / recent.n1)}) and on ${judgment.comparedWith} (${percent(recent.x0 / recent.n0)}) in the same minutes`,
        why: 'fleet-wide',
        detail: `not blamed on ${judgment.version}: the comparison degraded the same way at the same time`,
      });
    } else if (!fleetRose && judgment.fleetWideNoted) {
      judgment.fleetWideNoted = false;
    }
  }

  private updateVerdict(judgment: Judgment, all: readonly Judgment[], ts: number): void {
    const j = this.cfg.judge;
    const confirmed = judgment.confirmedFindings();
    let next: Verdict;
    let reasons: string[];
    if (judgment.verdict === 'FAIL' || confirmed.length > 0) {
      next = 'FAIL';
      const shown = confirmed.length > 0 ? confirmed : judgment.activeFindings();
      reasons = shown.length > 0
        ? shown.map((f) => `${f.effect.summary}, sustained ${duration(f.lastTs - f.sinceTs + this.cfg.judge.evaluateEveryMs)}`)
        : [...judgment.reasons];
      if (confirmed.length > 0) {
        const siblings = all.filter((o) => o !== judgment && o.release !== undefined && o.release === judgment.release);
        this.incidents.failed(judgment, siblings, ts);
      }
    } else {
      const age = ts - judgment.startTs;
      const enough = judgment.evidence >= j.minCanaryRequests && age >= j.minCanaryAgeMs;
      const active = judgment.activeFindings();
      if (enough && active.length === 0) {
        next = 'PASS';
        reasons = [`no regression against ${judgment.comparedWith || 'the comparison'}: ${judgment.evidence} requests over ${duration(age)}, error ratio, latency and error messages within bounds`];
      } else if (judgment.verdict === 'PASS') {
        next = 'PASS';
        reasons = [...judgment.reasons];
      } else {
        next = 'NONE';
        reasons = [!judgment.comparedWith
          ? 'nothing to compare with yet: no baseline or stable traffic beside this version'
          : active.length > 0
            ? `checking a possible regression: ${active[0]?.effect.summary}`
            : `collecting evidence: ${judgment.evidence} of ${j.minCanaryRequests} requests, ${duration(Math.max(0, age))} of ${duration(j.minCanaryAgeMs)}`];
      }
    }
    if (next === judgment.verdict) {
      if (next === 'FAIL' && confirmed.length > 0) judgment.reasons = reasons;
      return;
    }
    judgment.verdict = next;
    judgment.reasons = reasons;
    const d: VerdictDecision = {
      type: 'verdict', ts: isoTime(ts), service: judgment.service, version: judgment.version, verdict: next, reasons,
      score: verdictScore(next, confirmed.length),
      evidence: {
        canaryRequests: judgment.evidence, baselineRequests: judgment.baselineEvidence, comparedWith: judgment.comparedWith,
        windowStart: isoTime(judgment.startTs), windowEnd: isoTime(ts),
      },
      ...(judgment.release !== undefined ? { release: judgment.release } : {}),
    };
    this.out(d);
  }

  private prune(slot: number): void {
    const oldest = slot - this.ringSize;
    for (const win of this.services.values()) for (const c of win.allCohorts()) c.signatures.prune(oldest);
  }
}

function percent(x: number): string {
  return `${(x * 100).toFixed(x >= 0.1 ? 0 : 1)}%`;
}

function judgmentKey(service: string, version: string): string {
  return `${service}\u0000${version}`;
}

function hasTraffic(c: Cohort, t: number): boolean {
  for (const r of c.routes.values()) if (r.requestsAt(t) > 0) return true;
  return false;
}

function verdictScore(v: Verdict, failing: number): number {
  if (v === 'PASS') return 100;
  if (v === 'NONE') return 50;
  return Math.max(0, 40 - 10 * failing);
}
