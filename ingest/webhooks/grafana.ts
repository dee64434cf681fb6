/**
 * Grafana unified alerting's webhook contact point: Alertmanager's alert list plus Grafana's
 * own fields (`orgId`, `state`, `title`, per-alert `values`), version "1".
 */
import { z } from 'zod';
import { MAX_ALERTS_PER_PAYLOAD, type Normalised, rejected } from './payload.js';
import { amAlertSchema, amAlerts } from './alertmanager.js';

/** Grafana's webhook body. */
export const grafanaSchema = z.looseObject({
  alerts: z.array(amAlertSchema).max(MAX_ALERTS_PER_PAYLOAD),
  orgId: z.number().optional(),
  state: z.string().optional(),
  title: z.string().optional(),
});

/** Reads a Grafana unified alerting webhook body. */
export function normaliseGrafana(body: unknown): Normalised {
  const p = grafanaSchema.safeParse(body);
  if (!p.success) return rejected('grafana', p.error);
  return { ok: true, alerts: amAlerts(p.data.alerts) };
}
