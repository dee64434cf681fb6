/**
 * The PagerDuty notifier: turns incidents into PagerDuty alerts through the Events API v2.
 * The incident id is the alert's `dedup_key`, so a page opens the alert, an update is a
 * further trigger that PagerDuty adds to the same open alert's log (it does not page
 * again), and a resolve closes it. Verdicts and suppressions are not PagerDuty's business.
 *
 * Delivery caveat: the Events API is asynchronous; a 202 means PagerDuty queued the event,
 * not that anyone was paged. A retried trigger is harmless (same dedup_key), but a trigger
 * that arrives after its resolve opens a new alert, so the delivery stage must keep the
 * order of one incident's decisions.
 */
import { createHash } from 'node:crypto';
import type { PageDecision, Decision, Severity, UpdateDecision } from '../rules/decisions.js';
import type { Notifier } from './notifier.js';
import { checkedTimeout, checkedUrl, postOnce } from './http.js';

/** Where a `PagerDutyNotifier` sends events and what it links them to. */
export interface PagerDutyNotifierOptions {
  /** Integration key of an Events API v2 integration; kept out of every error text. */
  readonly routingKey: string;
  readonly url?: string;
  /** Base URLs of Vigil's dashboard and HTTP API, attached to alerts as links. */
  readonly links?: { readonly dashboardUrl?: string; readonly apiUrl?: string };
  readonly timeoutMs?: number;
  /** `payload.source`: what PagerDuty shows as the affected system's location. */
  readonly source?: string;
}

/** The public Events API v2 endpoint. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const DEFAULT_TIMEOUT_MS = 10_000;
// Limits of the Events API v2; a longer field makes PagerDuty reject the whole event with a 400.
const SUMMARY_MAX_CHARS = 1024;
const DEDUP_KEY_MAX_CHARS = 255;
// Incidents whose page severity is remembered for their updates; the oldest are forgotten first.
const REMEMBERED_INCIDENTS = 10_000;

/** What a page said that its updates do not repeat. */
interface PagedIncident {
  readonly severity: Severity;
  readonly release: string | undefined;
}

/** Pages on-call through PagerDuty: one alert per incident, updated and resolved in place. */
export class PagerDutyNotifier implements Notifier {
  /** Channel name, as routes and a page's `channels` name it. */
  readonly channel = 'pagerduty';
  private readonly routingKey: string;
  private readonly url: string;
  private readonly links: readonly { readonly href: string; readonly text: string }[];
  private readonly clientUrl: string | undefined;
  private readonly timeoutMs: number;
  private readonly source: string;
  private readonly paged = new Map<string, PagedIncident>();

  constructor(options: PagerDutyNotifierOptions) {
    if (options.routingKey.trim() === '') throw new Error('pagerduty: routingKey is empty');
    this.routingKey = options.routingKey;
    this.url = checkedUrl(this.channel, options.url ?? PAGERDUTY_EVENTS_URL);
    this.timeoutMs = checkedTimeout(this.channel, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.source = options.source ?? 'vigil';
    const { dashboardUrl, apiUrl } = options.links ?? {};
    this.clientUrl = dashboardUrl;
    this.links = [
      ...(dashboardUrl === undefined ? [] : [{ href: dashboardUrl, text: 'Vigil dashboard' }]),
      // The API has no per-incident route; its incident list holds this one, with its reasons.
      ...(apiUrl === undefined ? [] : [{ href: `${apiUrl.replace(/\/+$/, '')}/v1/incidents`, text: 'Open incidents in the Vigil API (JSON)' }]),
    ];
  }

  /** Sends the PagerDuty event for a page, update or resolve; other decisions resolve at once. */
  async notify(decision: Decision): Promise<void> {
    const event = this.eventFor(decision);
    if (event === undefined) return;
    await postOnce({
      channel: this.channel,
      url: this.url,
      body: JSON.stringify(event),
      headers: { 'content-type': 'application/json' },
      timeoutMs: this.timeoutMs,
      secrets: [this.routingKey],
      now: Date.now,
    });
  }

  private eventFor(decision: Decision): object | undefined {
    switch (decision.type) {
      case 'page':
        this.remember(decision.incident, { severity: decision.severity, release: decision.release });
        return this.trigger(decision, decision.severity, decision.release);
      case 'update': {
        // An update has no severity of its own. Unknown after a restart: an open incident
        // that gained evidence is better over-stated than quietly downgraded.
        const paged = this.paged.get(decision.incident);
        return this.trigger(decision, paged?.severity ?? 'critical', paged?.release);
      }
      case 'resolve':
        this.paged.delete(decision.incident);
        return { routing_key: this.routingKey, event_action: 'resolve', dedup_key: dedupKey(decision.incident) };
      case 'verdict':
      case 'suppressed':
        return undefined;
      default: {
        const _unknown: never = decision;
        return undefined;
      }
    }
  }

  private trigger(d: PageDecision | UpdateDecision, severity: Severity, release: string | undefined): object {
    const summary = cut(d.summary, SUMMARY_MAX_CHARS);
    const customDetails = {
      versions: d.versions,
      signals: d.signals,
      reasons: d.reasons ?? [],
      ...(d.type === 'page' ? { channels: d.channels } : {}),
      // The cut summary is what phones and SMS show; the whole text stays reachable.
      ...(summary === d.summary ? {} : { summary: d.summary }),
    };
    return {
      routing_key: this.routingKey,
      event_action: 'trigger',
      dedup_key: dedupKey(d.incident),
      payload: {
        summary,
        source: this.source,
        severity: pagerDutySeverity(severity),
        timestamp: d.ts,
        component: d.service,
        group: release ?? d.service,
        class: d.signals.join(', '),
        custom_details: customDetails,
      },
      client: 'Vigil',
      ...(this.clientUrl === undefined ? {} : { client_url: this.clientUrl }),
      ...(this.links.length === 0 ? {} : { links: this.links }),
    };
  }

  private remember(incident: string, paged: PagedIncident): void {
    this.paged.delete(incident);
    this.paged.set(incident, paged);
    if (this.paged.size > REMEMBERED_INCIDENTS) {
      const oldest = this.paged.keys().next();
      if (oldest.done !== true) this.paged.delete(oldest.value);
    }
  }
}

/** PagerDuty's severity for a page's; PagerDuty's `error` level has no Vigil counterpart. */
function pagerDutySeverity(severity: Severity): 'critical' | 'warning' | 'info' {
  switch (severity) {
    case 'critical':
      return 'critical';
    case 'warning':
      return 'warning';
    case 'info':
      return 'info';
    default: {
      const _unknown: never = severity;
      return 'critical';
    }
  }
}

// Incident ids are short, but one past PagerDuty's limit would make every event for it a
// 400; a hash keeps page, update and resolve on the same key.
function dedupKey(incident: string): string {
  return incident.length <= DEDUP_KEY_MAX_CHARS ? incident : `sha256:${createHash('sha256').update(incident).digest('hex')}`;
}

function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  // A cut between the halves of a surrogate pair would send invalid UTF-16.
  return `${text.slice(0, maxChars - 1).replace(/[\uD800-\uDBFF]$/, '')}…`;
}
