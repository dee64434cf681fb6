/**
 * The reference decoder: zod schemas of the contract's input events (section 1). It is
 * the readable statement of what an event is; ./decode.ts is the fast twin used on the
 * hot path, and the two are tested for agreement on arbitrary input.
 */
import { z } from 'zod';
import type { Labels, VigilEvent } from '../rules/events.js';
import { DEPLOY_ACTIONS, ROLES, WEBHOOK_SOURCES } from '../rules/events.js';
import { LIMITS, MAX_EVENT_TIME_MS } from './decode.js';
import { normaliseWebhook } from './webhooks/index.js';

const isoDateTime = z.iso.datetime({ offset: true, local: true });

/** Event time: epoch milliseconds, or an RFC 3339 date-time (read as UTC when it names no zone). */
export const eventTimeSchema = z.union([
  z.number().min(-MAX_EVENT_TIME_MS).max(MAX_EVENT_TIME_MS),
  isoDateTime.transform((text) => Date.parse(/(?:Z|[+-]\d\d:\d\d)$/.test(text) ? text : `${text}Z`)),
]);

const requiredId = z.string().min(1).max(LIMITS.maxIdChars);

/** An optional tag; null and "" mean the same as absent. */
const optionalId = z
  .union([z.string().max(LIMITS.maxIdChars), z.null()])
  .optional()
  .transform((v) => (v === null || v === '' ? undefined : v));

const statusSchema = z
  .union([z.number().int().min(0).max(999), z.string().regex(/^\d{1,3}$/).transform(Number), z.null()])
  .optional()
  .transform((v) => v ?? undefined);

const nullable = <T extends z.ZodType>(schema: T) =>
  z
    .union([schema, z.null()])
    .optional()
    .transform((v) => v ?? undefined);

/** Keeps the object as it is (zod's own records drop a `__proto__` key, which must stay a label). */
const rawRecord = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'must be an object',
);

const labelsField = nullable(rawRecord);

/** Known fields of each event type; everything else on a request, log, metric or deploy is a label. */
const requestFields = z.object({
  type: z.literal('request'),
  ts: eventTimeSchema,
  service: requiredId,
  version: optionalId,
  instance: optionalId,
  route: optionalId,
  status: statusSchema,
  ok: nullable(z.boolean()),
  latency_ms: nullable(z.number().nonnegative()),
  region: optionalId,
  labels: labelsField,
});

const logFields = z.object({
  type: z.literal('log'),
  ts: eventTimeSchema,
  service: requiredId,
  level: requiredId,
  message: z.string(),
  version: optionalId,
  instance: optionalId,
  error_type: optionalId,
  labels: labelsField,
});

const metricFields = z.object({
  type: z.literal('metric'),
  ts: eventTimeSchema,
  service: requiredId,
  name: requiredId,
  value: z.number(),
  version: optionalId,
  instance: optionalId,
  unit: optionalId,
  labels: labelsField,
});

const deployFields = z.object({
  type: z.literal('deploy'),
  ts: eventTimeSchema,
  service: requiredId,
  version: requiredId,
  role: z.enum(ROLES),
  action: z.enum(DEPLOY_ACTIONS),
  instances: nullable(z.array(requiredId).max(LIMITS.maxInstances)),
  release: optionalId,
  labels: labelsField,
});

const webhookFields = z.object({
  type: z.literal('webhook'),
  ts: eventTimeSchema,
  source: z.enum(WEBHOOK_SOURCES),
  body: z.unknown().refine((v) => v !== undefined, 'required'),
});

const fieldsSchema = z.discriminatedUnion('type', [requestFields, logFields, metricFields, deployFields, webhookFields]);

const knownKeys: Readonly<Record<VigilEvent['type'], readonly string[]>> = {
  request: Object.keys(requestFields.shape),
  log: Object.keys(logFields.shape),
  metric: Object.keys(metricFields.shape),
  deploy: Object.keys(deployFields.shape),
  webhook: Object.keys(webhookFields.shape),
};

/** Any input event, decoded from one parsed JSON value. */
export const eventSchema: z.ZodType<VigilEvent, unknown> = rawRecord.transform((raw, ctx): VigilEvent => {
  const parsed = fieldsSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  const f = parsed.data;
  if (f.type === 'webhook') {
    const read = normaliseWebhook(f.source, f.body);
    if (!read.ok) {
      ctx.addIssue({ code: 'custom', message: read.reason, path: ['body'] });
      return z.NEVER;
    }
    return { type: 'webhook', ts: f.ts, source: f.source, body: f.body, alerts: read.alerts };
  }
  const labels = mergeLabels(raw, knownKeys[f.type], f.labels);
  if (typeof labels === 'string') {
    ctx.addIssue({ code: 'custom', message: labels, path: ['labels'] });
    return z.NEVER;
  }
  switch (f.type) {
    case 'request':
      return {
        type: 'request',
        ts: f.ts,
        service: f.service,
        version: f.version,
        instance: f.instance,
        route: f.route,
        status: f.status,
        ok: f.ok,
        latencyMs: f.latency_ms,
        region: f.region,
        labels,
      };
    case 'log':
      return {
        type: 'log',
        ts: f.ts,
        service: f.service,
        level: f.level,
        message: truncate(f.message, LIMITS.maxMessageChars),
        version: f.version,
        instance: f.instance,
        errorType: f.error_type,
        labels,
      };
    case 'metric':
      return {
        type: 'metric',
        ts: f.ts,
        service: f.service,
        name: f.name,
        value: f.value,
        version: f.version,
        instance: f.instance,
        unit: f.unit,
        labels,
      };
    case 'deploy':
      return {
        type: 'deploy',
        ts: f.ts,
        service: f.service,
        version: f.version,
        role: f.role,
        action: f.action,
        instances: f.instances,
        release: f.release,
        labels,
      };
  }
});

/** Unknown fields, then explicit labels over them; a problem comes back as its message. */
function mergeLabels(
  raw: Record<string, unknown>,
  known: readonly string[],
  explicit: Record<string, unknown> | undefined,
): Labels | undefined | string {
  const entries = new Map<string, string>();
  const sources = [Object.entries(raw).filter(([key]) => !known.includes(key)), Object.entries(explicit ?? {})];
  for (const source of sources) {
    for (const [key, value] of source) {
      if (value === undefined) continue;
      if (key.length > LIMITS.maxLabelKeyChars) return 'label name too long';
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      entries.set(key, truncate(text, LIMITS.maxLabelValueChars));
    }
  }
  if (entries.size > LIMITS.maxLabels) return 'too many labels';
  if (entries.size === 0) return undefined;
  // No prototype: a label called `__proto__` must stay an ordinary entry.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, text] of entries) labels[key] = text;
  return labels;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}
