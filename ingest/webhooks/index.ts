/**
 * One normaliser per monitoring system, all to the same raw alert shape; the HTTP
 * receivers and the `webhook` event of replay and Kafka run the same code, so a replayed
 * file folds alerts exactly as the receiver did.
 */
import type { WebhookSource } from '../../rules/events.js';
import { MAX_BODY_DEPTH, type Normalised, boundedAlert, nestsDeeper } from './payload.js';
import { normaliseAlertmanager } from './alertmanager.js';
import { normaliseGrafana } from './grafana.js';
import { normaliseDatadog } from './datadog.js';
import { normaliseCloudwatch } from './cloudwatch.js';
import { normaliseSentry } from './sentry.js';
import { normaliseGeneric } from './generic.js';

/** The normaliser of each source. */
const NORMALISERS: Readonly<Record<WebhookSource, (body: unknown) => Normalised>> = {
  alertmanager: normaliseAlertmanager,
  grafana: normaliseGrafana,
  datadog: normaliseDatadog,
  cloudwatch: normaliseCloudwatch,
  sentry: normaliseSentry,
  generic: normaliseGeneric,
};

/** Reads the alerts of one source's webhook body, or says why it is not one. */
export function normaliseWebhook(source: WebhookSource, body: unknown): Normalised {
  if (nestsDeeper(body, MAX_BODY_DEPTH)) return { ok: false, reason: `not a ${source} payload: objects and arrays nested deeper than ${MAX_BODY_DEPTH} levels` };
  const read = NORMALISERS[source](body);
  return read.ok ? { ok: true, alerts: read.alerts.map(boundedAlert) } : read;
}

export type { Normalised } from './payload.js';
