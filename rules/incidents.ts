/**
 * Correlation and paging policy: failed releases become incidents, one per service and
 * release, so that parallel canaries of one release page once and the rest thread under it
 * as updates. An incident resolves when its versions are rolled back, finished or promoted,
 * or when the regression has not been seen for a while.
 */
import type { Routed } from './routing.js';
import type { Decision, Severity } from './decisions.js';
import { isoTime } from './decisions.js';
import type { Signal } from './judge.js';
import type { Judgment } from './verdicts.js';
import type { IncidentRecord } from './checkpoint.js';
import { SIGNAL_WORDS, duration } from './verdicts.js';

/** An open incident. */
export interface Incident {
  readonly id: string;
  readonly service: string;
  /** The release (or the single version when there is none) that groups its versions. */
  readonly group: string;
  readonly versions: string[];
  readonly signals: Set<Signal>;
  /** Finding keys already told (page or update), per version, so updates carry only news. */
  readonly told: Set<string>;
  severity: Severity;
  readonly openedTs: number;
  /** Event time a finding on any blamed version last held. */
  lastActiveTs: number;
}

/** Paging settings the book needs. */
export interface PagingSettings {
  /** The channels an incident goes to (routing). */
  readonly route: (what: Routed) => readonly string[];
  readonly recoverAfterMs: number;
  /** The open alert incident of a service that a new release regression threads under instead of paging, if any. */
  readonly adopt?: (service: string) => string | undefined;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/** The open incidents of an engine and the decisions they produce. */
export class IncidentBook {
  private readonly open = new Map<string, Incident>();
  private readonly used = new Set<string>();

  constructor(private readonly settings: PagingSettings, private readonly emit: (d: Decision) => void) {}

  /** The open incident a version belongs to, if any. */
  incidentOf(service: string, group: string): Incident | undefined {
    return this.open.get(`${service}\u0000${group}`);
  }

  /** Every open incident, in opening order. */
  openIncidents(): Iterable<Incident> {
    return this.open.values();
  }

  /**
   * A judgment failed (or a failed one has new findings). Pages when its group has no
   * open incident; otherwise the news threads under the open one as an update.
   * `siblings` are other judgments of the same release whose findings hold right now.
   */
  failed(j: Judgment, siblings: readonly Judgment[], ts: number): void {
    const group = j.release ?? j.version;
    const key = `${j.service}\u0000${group}`;
    const confirmed = j.confirmedFindings();
    let inc = this.open.get(key);
    if (!inc) {
      const versions = [j.version, ...siblings.filter((s) => s.activeFindings().length > 0).map((s) => s.version)];
      const severity = confirmed.reduce<Severity>((s, f) => (SEVERITY_RANK[f.effect.severity] > SEVERITY_RANK[s] ? f.effect.severity : s), 'warning');
      // Monitoring systems may have paged about the symptoms already: the release is the cause, told as news of that incident.
      const adopted = this.settings.adopt?.(j.service);
      inc = {
        id: adopted ?? this.newId(j.service, group, ts), service: j.service, group, versions, signals: new Set(),
        told: new Set(), severity, openedTs: ts, lastActiveTs: ts,
      };
      this.open.set(key, inc);
      const reasons: string[] = [];
      for (const v of [j, ...siblings]) {
        if (!versions.includes(v.version)) continue;
        for (const f of v === j ? confirmed : v.activeFindings()) {
          inc.signals.add(f.signal);
          inc.told.add(`${v.version}|${f.key}`);
          reasons.push(`${v.version}: ${f.effect.summary}`);
        }
      }
      const signals = [...inc.signals];
      if (adopted !== undefined) {
        this.used.add(adopted);
        this.emit({
          type: 'update', ts: isoTime(ts), incident: inc.id, service: j.service, versions: [...versions], signals: [...signals, 'alerts'],
          summary: `cause found: ${this.summary(j.service, versions, signals, j.release, confirmed[0]?.effect.summary)}`, reasons,
        });
        return;
      }
      this.emit({
        type: 'page', ts: isoTime(ts), incident: inc.id, service: j.service, versions: [...versions],
        signals, severity, summary: this.summary(j.service, versions, signals, j.release, confirmed[0]?.effect.summary),
        channels: [...this.settings.route({ service: j.service, severity, ts })],
        ...(j.release !== undefined ? { release: j.release } : {}),
        reasons,
      });
      return;
    }
    inc.lastActiveTs = ts;
    const news: string[] = [];
    const newVersion = !inc.versions.includes(j.version);
    if (newVersion) inc.versions.push(j.version);
    for (const f of confirmed) {
      const k = `${j.version}|${f.key}`;
      if (inc.told.has(k)) continue;
      inc.told.add(k);
      if (SEVERITY_RANK[f.effect.severity] > SEVERITY_RANK[inc.severity]) inc.severity = f.effect.severity;
      // More routes showing a signal already told are detail for the verdict, not news for people.
      if (!newVersion && inc.signals.has(f.signal)) continue;
      inc.signals.add(f.signal);
      news.push(`${j.version}: ${f.effect.summary}`);
    }
    if (news.length === 0 && !newVersion) return;
    const signals = [...inc.signals];
    this.emit({
      type: 'update', ts: isoTime(ts), incident: inc.id, service: j.service, versions: [...inc.versions], signals,
      summary: newVersion
        ? `${j.version} fails the same way: ${this.summary(j.service, inc.versions, signals, j.release, confirmed[0]?.effect.summary)}`
        : `${j.version} also regresses in ${[...new Set(confirmed.filter((f) => news.some((n) => n.endsWith(f.effect.summary))).map((f) => SIGNAL_WORDS[f.signal]))].join(' and ')}`,
      reasons: news,
    });
  }

  /** Resolves incidents whose regression has not been seen for the recovery time. */
  recoverQuiet(ts: number): void {
    for (const [key, inc] of this.open) {
      if (ts - inc.lastActiveTs >= this.settings.recoverAfterMs) {
        this.open.delete(key);
        this.emit({
          type: 'resolve', ts: isoTime(ts), incident: inc.id, service: inc.service,
          reason: `recovered: no regression seen on ${inc.versions.join(', ')} for ${duration(ts - inc.lastActiveTs)}`,
        });
      }
    }
  }

  /** A version left (rolled back, finished, promoted): resolves its incident once all its versions left. */
  versionEnded(service: string, group: string, version: string, how: string, stillRunning: (v: string) => boolean, ts: number): void {
    const key = `${service}\u0000${group}`;
    const inc = this.open.get(key);
    if (!inc || !inc.versions.includes(version)) return;
    if (inc.versions.some((v) => v !== version && stillRunning(v))) return;
    this.open.delete(key);
    this.emit({ type: 'resolve', ts: isoTime(ts), incident: inc.id, service, reason: `${how} ${inc.versions.join(', ')}` });
  }

  /** The open incidents, for a checkpoint. */
  records(): IncidentRecord[] {
    return [...this.open.values()].map((inc) => ({
      id: inc.id, service: inc.service, group: inc.group, versions: [...inc.versions], signals: [...inc.signals], told: [...inc.told],
      severity: inc.severity, openedTs: inc.openedTs, lastActiveTs: inc.lastActiveTs,
    }));
  }

  /** Takes open incidents from a checkpoint, before any event: a failure seen again threads under them. */
  restore(records: readonly IncidentRecord[]): void {
    for (const r of records) {
      this.open.set(`${r.service}\u0000${r.group}`, {
        id: r.id, service: r.service, group: r.group, versions: [...r.versions], signals: new Set(r.signals), told: new Set(r.told),
        severity: r.severity, openedTs: r.openedTs, lastActiveTs: r.lastActiveTs,
      });
      this.used.add(r.id);
    }
  }

  private summary(service: string, versions: readonly string[], signals: readonly Signal[], release: string | undefined, first: string | undefined): string {
    const what = signals.map((s) => SIGNAL_WORDS[s]).join(' and ');
    const who = versions.length > 1 ? `${versions.length} canaries of ${release ?? 'one release'} (${versions.join(', ')})` : versions.join(', ');
    return `${service}: ${what} regression in ${who}${first ? `; ${first}` : ''}`;
  }

  private newId(service: string, group: string, ts: number): string {
    const stamp = isoTime(ts).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let id = `${service}-${group}-${stamp}`;
    for (let n = 2; this.used.has(id); n++) id = `${service}-${group}-${stamp}-${n}`;
    this.used.add(id);
    return id;
  }
}
