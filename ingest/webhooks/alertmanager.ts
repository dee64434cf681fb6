/**
 * Prometheus Alertmanager's webhook payload, version 4: a group of alerts, each with its
 * labels, annotations, status and times. Grafana's unified alerting posts the same shape
 * with a few fields more (grafana.ts).
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { MAX_ALERTS_PER_PAYLOAD, type Normalised, labelsOfRecord, rejected, timeOf } from './payload.js';

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

/** One alert as the schema reads it. */
type AmAlert = z.infer<typeof amAlertSchema>;

/** Alerts of one Alertmanager-shaped alert list. */
export function amAlerts(alerts: readonly AmAlert[]): RawAlert[] {
  return alerts.map((a) => {
    const labels = labelsOfRecord(a.labels);
    const ann = a.annotations ?? {};
    const summary = typeof ann['summary'] === 'string' ? ann['summary'] : typeof ann['description'] === 'string' ? ann['description'] : undefined;
    const name = labels['alertname'] ?? 'alert';
    // The record is this alert's own: naming it in place spares a copy per alert received.
    labels['alertname'] = name;
    return {
      name, status: a.status, labels, startsAt: timeOf(a.startsAt), endsAt: timeOf(a.endsAt), summary, hints: {},
    };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const isStatus = (v: unknown): boolean => v === 'firing' || v === 'resolved';

/**
 * The alerts of a body that surely fits alertmanagerSchema, read without the schema library
 * (which cost a fifth of the receiver's time per request); undefined whenever it is not
 * sure, and the schema then decides, with its reasons. The laws test holds it to the schema.
 */
export function fastAlertmanagerAlerts(body: unknown): readonly AmAlert[] | undefined {
  if (!isRecord(body)) return undefined;
  const { alerts, version, status, groupLabels, commonLabels } = body;
  if (!Array.isArray(alerts) || alerts.length > MAX_ALERTS_PER_PAYLOAD || !optionalString(version)) return undefined;
  if (status !== undefined && !isStatus(status)) return undefined;
  if ((groupLabels !== undefined && !isRecord(groupLabels)) || (commonLabels !== undefined && !isRecord(commonLabels))) return undefined;
  for (const a of alerts as unknown[]) {
    if (!isRecord(a) || !isStatus(a['status']) || !isRecord(a['labels'])) return undefined;
    if (a['annotations'] !== undefined && !isRecord(a['annotations'])) return undefined;
    if (!optionalString(a['startsAt']) || !optionalString(a['endsAt']) || !optionalString(a['fingerprint'])) return undefined;
  }
  return alerts as AmAlert[];
}

/** The refusal of a webhook version other than 4, its value cut so that the reason stays short. */
function wrongVersion(version: string): Normalised {
  return { ok: false, reason: `not a alertmanager payload: version ${JSON.stringify(version.slice(0, 40))} (expected "4")` };
}

/** Reads an Alertmanager webhook body. */
export function normaliseAlertmanager(body: unknown): Normalised {
  const fast = fastAlertmanagerAlerts(body);
  if (fast !== undefined) {
    const version = (body as { version?: string }).version;
    if (version !== undefined && version !== '4') return wrongVersion(version);
    return { ok: true, alerts: amAlerts(fast) };
  }
  const p = alertmanagerSchema.safeParse(body);
  if (!p.success) return rejected('alertmanager', p.error);
  if (p.data.version !== undefined && p.data.version !== '4') return wrongVersion(p.data.version);
  return { ok: true, alerts: amAlerts(p.data.alerts) };
}
