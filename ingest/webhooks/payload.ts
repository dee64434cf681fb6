/**
 * What every source's normaliser shares: the outcome type, reasons from schema issues,
 * label sets bounded the way event labels are, and times as sources write them.
 */
import type { z } from 'zod';
import type { Labels, RawAlert } from '../../rules/events.js';

/** What a normaliser makes of a body: the alerts in it, or why it is not a payload of its source. */
export type Normalised = { readonly ok: true; readonly alerts: readonly RawAlert[] } | { readonly ok: false; readonly reason: string };

/** Most labels one alert keeps; the rest are dropped in key order (they still count in no fingerprint). */
export const MAX_ALERT_LABELS = 64;
/** Label values beyond this are cut. */
export const MAX_LABEL_VALUE_CHARS = 1_024;
/** Most alerts read from one payload. */
export const MAX_ALERTS_PER_PAYLOAD = 1_000;

/** Alert names and hints (service, version, instance, severity) beyond this are cut, like label values. */
export const MAX_ALERT_NAME_CHARS = MAX_LABEL_VALUE_CHARS;
/** Summaries beyond this are cut: a person reads the start, and a page must stay small. */
export const MAX_SUMMARY_CHARS = 4_096;
/** Deepest nesting of objects and arrays a body may have: every source's payload stays within a handful of levels. */
export const MAX_BODY_DEPTH = 64;

/** A path segment or message from a schema issue as a reason shows it: a hostile key cannot make the reason huge. */
function shown(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars)}...` : text;
}

/** A failed outcome naming the first problems the schema found. */
export function rejected(source: string, error: z.ZodError): Normalised {
  const problems = error.issues.slice(0, 3).map((i) => `${i.path.length > 0 ? shown(i.path.slice(0, 8).map((p) => shown(String(p), 40)).join('.'), 200) : 'body'}: ${shown(i.message, 200)}`);
  return { ok: false, reason: `not a ${source} payload: ${problems.join('; ')}` };
}

/**
 * Whether a parsed body nests deeper than `maxDepth` (counted without recursion, so a hostile
 * body cannot overflow the stack here). A deeper body could not be written to the events
 * topic (JSON.stringify recurses) and is no payload of any source.
 */
export function nestsDeeper(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** An alert with its free texts cut to the limits, whichever source it came from. */
export function boundedAlert(a: RawAlert): RawAlert {
  const cut = (t: string | undefined, chars: number): string | undefined => (t === undefined || t.length <= chars ? t : t.slice(0, chars));
  const h = a.hints;
  const hints: RawAlert['hints'] = {
    ...(h.service !== undefined ? { service: cut(h.service, MAX_ALERT_NAME_CHARS) } : {}),
    ...(h.version !== undefined ? { version: cut(h.version, MAX_ALERT_NAME_CHARS) } : {}),
    ...(h.severity !== undefined ? { severity: cut(h.severity, MAX_ALERT_NAME_CHARS) } : {}),
    ...(h.instance !== undefined ? { instance: cut(h.instance, MAX_ALERT_NAME_CHARS) } : {}),
    ...(h.nameHint !== undefined ? { nameHint: cut(h.nameHint, MAX_ALERT_NAME_CHARS) } : {}),
  };
  return { ...a, name: cut(a.name, MAX_ALERT_NAME_CHARS) ?? a.name, summary: cut(a.summary, MAX_SUMMARY_CHARS), hints };
}

/** A label set from a source's key/value record: values as text, bounded in count and length. */
export function labelsOf(entries: Iterable<readonly [string, unknown]>): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = [...entries].filter(([k, v]) => k.length > 0 && v !== null && v !== undefined && typeof v !== 'object')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of pairs.slice(0, MAX_ALERT_LABELS)) out[k] = String(v).slice(0, MAX_LABEL_VALUE_CHARS);
  return out;
}

/**
 * `labelsOf` for a record, the shape most sources send: the same labels without the
 * intermediate arrays (every alert received goes through here).
 */
export function labelsOfRecord(record: Readonly<Record<string, unknown>>): Record<string, string> {
  const keys: string[] = [];
  for (const k in record) {
    if (!Object.hasOwn(record, k) || k.length === 0) continue;
    const v = record[k];
    if (v !== null && v !== undefined && typeof v !== 'object') keys.push(k);
  }
  // Own keys of a record are distinct: the default order of strings is that of labelsOf.
  keys.sort();
  const out: Record<string, string> = {};
  const n = Math.min(keys.length, MAX_ALERT_LABELS);
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string;
    const v = record[k];
    const text = typeof v === 'string' ? v : String(v);
    out[k] = text.length > MAX_LABEL_VALUE_CHARS ? text.slice(0, MAX_LABEL_VALUE_CHARS) : text;
  }
  return out;
}

/** Epoch milliseconds of a source's time text; undefined for Go's zero time and anything unreadable. */
export function timeOf(text: string | number | null | undefined): number | undefined {
  if (text === null || text === undefined || text === '') return undefined;
  // Most times end in Z: only an offset written without its colon needs mending first.
  const ms = typeof text === 'number' ? text : Date.parse(text.endsWith('Z') ? text : text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  // Alertmanager writes 0001-01-01T00:00:00Z for "no end yet".
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** The labels, with `alertname` set. */
export function named(labels: Labels, name: string): Labels {
  return labels['alertname'] === undefined ? { ...labels, alertname: name } : labels;
}
