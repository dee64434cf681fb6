/**
 * What the service remembers of its decisions, for the people and tools that ask: the
 * latest verdict of every judged version and the incidents with their history. The
 * embedded service keeps it in memory; it is bounded, so a long-running process does not
 * grow without end.
 */
import type { Decision, PageDecision, Severity, SuppressedDecision, Verdict, VerdictDecision } from '../rules/decisions.js';
import type { AlertRef } from '../rules/alerts.js';

/** One incident as the API shows it. */
export interface IncidentView {
  readonly id: string;
  readonly service: string;
  readonly versions: readonly string[];
  readonly release?: string;
  readonly severity: Severity;
  readonly signals: readonly string[];
  /** What the page said: the incident's headline, kept as updates arrive. */
  readonly summary: string;
  /** What the latest update said, when there was one. */
  readonly latest?: string;
  /** The page's reasons, then each update's new ones, without repeats (at most 50). */
  readonly reasons: readonly string[];
  readonly channels: readonly string[];
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly updates: number;
  readonly state: 'open' | 'resolved';
  readonly resolvedAt?: string;
  readonly resolution?: string;
  /** Monitoring-system alerts folded into the incident (the first 200). */
  readonly alerts: readonly AlertRef[];
  /** Its decisions not to page (duplicates, silenced, ...), the latest 100. */
  readonly suppressed: readonly SuppressedDecision[];
}

/** The latest verdict of one version, as the API shows it. */
export interface VerdictView {
  readonly service: string;
  readonly version: string;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  readonly since: string;
  readonly release?: string;
  readonly score?: number;
  readonly evidence?: VerdictDecision['evidence'];
}

/** The read side of remembered decisions. */
export interface DecisionReader {
  verdicts(): readonly VerdictView[];
  verdict(service: string, version: string): VerdictView | undefined;
  /** Every verdict change of a version, oldest first (for marks on charts). */
  verdictHistory(service: string, version: string): readonly VerdictView[];
  incidents(state?: 'open' | 'resolved'): readonly IncidentView[];
  /** The most recent decisions not to page, newest last. */
  suppressed(): readonly SuppressedDecision[];
  /** Decisions not to page since the start, by reason. */
  suppressedByReason(): Readonly<Record<string, number>>;
}

/** Resolved incidents kept for the API after they end; open ones are always kept. */
const RESOLVED_KEPT = 1_000;
/** Versions whose verdicts are kept; the oldest verdicts are forgotten first. */
const VERDICTS_KEPT = 10_000;
/** Verdict changes kept per version. */
const HISTORY_KEPT = 50;
/** Suppressed records kept. */
const SUPPRESSED_KEPT = 500;
/** Alerts listed per incident. */
const ALERTS_PER_INCIDENT = 200;
/** Reasons listed per incident. */
const REASONS_PER_INCIDENT = 50;
/** Suppressed records listed per incident. */
const SUPPRESSED_PER_INCIDENT = 100;

/** Decisions remembered in memory, as the embedded service keeps them. */
export class MemoryDecisions implements DecisionReader {
  private readonly byVersion = new Map<string, VerdictView>();
  private readonly byIncident = new Map<string, IncidentView>();
  private readonly history = new Map<string, VerdictView[]>();
  private readonly quiet: SuppressedDecision[] = [];
  private readonly quietCounts: Record<string, number> = {};
  private resolvedCount = 0;

  /** Takes one decision into account. */
  apply(d: Decision): void {
    switch (d.type) {
      case 'verdict': {
        const key = `${d.service}/${d.version}`;
        // Re-inserted so that the map's order is the order of last change, oldest first.
        const view: VerdictView = {
          service: d.service, version: d.version, verdict: d.verdict, reasons: d.reasons, since: d.ts,
          release: d.release, score: d.score, evidence: d.evidence,
        };
        this.byVersion.delete(key);
        this.byVersion.set(key, view);
        const changes = this.history.get(key) ?? [];
        changes.push(view);
        if (changes.length > HISTORY_KEPT) changes.shift();
        this.history.set(key, changes);
        if (this.byVersion.size > VERDICTS_KEPT) {
          const oldest = this.byVersion.keys().next().value as string;
          this.byVersion.delete(oldest);
          this.history.delete(oldest);
        }
        break;
      }
      case 'page':
        this.byIncident.set(d.incident, opened(d));
        break;
      case 'update': {
        const i = this.byIncident.get(d.incident);
        if (!i) break;
        this.byIncident.set(d.incident, {
          ...i, versions: d.versions, signals: d.signals, latest: d.summary, reasons: [...new Set([...i.reasons, ...(d.reasons ?? [])])].slice(0, REASONS_PER_INCIDENT),
          updatedAt: d.ts, updates: i.updates + 1, alerts: d.alerts ? [...i.alerts, ...d.alerts].slice(0, ALERTS_PER_INCIDENT) : i.alerts,
        });
        break;
      }
      case 'resolve': {
        const i = this.byIncident.get(d.incident);
        if (!i || i.state === 'resolved') break;
        this.byIncident.set(d.incident, { ...i, state: 'resolved', resolvedAt: d.ts, resolution: d.reason, updatedAt: d.ts });
        this.resolvedCount++;
        if (this.resolvedCount > RESOLVED_KEPT) this.forgetOldestResolved();
        break;
      }
      case 'suppressed': {
        const i = d.incident !== undefined ? this.byIncident.get(d.incident) : undefined;
        if (i) this.byIncident.set(i.id, { ...i, suppressed: [...i.suppressed, d].slice(-SUPPRESSED_PER_INCIDENT) });
        this.quiet.push(d);
        this.quietCounts[d.why] = (this.quietCounts[d.why] ?? 0) + 1;
        if (this.quiet.length > SUPPRESSED_KEPT) this.quiet.shift();
        break;
      }
    }
  }

  verdictHistory(service: string, version: string): readonly VerdictView[] {
    return this.history.get(`${service}/${version}`) ?? [];
  }

  suppressed(): readonly SuppressedDecision[] {
    return [...this.quiet];
  }

  suppressedByReason(): Readonly<Record<string, number>> {
    return { ...this.quietCounts };
  }

  verdicts(): readonly VerdictView[] {
    return [...this.byVersion.values()].sort((a, b) => (a.service === b.service ? cmp(a.version, b.version) : cmp(a.service, b.service)));
  }

  verdict(service: string, version: string): VerdictView | undefined {
    return this.byVersion.get(`${service}/${version}`);
  }

  incidents(state?: 'open' | 'resolved'): readonly IncidentView[] {
    const all = [...this.byIncident.values()].filter((i) => state === undefined || i.state === state);
    // Open first, then the most recently changed.
    return all.sort((a, b) => (a.state === b.state ? cmp(b.updatedAt, a.updatedAt) : a.state === 'open' ? -1 : 1));
  }

  private forgetOldestResolved(): void {
    for (const [id, i] of this.byIncident) {
      if (i.state === 'resolved') {
        this.byIncident.delete(id);
        this.resolvedCount--;
        return;
      }
    }
  }
}

function opened(d: PageDecision): IncidentView {
  return {
    id: d.incident, service: d.service, versions: d.versions, release: d.release, severity: d.severity, signals: d.signals,
    summary: d.summary, reasons: d.reasons ?? [], channels: d.channels, openedAt: d.ts, updatedAt: d.ts, updates: 0, state: 'open',
    alerts: d.alerts ?? [], suppressed: [],
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
