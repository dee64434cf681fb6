/**
 * The generic JSON alert, for tools with a configurable webhook and no shape of their own:
 * one alert object, or `{"alerts": [...]}` of them. Only `title` (or `alertname`) and
 * `status` are required; `labels` are read first, then the top-level fields.
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { MAX_ALERTS_PER_PAYLOAD, type Normalised, labelsOf, rejected, timeOf } from './payload.js';

/** One generic alert. */
export const genericAlertSchema = z.looseObject({
  title: z.string().min(1).optional(),
  alertname: z.string().min(1).optional(),
  status: z.enum(['firing', 'resolved']),
  severity: z.string().optional(),
  service: z.string().optional(),
  version: z.string().optional(),
  instance: z.string().optional(),
  summary: z.string().optional(),
  labels: z.record(z.string(), z.unknown()).optional(),
  startsAt: z.union([z.string(), z.number()]).optional(),
  endsAt: z.union([z.string(), z.number()]).optional(),
}).refine((a) => a.title !== undefined || a.alertname !== undefined, { message: 'needs "title" or "alertname"', path: ['title'] });

/** The generic body as a list of alerts. */
const genericListSchema = z.looseObject({ alerts: z.array(genericAlertSchema).min(1).max(MAX_ALERTS_PER_PAYLOAD) });

/** The generic body: one alert or a list. */
export const genericSchema = z.union([genericListSchema, genericAlertSchema]);

/** Reads a generic JSON alert body. */
export function normaliseGeneric(body: unknown): Normalised {
  // A body with `alerts` is a list, and only a list: read as one alert, its unchecked items would be taken as alerts.
  const isList = typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'alerts');
  const p = isList ? genericListSchema.safeParse(body) : genericAlertSchema.safeParse(body);
  if (!p.success) return rejected('generic', p.error);
  const list = 'alerts' in p.data && Array.isArray(p.data.alerts) ? p.data.alerts : [p.data as z.infer<typeof genericAlertSchema>];
  return {
    ok: true,
    alerts: list.map((a): RawAlert => {
      const name = (a.alertname ?? a.title) as string;
      return {
        name, status: a.status, labels: labelsOf([...Object.entries(a.labels ?? {}), ['alertname', name]]), startsAt: timeOf(a.startsAt), endsAt: timeOf(a.endsAt),
        summary: a.summary ?? a.title,
        hints: {
          ...(a.service ? { service: a.service } : {}), ...(a.version ? { version: a.version } : {}), ...(a.severity ? { severity: a.severity } : {}),
          ...(a.instance ? { instance: a.instance } : {}),
        },
      };
    }),
  };
}
