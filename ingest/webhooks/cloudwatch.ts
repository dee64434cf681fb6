/**
 * CloudWatch alarms delivered through Amazon SNS: the HTTP body is an SNS message (sent as
 * text/plain) whose `Message` is the alarm as JSON text. `ALARM` fires, `OK` resolves,
 * `INSUFFICIENT_DATA` says nothing. Subscription handshakes carry no alarm (the receiver
 * confirms them, see app/webhooks.ts); the signature is checked by the receiver too.
 */
import { z } from 'zod';
import type { RawAlert } from '../../rules/events.js';
import { type Normalised, labelsOf, rejected, timeOf } from './payload.js';

/** The SNS envelope. */
export const snsSchema = z.looseObject({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Message: z.string(),
  Timestamp: z.string(),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  Subject: z.string().optional(),
  SubscribeURL: z.string().optional(),
  Token: z.string().optional(),
});

/** An SNS message after parsing. */
export type SnsMessage = z.infer<typeof snsSchema>;

/** The CloudWatch alarm inside `Message`. */
export const alarmSchema = z.looseObject({
  AlarmName: z.string().min(1),
  AlarmDescription: z.string().nullable().optional(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.string().optional(),
  StateChangeTime: z.string().optional(),
  Region: z.string().optional(),
  AWSAccountId: z.string().optional(),
  Trigger: z.looseObject({
    MetricName: z.string().optional(),
    Namespace: z.string().optional(),
    Dimensions: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
  }).optional(),
});

/** Reads an SNS message (the body as JSON) carrying a CloudWatch alarm. */
export function normaliseCloudwatch(body: unknown): Normalised {
  const env = snsSchema.safeParse(typeof body === 'string' ? parseJson(body) : body);
  if (!env.success) return rejected('cloudwatch (SNS)', env.error);
  if (env.data.Type !== 'Notification') return { ok: true, alerts: [] };
  const inner = parseJson(env.data.Message);
  const alarm = alarmSchema.safeParse(inner);
  if (!alarm.success) return rejected('cloudwatch alarm (SNS Message)', alarm.error);
  const a = alarm.data;
  if (a.NewStateValue === 'INSUFFICIENT_DATA') return { ok: true, alerts: [] };
  const dims = (a.Trigger?.Dimensions ?? []).map((d) => [d.name, d.value] as const);
  const labels = labelsOf([
    ...dims, ['alertname', a.AlarmName], ...(a.Region ? [['region', a.Region] as const] : []),
    ...(a.Trigger?.Namespace ? [['namespace', a.Trigger.Namespace] as const] : []), ...(a.Trigger?.MetricName ? [['metric', a.Trigger.MetricName] as const] : []),
  ]);
  const at = timeOf(a.StateChangeTime) ?? timeOf(env.data.Timestamp);
  const firing = a.NewStateValue === 'ALARM';
  const alert: RawAlert = {
    name: a.AlarmName, status: firing ? 'firing' : 'resolved', labels, startsAt: firing ? at : undefined, endsAt: firing ? undefined : at,
    summary: a.AlarmDescription ?? a.NewStateReason, hints: { severity: 'critical', nameHint: a.AlarmName },
  };
  return { ok: true, alerts: [alert] };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
