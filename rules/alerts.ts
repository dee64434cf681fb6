/**
 * Alerts from monitoring systems, folded into incidents: the pure correlation stage.
 * Normalised alerts (ingest/webhooks/) come in with the event time of their webhook; the
 * stage groups them the way Alertmanager groups (group_by, group_wait, group_interval,
 * repeat_interval), mutes what silences, maintenance windows, inhibition rules and flap
 * control say, joins a release-regression incident of the same service instead of paging
 * again, and says why for every alert it does not page for. Time is the engine's watermark.
 */
import { z } from 'zod';
import type { Labels, RawAlert, WebhookSource } from './events.js';
import type { Decision, Severity, SuppressionReason } from './decisions.js';
import { isoTime } from './decisions.js';
import type { Routed } from './routing.js';
import { matchersSchema, matchesAll } from './matchers.js';
import { type Silence, silenceInputSchema, silencing } from './silences.js';

const positiveMs = z.number().int().positive();
const SEVERITY_VALUES = ['critical', 'warning', 'info'] as const;

/** Which labels say what; labels are read first, in the listed order, then the source's own fields. */
const mappingSchema = z.strictObject({
  service: z.array(z.string().min(1)).min(1).default(['service', 'app', 'job', 'app_kubernetes_io_name', 'service_name']),
  version: z.array(z.string().min(1)).min(1).default(['version', 'release', 'app_kubernetes_io_version', 'service_version']),
  severity: z.array(z.string().min(1)).min(1).default(['severity', 'priority', 'level']),
  instance: z.array(z.string().min(1)).min(1).default(['instance', 'pod', 'host', 'hostname', 'server_name', 'InstanceId']),
  /** Severity words of the sources (lower case) and what they mean here; unknown words are `warning`. */
  severityWords: z.record(z.string(), z.enum(SEVERITY_VALUES)).default({
    critical: 'critical', crit: 'critical', page: 'critical', error: 'critical', fatal: 'critical', high: 'critical', p1: 'critical', p2: 'critical',
    warning: 'warning', warn: 'warning', medium: 'warning', p3: 'warning',
    info: 'info', low: 'info', p4: 'info', p5: 'info', debug: 'info',
  }),
});

/** Settings of alert correlation (`rules.alerts` in the config file). */
export const alertsSchema = z.strictObject({
  /** Label mapping (see mappingSchema). */
  mapping: mappingSchema.default(() => mappingSchema.parse({})),
  /** Labels that do not make a different problem: one problem on many hosts, pods or canaries is one problem. */
  problemDropLabels: z.array(z.string().min(1)).default([
    'instance', 'pod', 'pod_name', 'host', 'hostname', 'server_name', 'InstanceId', 'container', 'node', 'ip',
    'version', 'release', 'service_version', 'app_kubernetes_io_version', 'canary', 'role', 'track', 'severity', 'priority', 'level',
  ]),
  /** Labels (after mapping: `service` is the mapped service) whose values split alerts into groups. */
  groupBy: z.array(z.string().min(1)).min(1).default(['service']),
  /** How long a new group waits for more alerts before its first notification. */
  groupWaitMs: z.number().int().nonnegative().default(30_000),
  /** How long after a notification a group waits before telling about alerts added to it. */
  groupIntervalMs: positiveMs.default(5 * 60_000),
  /** How long after a notification a group still firing with nothing new is told again. */
  repeatIntervalMs: positiveMs.default(4 * 60 * 60_000),
  /** Resolve a group's incident as soon as its last alert resolves, not at the next group interval. */
  resolveImmediately: z.boolean().default(false),
  /** A firing alert not sent again for this long (and with no end time) counts as resolved. */
  resolveTimeoutMs: positiveMs.default(5 * 60_000),
  /** Alerts only on canaries still being judged wait this much longer, for the judge to speak first. */
  canaryHoldMs: z.number().int().nonnegative().default(2 * 60_000),
  /** Flap control: an alert that changes state this many times within the window is held... */
  flap: z.strictObject({
    transitions: z.number().int().min(2).default(4),
    windowMs: positiveMs.default(15 * 60_000),
    /** ...for this long, then paged once if it is still firing or flapping. */
    holdMs: positiveMs.default(10 * 60_000),
  }).default({ transitions: 4, windowMs: 15 * 60_000, holdMs: 10 * 60_000 }),
  /** A firing alert matching `source` mutes alerts matching `target` whose `equal` labels have the same values. */
  inhibit: z.array(z.strictObject({ source: matchersSchema, target: matchersSchema, equal: z.array(z.string().min(1)).default([]) })).default([]),
  /** Silences from the config file (the API adds more at run time). */
  silences: z.array(silenceInputSchema).default([]),
  /** Planned maintenance: matching alerts do not page between the two times. */
  maintenance: z.array(z.strictObject({
    name: z.string().min(1),
    matchers: matchersSchema,
    startsAt: z.union([z.number().int(), z.iso.datetime({ offset: true }).transform((t) => Date.parse(t))]),
    endsAt: z.union([z.number().int(), z.iso.datetime({ offset: true }).transform((t) => Date.parse(t))]),
  })).default([]),
  /**
   * Which alert updates reach people's channels. `actionable`: only those that change what
   * on-call must know (a kind of signal not told yet, severity raised, alerts of a kind the
   * release regression they join has not shown); updates that only corroborate (more
   * instances, another tool on the same kind of signal) are still emitted and published,
   * marked `quiet`, but channels are not told. `all`: every update is told, as Alertmanager does.
   */
  notifyUpdates: z.enum(['actionable', 'all']).default('actionable'),
  /**
   * Kinds of signal, by patterns (case-insensitive) matched against an alert's name and
   * summary, the first kind that matches wins; an alert no pattern matches is a kind of its
   * own (its name). `errors` and `latency` are the release judge's signals of the same name.
   */
  signalKinds: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).default({
    errors: ['error', '5xx', '5\\d\\d', 'fail', 'exception', 'crash', 'panic'],
    latency: ['latency', 'slow', 'duration', 'timeout', 'p9\\d', 'response time'],
    saturation: ['cpu', 'memory', 'oom', 'disk', 'saturat', 'queue', 'throttl'],
    availability: ['down', 'unavailable', 'unreachable', 'health', 'probe', 'absent'],
  }).superRefine((kinds, ctx) => {
    for (const [kind, patterns] of Object.entries(kinds)) {
      for (const [i, p] of patterns.entries()) {
        try { new RegExp(p, 'i'); } catch (err) { ctx.addIssue({ code: 'custom', path: [kind, i], message: `not a regular expression: ${err instanceof Error ? err.message : String(err)}` }); }
      }
    }
  }),
  /** Alerts kept per group; more are counted and folded into the overflow count. */
  maxAlertsPerGroup: z.number().int().positive().default(5_000),
  /** Groups kept at once; alerts for new groups beyond it are counted and dropped from correlation. */
  maxGroups: z.number().int().positive().default(10_000),
});

/** Alert correlation settings after defaults. */
export type AlertsConfig = z.infer<typeof alertsSchema>;

/** A hash of an alert's whole label set, the same whatever order the labels came in. */
export type Fingerprint = string & { readonly __brand: 'Fingerprint' };
/** What problem an alert is about: its labels without the ones that only say where. */
export type ProblemKey = string & { readonly __brand: 'ProblemKey' };

/** One alert, typed: what every source's payload becomes. */
export interface Alert {
  readonly source: WebhookSource;
  readonly name: string;
  readonly service: string;
  readonly version: string | undefined;
  readonly instance: string | undefined;
  readonly severity: Severity;
  readonly status: 'firing' | 'resolved';
  readonly fingerprint: Fingerprint;
  readonly problem: ProblemKey;
  readonly labels: Labels;
  /** Epoch milliseconds. */
  readonly startsAt: number;
  readonly endsAt: number | undefined;
  readonly summary: string;
}

/** Where an alert's version comes from when its labels name none: the deploy registry, by instance. */
export type InstanceVersion = (service: string, instance: string) => string | undefined;

/** The service an alert is about when no label names it: the source's hint, else a known service its name starts with. */
function serviceOf(raw: RawAlert, cfg: AlertsConfig, knownServices: () => Iterable<string>): string {
  for (const k of cfg.mapping.service) { const v = raw.labels[k]; if (v) return v; }
  if (raw.hints.service) return raw.hints.service;
  if (raw.hints.nameHint) {
    let best = '';
    for (const s of knownServices()) if (s.length > best.length && (raw.hints.nameHint === s || raw.hints.nameHint.startsWith(`${s}-`))) best = s;
    if (best) return best;
  }
  return 'unknown';
}

/** Turns a normalised payload item into a typed alert: labels first, then the source's own fields. */
export function toAlert(raw: RawAlert, source: WebhookSource, tsMs: number, cfg: AlertsConfig, knownServices: () => Iterable<string>, versionOf: InstanceVersion): Alert {
  const pick = (keys: readonly string[], hint: string | undefined): string | undefined => {
    for (const k of keys) { const v = raw.labels[k]; if (v) return v; }
    return hint || undefined;
  };
  const service = serviceOf(raw, cfg, knownServices);
  const instance = pick(cfg.mapping.instance, raw.hints.instance);
  const version = pick(cfg.mapping.version, raw.hints.version) ?? (instance !== undefined ? versionOf(service, instance) : undefined);
  const word = pick(cfg.mapping.severity, raw.hints.severity)?.toLowerCase();
  const severity: Severity = word !== undefined ? (cfg.mapping.severityWords[word] ?? 'warning') : 'warning';
  // The mapped service takes part in grouping and problem keys, whatever label it came from.
  // A copy only when the mapped service is not the `service` label already (the alert's labels are never changed after).
  const labels: Labels = raw.labels['service'] === service ? raw.labels : { ...raw.labels, service };
  return {
    source, name: raw.name, service, version, instance, severity, status: raw.status,
    ...keysOf(labels, cfg.problemDropLabels),
    labels, startsAt: raw.startsAt ?? tsMs, endsAt: raw.endsAt, summary: raw.summary ?? raw.name,
  };
}

function sortedPairs(labels: Labels, drop?: ReadonlySet<string>): string[] {
  const pairs: string[] = [];
  for (const k of Object.keys(labels)) if (!drop?.has(k)) pairs.push(`${k}\u0000${labels[k] ?? ''}`);
  return pairs.sort();
}

function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const dropSets = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * Fingerprint and problem key from one sort of the keys, hashed as they are walked: both are
 * made for every alert received. The same values as fingerprintOf and problemKeyOf (the
 * laws test holds them to it); a key holding U+0000 takes their way, as pairs sort differently then.
 */
function keysOf(labels: Labels, drop: readonly string[]): { fingerprint: Fingerprint; problem: ProblemKey } {
  let dropSet = dropSets.get(drop);
  if (!dropSet) dropSets.set(drop, (dropSet = new Set(drop)));
  const keys = Object.keys(labels).sort();
  let h1 = 0x811c9dc5, h2 = 0x050c5d1f;
  let problem = '';
  let plain = true;
  for (let i = 0; i < keys.length && plain; i++) {
    const k = keys[i] as string;
    const v = labels[k] ?? '';
    if (i > 0) { h1 = Math.imul(h1 ^ 1, 0x01000193) >>> 0; h2 = Math.imul(h2 ^ 1, 0x01000193) >>> 0; }
    for (let j = 0; j < k.length; j++) {
      const c = k.charCodeAt(j);
      if (c === 0) plain = false;
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c, 0x01000193) >>> 0;
    }
    h1 = Math.imul(h1, 0x01000193) >>> 0;
    h2 = Math.imul(h2, 0x01000193) >>> 0;
    for (let j = 0; j < v.length; j++) {
      const c = v.charCodeAt(j);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c, 0x01000193) >>> 0;
    }
    if (!dropSet.has(k)) problem = problem === '' ? `${k}=${v}` : `${problem},${k}=${v}`;
  }
  if (plain) {
    return { fingerprint: (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')) as Fingerprint, problem: problem as ProblemKey };
  }
  const pairs = sortedPairs(labels);
  const text = pairs.join('\u0001');
  const kept: string[] = [];
  for (const p of pairs) if (!dropSet.has(p.slice(0, p.indexOf('\u0000')))) kept.push(p.replace('\u0000', '='));
  return { fingerprint: hashText(text), problem: kept.join(',') as ProblemKey };
}

function hashText(text: string): Fingerprint {
  return (fnv1a(text, 0x811c9dc5).toString(16).padStart(8, '0') + fnv1a(text, 0x050c5d1f).toString(16).padStart(8, '0')) as Fingerprint;
}

/** The fingerprint of a label set: 64 bits of two FNV-1a hashes over the sorted pairs. */
export function fingerprintOf(labels: Labels): Fingerprint {
  return hashText(sortedPairs(labels).join('\u0001'));
}

/** The problem key of a label set: the sorted labels that are not in `drop`, readable. */
export function problemKeyOf(labels: Labels, drop: readonly string[]): ProblemKey {
  return sortedPairs(labels, new Set(drop)).map((p) => p.replace('\u0000', '=')).join(',') as ProblemKey;
}

/** A short reference to an alert, as pages, updates and the API show it. */
export interface AlertRef {
  readonly source: WebhookSource;
  readonly name: string;
  readonly fingerprint: string;
  readonly instance?: string;
  readonly version?: string;
  readonly status: 'firing' | 'resolved';
}

/** What the stage needs from the rest of the engine. */
export interface AlertContext {
  /** Channels of an incident. */
  readonly route: (what: Routed) => readonly string[];
  /** The open release-regression incident of a service, if any (it takes the alerts as evidence). */
  readonly releaseIncident: (service: string) => { readonly id: string; readonly versions: readonly string[]; readonly signals: readonly string[]; readonly severity?: Severity } | undefined;
  /** Canary versions of a service being judged now, with whether the judge has failed them. */
  readonly canaries: (service: string) => ReadonlyMap<string, { readonly failed: boolean }>;
  /** Silences in force made outside the config file (the API); config silences are added by the stage. */
  readonly silences: () => readonly Silence[];
}

/** One alert as a group holds it. */
interface HeldAlert {
  alert: Alert;
  lastSeenTs: number;
}

/** A group: alerts with the same group_by values, and what was told about them. */
interface AlertGroup {
  readonly key: string;
  readonly service: string;
  readonly alerts: Map<Fingerprint, HeldAlert>;
  /** Earliest event time of an alert in the group since it opened. */
  firstTs: number;
  nextFlushTs: number;
  /** The incident the group pages or updates; set at its first notification. */
  incident: string | undefined;
  /** Whether the incident is a release regression's (it resolves on the judge's terms, not the alerts'). */
  shared: boolean;
  lastNotifiedTs: number | undefined;
  readonly toldProblems: Set<string>;
  readonly toldAlerts: Set<string>;
  /** `fingerprint|reason` of suppressed records already written, so each is written once. */
  readonly quietTold: Set<string>;
  versions: string[];
  /** Kinds of signal told to channels (by the page or an actionable update). */
  readonly toldKinds: Set<string>;
  /** The highest severity told to channels. */
  toldSeverity: Severity | undefined;
}

/** State changes of one alert fingerprint, for flap control; lives beyond its group. */
interface FlapHistory {
  changes: number[];
  lastStatus: 'firing' | 'resolved';
  heldSinceTs: number | undefined;
  paged: boolean;
}

/** A group as a checkpoint stores it. */
export interface AlertGroupRecord {
  readonly key: string;
  readonly service: string;
  readonly alerts: readonly { readonly alert: Alert; readonly lastSeenTs: number }[];
  readonly firstTs: number;
  readonly nextFlushTs: number;
  readonly incident?: string;
  readonly shared: boolean;
  readonly lastNotifiedTs?: number;
  readonly toldProblems: readonly string[];
  readonly toldAlerts: readonly string[];
  readonly quietTold: readonly string[];
  readonly versions: readonly string[];
  /** Absent in checkpoints written before updates were told by what they change. */
  readonly toldKinds?: readonly string[];
  readonly toldSeverity?: Severity;
}

/** Flap history as a checkpoint stores it. */
export interface FlapRecord {
  readonly fingerprint: string;
  readonly changes: readonly number[];
  readonly lastStatus: 'firing' | 'resolved';
  readonly heldSinceTs?: number;
  readonly paged: boolean;
}

/** Everything the alert stage carries over a rebuild. */
export interface AlertBookRecord {
  readonly groups: readonly AlertGroupRecord[];
  readonly flaps: readonly FlapRecord[];
  readonly usedIds: readonly string[];
}

/** Counts the stage keeps. */
export interface AlertStats {
  readonly alerts: number;
  readonly groups: number;
  readonly overflow: number;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };
/** The alert kind each release-judge signal is, so that alerts joining a regression are told only when they add a kind. */
const JUDGE_SIGNAL_KINDS: Readonly<Record<string, string>> = { errors: 'errors', 'new-error': 'errors', latency: 'latency', 'latency-tail': 'latency' };
/** Compiled signal kind patterns, per configuration. */
const kindPatterns = new WeakMap<object, readonly (readonly [string, RegExp])[]>();
/** Alerts listed in one page or update; the rest are counted. */
const ALERTS_LISTED = 50;
/** Flap histories kept; the least recently changed go first. */
const FLAPS_KEPT = 50_000;

/** Why an alert is muted right now, with the detail for its suppressed record. */
type Mute = { readonly why: SuppressionReason; readonly detail: string };

/** The alert correlation stage of one engine. */
export class AlertBook {
  private readonly groups = new Map<string, AlertGroup>();
  private readonly flaps = new Map<Fingerprint, FlapHistory>();
  private readonly usedIds = new Set<string>();
  private readonly configSilences: readonly Silence[];
  private alertCount = 0;
  private overflow = 0;

  constructor(private readonly cfg: AlertsConfig, private readonly ctx: AlertContext, private readonly emit: (d: Decision) => void) {
    this.configSilences = cfg.silences.map((s, i) => ({
      id: s.id ?? `config-${i + 1}`, matchers: s.matchers, startsAt: s.startsAt ?? Number.NEGATIVE_INFINITY, endsAt: s.endsAt,
      createdBy: s.createdBy || 'config', comment: s.comment,
    }));
  }

  stats(): AlertStats {
    return { alerts: this.alertCount, groups: this.groups.size, overflow: this.overflow };
  }

  /** Takes the alerts of one webhook, at its event time. */
  add(alerts: readonly Alert[], ts: number): void {
    for (const a of alerts) this.addOne(a, ts);
  }

  /** The open alert incident of a service that a release regression should thread under, if any. */
  adoptable(service: string): string | undefined {
    let best: AlertGroup | undefined;
    for (const g of this.groups.values()) {
      if (g.service !== service || g.incident === undefined || g.shared) continue;
      if (!best || (g.lastNotifiedTs ?? 0) < (best.lastNotifiedTs ?? 0) || (g.lastNotifiedTs === best.lastNotifiedTs && g.key < best.key)) best = g;
    }
    if (best) best.shared = true;
    return best?.incident;
  }

  /** Moves the stage to the watermark: every group whose timer is due is flushed, in time order. */
  advance(watermark: number): void {
    for (;;) {
      let next: AlertGroup | undefined;
      for (const g of this.groups.values()) {
        if (g.nextFlushTs > watermark) continue;
        if (!next || g.nextFlushTs < next.nextFlushTs || (g.nextFlushTs === next.nextFlushTs && g.key < next.key)) next = g;
      }
      if (!next) return;
      this.flush(next, next.nextFlushTs);
    }
  }

  /** The stage's state, for a checkpoint. */
  records(): AlertBookRecord {
    return {
      groups: [...this.groups.values()].map((g) => ({
        key: g.key, service: g.service, alerts: [...g.alerts.values()].map((h) => ({ alert: h.alert, lastSeenTs: h.lastSeenTs })),
        firstTs: g.firstTs, nextFlushTs: g.nextFlushTs, ...(g.incident !== undefined ? { incident: g.incident } : {}), shared: g.shared,
        ...(g.lastNotifiedTs !== undefined ? { lastNotifiedTs: g.lastNotifiedTs } : {}),
        toldProblems: [...g.toldProblems], toldAlerts: [...g.toldAlerts], quietTold: [...g.quietTold], versions: [...g.versions],
        toldKinds: [...g.toldKinds], ...(g.toldSeverity !== undefined ? { toldSeverity: g.toldSeverity } : {}),
      })),
      flaps: [...this.flaps].map(([fingerprint, f]) => ({
        fingerprint, changes: [...f.changes], lastStatus: f.lastStatus, ...(f.heldSinceTs !== undefined ? { heldSinceTs: f.heldSinceTs } : {}), paged: f.paged,
      })),
      usedIds: [...this.usedIds],
    };
  }

  /** Takes a checkpoint's state, before any event. */
  restore(r: AlertBookRecord): void {
    for (const g of r.groups) {
      this.groups.set(g.key, {
        key: g.key, service: g.service, alerts: new Map(g.alerts.map((h) => [h.alert.fingerprint, { alert: h.alert, lastSeenTs: h.lastSeenTs }])),
        firstTs: g.firstTs, nextFlushTs: g.nextFlushTs, incident: g.incident, shared: g.shared, lastNotifiedTs: g.lastNotifiedTs,
        toldProblems: new Set(g.toldProblems), toldAlerts: new Set(g.toldAlerts), quietTold: new Set(g.quietTold), versions: [...g.versions],
        // A group from an older checkpoint was told its problems one by one: each problem's kind counts as told.
        toldKinds: new Set(g.toldKinds ?? g.alerts.filter((h) => g.toldProblems.includes(h.alert.problem)).map((h) => this.kindOf(h.alert))),
        toldSeverity: g.toldSeverity,
      });
    }
    for (const f of r.flaps) {
      this.flaps.set(f.fingerprint as Fingerprint, { changes: [...f.changes], lastStatus: f.lastStatus, heldSinceTs: f.heldSinceTs, paged: f.paged });
    }
    for (const id of r.usedIds) this.usedIds.add(id);
  }

  private addOne(a: Alert, ts: number): void {
    this.alertCount++;
    this.noteFlap(a, ts);
    const key = this.groupKey(a);
    let g = this.groups.get(key);
    if (!g) {
      // A resolved alert for a group nobody told about has nothing to resolve.
      if (a.status === 'resolved') return;
      if (this.groups.size >= this.cfg.maxGroups) { this.overflow++; return; }
      g = {
        key, service: a.service, alerts: new Map(), firstTs: ts, nextFlushTs: ts + this.cfg.groupWaitMs, incident: undefined, shared: false,
        lastNotifiedTs: undefined, toldProblems: new Set(), toldAlerts: new Set(), quietTold: new Set(), versions: [],
        toldKinds: new Set(), toldSeverity: undefined,
      };
      this.groups.set(key, g);
    }
    const held = g.alerts.get(a.fingerprint);
    if (!held) {
      if (g.alerts.size >= this.cfg.maxAlertsPerGroup) { this.overflow++; return; }
      g.alerts.set(a.fingerprint, { alert: a, lastSeenTs: ts });
    } else {
      held.alert = a;
      held.lastSeenTs = Math.max(held.lastSeenTs, ts);
    }
    if (g.incident === undefined && ts < g.firstTs) {
      // An alert that arrived late but happened first starts the group's wait: arrival order within group_wait does not matter.
      g.firstTs = ts;
      g.nextFlushTs = Math.min(g.nextFlushTs, ts + this.cfg.groupWaitMs);
    }
    if (this.cfg.resolveImmediately && a.status === 'resolved' && g.incident !== undefined && !this.anyFiring(g, ts)) g.nextFlushTs = Math.min(g.nextFlushTs, ts);
  }

  private groupKey(a: Alert): string {
    const by = this.cfg.groupBy;
    // One label (the default) needs no array per alert.
    if (by.length === 1) return `${by[0] as string}=${a.labels[by[0] as string] ?? ''}`;
    return by.map((k) => `${k}=${a.labels[k] ?? ''}`).join('\u0000');
  }

  private noteFlap(a: Alert, ts: number): void {
    let f = this.flaps.get(a.fingerprint);
    if (!f) {
      if (a.status === 'resolved') return;
      if (this.flaps.size >= FLAPS_KEPT) {
        const oldest = this.flaps.keys().next().value;
        if (oldest !== undefined) this.flaps.delete(oldest);
      }
      f = { changes: [ts], lastStatus: 'firing', heldSinceTs: undefined, paged: false };
      this.flaps.set(a.fingerprint, f);
      return;
    }
    if (f.lastStatus === a.status) return;
    f.lastStatus = a.status;
    const since = ts - this.cfg.flap.windowMs;
    f.changes = f.changes.filter((t) => t > since);
    f.changes.push(ts);
    // Most recently changed last, so the oldest is the first to forget.
    this.flaps.delete(a.fingerprint);
    this.flaps.set(a.fingerprint, f);
    if (f.changes.length >= this.cfg.flap.transitions) {
      f.heldSinceTs ??= ts;
    } else {
      f.heldSinceTs = undefined;
      f.paged = false;
    }
  }

  /** Whether the alert changed state often enough lately to count as flapping at `at`. */
  private flapping(fingerprint: Fingerprint, at: number): FlapHistory | undefined {
    const f = this.flaps.get(fingerprint);
    if (f?.heldSinceTs === undefined) return undefined;
    let recent = 0;
    for (const t of f.changes) if (t > at - this.cfg.flap.windowMs) recent++;
    return recent >= this.cfg.flap.transitions ? f : undefined;
  }

  /** Whether the alert counts as firing at `at`: not resolved, not ended, not gone quiet past the resolve timeout. */
  private firingAt(h: HeldAlert, at: number): boolean {
    const a = h.alert;
    // A flapping alert keeps its group open between its episodes: each would otherwise be a new page.
    if (this.flapping(a.fingerprint, at)) return true;
    if (a.status !== 'firing') return false;
    if (a.endsAt !== undefined && a.endsAt > a.startsAt && a.endsAt <= at) return false;
    return a.endsAt !== undefined && a.endsAt > at ? true : at - h.lastSeenTs < this.cfg.resolveTimeoutMs;
  }

  private anyFiring(g: AlertGroup, at: number): boolean {
    for (const h of g.alerts.values()) if (this.firingAt(h, at)) return true;
    return false;
  }

  /** Why a firing alert does not page now, if it does not. */
  private muteOf(a: Alert, at: number, firing: readonly Alert[]): Mute | undefined {
    const f = this.flapping(a.fingerprint, at);
    if (f?.heldSinceTs !== undefined && !f.paged) {
      if (at < f.heldSinceTs + this.cfg.flap.holdMs) {
        return { why: 'flapping', detail: `changed state ${f.changes.length} times within ${Math.round(this.cfg.flap.windowMs / 60_000)} min; held until ${isoTime(f.heldSinceTs + this.cfg.flap.holdMs)}` };
      }
    }
    for (const m of this.cfg.maintenance) {
      if (at >= m.startsAt && at < m.endsAt && matchesAll(m.matchers, a.labels)) return { why: 'maintenance', detail: `maintenance window ${m.name}` };
    }
    const s = silencing(this.configSilences, a.labels, at) ?? silencing(this.ctx.silences(), a.labels, at);
    if (s) return { why: 'silenced', detail: `silence ${s.id}${s.comment ? `: ${s.comment}` : ''}` };
    for (const rule of this.cfg.inhibit) {
      if (!matchesAll(rule.target, a.labels)) continue;
      const by = firing.find((o) => o.fingerprint !== a.fingerprint && matchesAll(rule.source, o.labels) && !matchesAll(rule.target, o.labels)
        && rule.equal.every((k) => (o.labels[k] ?? '') === (a.labels[k] ?? '')));
      if (by) return { why: 'inhibited', detail: `inhibited by ${by.name} (${by.source})` };
    }
    return undefined;
  }

  private quiet(g: AlertGroup, a: Alert, why: SuppressionReason, detail: string, at: number): void {
    const k = `${a.fingerprint}|${why}`;
    if (g.quietTold.has(k)) return;
    g.quietTold.add(k);
    this.emit({
      type: 'suppressed', ts: isoTime(at), ...(g.incident !== undefined ? { incident: g.incident } : {}), service: a.service,
      ...(a.version !== undefined ? { versions: [a.version] } : {}), what: describe(a), why, detail,
    });
  }

  /** Versions to blame: those named by the group's alerts when every versioned alert is on a canary being judged. */
  private blame(firing: readonly Alert[], service: string): string[] {
    const canaries = this.ctx.canaries(service);
    const named = new Set<string>();
    for (const a of firing) {
      if (a.version === undefined) continue;
      if (!canaries.has(a.version)) return [];
      named.add(a.version);
    }
    return [...named].sort();
  }

  private flush(g: AlertGroup, at: number): void {
    const all = [...g.alerts.values()].sort((x, y) => (x.alert.fingerprint < y.alert.fingerprint ? -1 : 1));
    const firingAll = all.filter((h) => this.firingAt(h, at)).map((h) => h.alert);
    const active: Alert[] = [];
    for (const a of firingAll) {
      const mute = this.muteOf(a, at, firingAll);
      if (mute) this.quiet(g, a, mute.why, mute.detail, at);
      else active.push(a);
    }
    if (g.incident === undefined) {
      if (firingAll.length === 0) { this.groups.delete(g.key); return; }
      if (active.length === 0) { g.nextFlushTs = at + this.cfg.groupIntervalMs; return; }
      const release = this.ctx.releaseIncident(g.service);
      if (release) {
        g.incident = release.id;
        g.shared = true;
        g.versions = [...release.versions];
        // What the regression's page told already: alerts of the same kind only corroborate it.
        for (const s of release.signals) { const k = JUDGE_SIGNAL_KINDS[s]; if (k !== undefined) g.toldKinds.add(k); }
        g.toldSeverity = release.severity;
        this.tell(g, active, at, 'joined');
        return;
      }
      const versions = this.blame(active, g.service);
      const canaries = this.ctx.canaries(g.service);
      const holdUntil = g.firstTs + this.cfg.groupWaitMs + this.cfg.canaryHoldMs;
      if (versions.some((v) => canaries.get(v)?.failed === false) && at < holdUntil) {
        // The judge compares the canary with its baseline: a release regression pages with its numbers.
        g.nextFlushTs = holdUntil;
        return;
      }
      g.versions = versions;
      g.incident = this.newId(g.service, at);
      this.tell(g, active, at, 'page');
      return;
    }
    if (firingAll.length === 0) {
      this.groups.delete(g.key);
      if (!g.shared) {
        this.emit({
          type: 'resolve', ts: isoTime(at), incident: g.incident, service: g.service,
          reason: `alerts resolved: ${[...new Set(all.map((h) => h.alert.name))].sort().join(', ')}`,
        });
      }
      return;
    }
    this.tell(g, active, at, 'update');
  }

  /** The page or update of a flush: alerts with a new problem are news; more of a problem already told are duplicates. */
  private tell(g: AlertGroup, active: readonly Alert[], at: number, how: 'page' | 'joined' | 'update'): void {
    g.nextFlushTs = at + this.cfg.groupIntervalMs;
    const news: Alert[] = [];
    const fresh: Alert[] = [];
    for (const a of active) {
      if (g.toldAlerts.has(a.fingerprint)) continue;
      g.toldAlerts.add(a.fingerprint);
      const f = this.flapping(a.fingerprint, at);
      if (f) f.paged = true;
      fresh.push(a);
      if (g.toldProblems.has(a.problem)) continue;
      g.toldProblems.add(a.problem);
      news.push(a);
    }
    const incident = g.incident as string;
    const refs = fresh.slice(0, ALERTS_LISTED).map(refOf);
    const reasons = news.map((a) => `${a.source} ${a.name}: ${a.summary}`);
    const severity = active.reduce<Severity>((s, a) => (SEVERITY_RANK[a.severity] > SEVERITY_RANK[s] ? a.severity : s), 'info');
    const instances = new Set(fresh.map((a) => a.instance).filter((i) => i !== undefined)).size;
    if (how === 'page') {
      g.lastNotifiedTs = at;
      for (const a of active) g.toldKinds.add(this.kindOf(a));
      g.toldSeverity = severity;
      const blamed = g.versions.length > 0 ? ` on ${g.versions.join(', ')}` : '';
      this.emit({
        type: 'page', ts: isoTime(at), incident, service: g.service, versions: [...g.versions], signals: ['alerts'], severity,
        summary: `${g.service}: ${news.length} problem${news.length === 1 ? '' : 's'} alerting${blamed} (${fresh.length} alert${fresh.length === 1 ? '' : 's'}${instances > 0 ? ` from ${instances} instance${instances === 1 ? '' : 's'}` : ''}); ${news[0]?.summary ?? ''}`,
        channels: [...this.ctx.route({ service: g.service, severity, ts: at })],
        reasons, alerts: refs,
      });
    } else if (news.length > 0 || (how === 'joined' && fresh.length > 0)) {
      const quiet = this.cfg.notifyUpdates === 'actionable' && !this.changesWhatWasTold(g, how === 'joined' ? fresh : news, severity);
      // The repeat interval counts from what people last heard: a quiet update reached no channel.
      if (!quiet) g.lastNotifiedTs = at;
      const release = this.ctx.releaseIncident(g.service);
      const versions = release?.id === incident ? [...release.versions] : [...g.versions];
      const signals = release?.id === incident ? [...new Set([...release.signals, 'alerts'])] : ['alerts'];
      this.emit({
        type: 'update', ts: isoTime(at), incident, service: g.service, versions, signals,
        summary: `${fresh.length} alert${fresh.length === 1 ? '' : 's'} folded in${news.length > 0 ? `: ${[...new Set(news.map((a) => a.name))].join(', ')}` : ''}`,
        reasons, alerts: refs, ...(quiet ? { quiet: 'corroborating' as const } : {}),
      });
    } else if (g.lastNotifiedTs !== undefined && at - g.lastNotifiedTs >= this.cfg.repeatIntervalMs) {
      g.lastNotifiedTs = at;
      this.emit({
        type: 'update', ts: isoTime(at), incident, service: g.service, versions: [...g.versions], signals: ['alerts'],
        summary: `still firing: ${active.length} alert${active.length === 1 ? '' : 's'}`, reasons: [],
      });
    }
    for (const a of fresh) if (!news.includes(a)) this.quiet(g, a, 'duplicate', `same problem as an alert already told under ${incident}`, at);
  }

  /** The kind of signal an alert is about: the first configured kind whose patterns match its name or summary, else its name. */
  private kindOf(a: Alert): string {
    let kinds = kindPatterns.get(this.cfg.signalKinds);
    if (!kinds) {
      kinds = Object.entries(this.cfg.signalKinds).map(([kind, patterns]) => [kind, new RegExp(patterns.join('|'), 'i')] as const);
      kindPatterns.set(this.cfg.signalKinds, kinds);
    }
    const text = `${a.name} ${a.summary}`;
    for (const [kind, re] of kinds) if (re.test(text)) return kind;
    return `alert:${a.name}`;
  }

  /**
   * Whether alerts told in an update change what on-call knows: a kind of signal not told
   * yet, or severity raised. Either way the group now counts them as told.
   */
  private changesWhatWasTold(g: AlertGroup, alerts: readonly Alert[], severity: Severity): boolean {
    let changes = g.toldSeverity === undefined || SEVERITY_RANK[severity] > SEVERITY_RANK[g.toldSeverity];
    for (const a of alerts) {
      const kind = this.kindOf(a);
      if (g.toldKinds.has(kind)) continue;
      g.toldKinds.add(kind);
      changes = true;
    }
    if (changes) g.toldSeverity = severity;
    return changes;
  }

  private newId(service: string, ts: number): string {
    const stamp = isoTime(ts).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let id = `${service}-alerts-${stamp}`;
    for (let n = 2; this.usedIds.has(id); n++) id = `${service}-alerts-${stamp}-${n}`;
    this.usedIds.add(id);
    return id;
  }
}

function describe(a: Alert): string {
  return `${a.source} alert ${a.name}${a.instance !== undefined ? ` on ${a.instance}` : ''}`;
}

function refOf(a: Alert): AlertRef {
  return {
    source: a.source, name: a.name, fingerprint: a.fingerprint, ...(a.instance !== undefined ? { instance: a.instance } : {}),
    ...(a.version !== undefined ? { version: a.version } : {}), status: a.status,
  };
}

