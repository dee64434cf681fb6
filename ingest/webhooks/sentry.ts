/**
 * Sentry's issue alert webhook (integration platform, resource `event_alert`): the event
 * that triggered the rule, with its tags as `[key, value]` pairs and its release. Sentry
 * sends no "resolved" for issue alerts: they end when they are not sent again for the
 * resolve timeout.
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { type Normalised, labelsOf, rejected, timeOf } from './payload.js';

/** The fields of Sentry's issue alert payload that Vigil reads. */
export const sentrySchema = z.looseObject({
  action: z.string().min(1),
  data: z.looseObject({
    event: z.looseObject({
      title: z.string().optional(),
      message: z.string().optional(),
      level: z.string().optional(),
      release: z.string().nullable().optional(),
      issue_id: z.union([z.string(), z.number()]).optional(),
      project: z.union([z.string(), z.number()]).optional(),
      datetime: z.string().optional(),
      tags: z.array(z.tuple([z.string(), z.union([z.string(), z.number(), z.null()])])).optional(),
    }),
    triggered_rule: z.string().min(1),
  }),
});

/** Reads a Sentry issue alert body. */
export function normaliseSentry(body: unknown): Normalised {
  const p = sentrySchema.safeParse(body);
  if (!p.success) return rejected('sentry', p.error);
  const e = p.data.data.event;
  const tags = new Map((e.tags ?? []).map(([k, v]) => [k, v]));
  const name = p.data.data.triggered_rule;
  const labels = labelsOf([
    ...tags, ['alertname', name], ...(e.issue_id !== undefined ? [['issue_id', String(e.issue_id)] as const] : []),
    ...(e.project !== undefined ? [['project', String(e.project)] as const] : []),
  ]);
  const release = e.release ?? undefined;
  const alert: RawAlert = {
    name, status: 'firing', labels, startsAt: timeOf(e.datetime), endsAt: undefined, summary: e.title ?? e.message,
    hints: {
      ...(release ? { version: release } : {}), ...(e.level ? { severity: e.level } : {}),
      ...(typeof tags.get('server_name') === 'string' ? { instance: tags.get('server_name') as string } : {}),
    },
  };
  return { ok: true, alerts: [alert] };
}
