/**
 * Datadog's webhook integration, with the payload template Vigil documents (README,
 * "Datadog"): Datadog's default payload carries neither the monitor id nor the tags, so the
 * template adds `$ALERT_ID`, `$ALERT_TRANSITION`, `$TAGS`, `$HOSTNAME` and `$PRIORITY`.
 * Tags `key:value` become labels; `Recovered` resolves, every other transition fires.
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { type Normalised, labelsOf, rejected, timeOf } from './payload.js';

/** The fields of the documented template that Vigil reads. */
export const datadogSchema = z.looseObject({
  alert_id: z.union([z.string().min(1), z.number()]),
  alert_transition: z.string().min(1),
  alert_title: z.string().optional(),
  title: z.string().optional(),
  tags: z.string().optional(),
  hostname: z.string().optional(),
  priority: z.string().optional(),
  alert_type: z.string().optional(),
  date: z.union([z.string(), z.number()]).optional(),
  last_updated: z.union([z.string(), z.number()]).optional(),
});

const RESOLVED_TRANSITIONS = new Set(['recovered', 'no data recovered', 'warn recovered']);

function epochOf(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : timeOf(v);
  return n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Reads a Datadog webhook body made with the documented template. */
export function normaliseDatadog(body: unknown): Normalised {
  const p = datadogSchema.safeParse(body);
  if (!p.success) return rejected('datadog', p.error);
  const d = p.data;
  const tags: [string, string][] = [];
  for (const t of (d.tags ?? '').split(',')) {
    const tag = t.trim();
    if (!tag) continue;
    const at = tag.indexOf(':');
    if (at > 0) tags.push([tag.slice(0, at), tag.slice(at + 1)]);
  }
  const name = d.alert_title || d.title || `monitor ${d.alert_id}`;
  // The monitor's id is not a label: monitors cloned per environment or host group would make one problem several.
  const labels = labelsOf([...tags, ['alertname', name], ...(d.hostname ? [['host', d.hostname] as [string, string]] : [])]);
  const resolved = RESOLVED_TRANSITIONS.has(d.alert_transition.toLowerCase());
  // Datadog's alert_type is error/warning/info/success; the priority P1-P5 is more telling when set.
  const severity = d.priority || (d.alert_type === 'error' ? 'critical' : d.alert_type);
  const at = epochOf(d.last_updated) ?? epochOf(d.date);
  const alert: RawAlert = {
    name, status: resolved ? 'resolved' : 'firing', labels, startsAt: resolved ? undefined : at, endsAt: resolved ? at : undefined,
    summary: d.alert_title || d.title, hints: { ...(severity ? { severity } : {}), ...(d.hostname ? { instance: d.hostname } : {}) },
  };
  return { ok: true, alerts: [alert] };
}
