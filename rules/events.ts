/**
 * The engine's input events (contract section 1) as typed, readonly values.
 * Decoders at the edge (ingest/) turn raw JSON into these; the core never sees raw input.
 */

/** Extra string labels: unknown fields of an event are kept here, never rejected. */
export type Labels = Readonly<Record<string, string>>;

/** Roles a release tool gives a deployment. */
export type Role = 'canary' | 'baseline' | 'stable';
export const ROLES: readonly Role[] = ['canary', 'baseline', 'stable'];

/** Lifecycle steps of a deployment. */
export type DeployAction = 'start' | 'promote' | 'rollback' | 'finish';
export const DEPLOY_ACTIONS: readonly DeployAction[] = ['start', 'promote', 'rollback', 'finish'];

/** Monitoring systems whose webhook payloads Vigil understands. */
export type WebhookSource = 'alertmanager' | 'grafana' | 'datadog' | 'cloudwatch' | 'sentry' | 'generic';
export const WEBHOOK_SOURCES: readonly WebhookSource[] = ['alertmanager', 'grafana', 'datadog', 'cloudwatch', 'sentry', 'generic'];

/** One served request (access log line or span). */
export interface RequestEvent {
  readonly type: 'request';
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  readonly service: string;
  readonly version?: string;
  readonly instance?: string;
  readonly route?: string;
  readonly status?: number;
  readonly ok?: boolean;
  readonly latencyMs?: number;
  readonly region?: string;
  readonly labels?: Labels;
}

/** One application log line. */
export interface LogEvent {
  readonly type: 'log';
  readonly ts: number;
  readonly service: string;
  readonly level: string;
  readonly message: string;
  readonly version?: string;
  readonly instance?: string;
  readonly errorType?: string;
  readonly labels?: Labels;
}

/** A pre-aggregated metric sample. */
export interface MetricEvent {
  readonly type: 'metric';
  readonly ts: number;
  readonly service: string;
  readonly name: string;
  readonly value: number;
  readonly version?: string;
  readonly instance?: string;
  readonly unit?: string;
  readonly labels?: Labels;
}

/** A release tool's lifecycle event. */
export interface DeployEvent {
  readonly type: 'deploy';
  readonly ts: number;
  readonly service: string;
  readonly version: string;
  readonly role: Role;
  readonly action: DeployAction;
  readonly instances?: readonly string[];
  readonly release?: string;
  readonly labels?: Labels;
}

/** One alert as a source's normaliser reads it from a payload, before the label mapping. */
export interface RawAlert {
  /** The alert rule's name (Alertmanager's `alertname`). */
  readonly name: string;
  readonly status: 'firing' | 'resolved';
  /** Every label the source gave, `alertname` included. */
  readonly labels: Labels;
  /** Epoch milliseconds, when the source says. */
  readonly startsAt: number | undefined;
  readonly endsAt: number | undefined;
  readonly summary: string | undefined;
  /** The source's own fields for what labels may not say; labels win over them. */
  readonly hints: {
    readonly service?: string;
    readonly version?: string;
    readonly severity?: string;
    readonly instance?: string;
    /** A name (CloudWatch's alarm name) that may start with the service's name. */
    readonly nameHint?: string;
  };
}

/** A raw monitoring-system payload, as its HTTP receiver would get it, with the alerts read from it. */
export interface WebhookEvent {
  readonly type: 'webhook';
  readonly ts: number;
  readonly source: WebhookSource;
  readonly body: unknown;
  /** What the source's normaliser read from `body` (none for a subscription handshake). */
  readonly alerts: readonly RawAlert[];
}

/** Any input event. */
export type VigilEvent = RequestEvent | LogEvent | MetricEvent | DeployEvent | WebhookEvent;

/** Event types, in the contract's order. */
export const EVENT_TYPES: readonly VigilEvent['type'][] = ['request', 'log', 'metric', 'deploy', 'webhook'];

/** Whether a request counts as an error: a 5xx status or an explicit `ok: false`. */
export function isErrorRequest(e: RequestEvent): boolean {
  return e.ok === false || (e.status !== undefined && e.status >= 500);
}

/** Whether a log line feeds error signatures. */
export function isErrorLevel(level: string): boolean {
  const l = level.toLowerCase();
  return l === 'error' || l === 'fatal' || l === 'critical' || l === 'crit' || l === 'emerg' || l === 'alert';
}
