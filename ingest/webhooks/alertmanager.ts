/**
 * Prometheus Alertmanager's webhook payload, version 4: a group of alerts, each with its
 * labels, annotations, status and times. Grafana's unified alerting posts the same shape
 * with a few fields more (grafana.ts).
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { MAX_ALERTS_PER_PAYLOAD, type Normalised, labelsOf, rejected, timeOf } from './payload.js';

const stringMap = z.record(z.string(), z.unknown());

/** One alert of an Alertmanager-shaped payload. */
export const amAlertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: stringMap,
  annotations: stringMap.optional(),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  fingerprint: z.string().optional(),
});

/** Alertmanager's webhook body (version 4). */
export const alertmanagerSchema = z.looseObject({
  version: z.string().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  alerts: z.array(amAlertSchema).max(MAX_ALERTS_PER_PAYLOAD),
  groupLabels: stringMap.optional(),
  commonLabels: stringMap.optional(),
});

/** Alerts of one Alertmanager-shaped alert list. */
export function amAlerts(alerts: readonly z.infer<typeof amAlertSchema>[]): RawAlert[] {
  return alerts.map((a) => {
    const labels = labelsOf(Object.entries(a.labels));
    const ann = a.annotations ?? {};
    const summary = typeof ann['summary'] === 'string' ? ann['summary'] : typeof ann['description'] === 'string' ? ann['description'] : undefined;
    const name = labels['alertname'] ?? 'alert';
    return {
      name, status: a.status, labels: { ...labels, alertname: name }, startsAt: timeOf(a.startsAt), endsAt: timeOf(a.endsAt), summary, hints: {},
    };
  });
}

/** Reads an Alertmanager webhook body. */
export function normaliseAlertmanager(body: unknown): Normalised {
  const p = alertmanagerSchema.safeParse(body);
  if (!p.success) return rejected('alertmanager', p.error);
  if (p.data.version !== undefined && p.data.version !== '4') return { ok: false, reason: `not a alertmanager payload: version ${JSON.stringify(p.data.version.slice(0, 40))} (expected "4")` };
  return { ok: true, alerts: amAlerts(p.data.alerts) };
}
