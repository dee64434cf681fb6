/**
 * The hot-path event decoder: one NDJSON line (or one already-parsed JSON value) in,
 * one typed event or one short reason out. It must agree with the zod reference in
 * ./schema.ts on every input (decode.test.ts checks that with fast-check); it exists
 * because replay spends most of its time here, beside JSON.parse.
 */
import type {
  DeployAction,
  DeployEvent,
  Labels,
  LogEvent,
  MetricEvent,
  RequestEvent,
  Role,
  VigilEvent,
  WebhookEvent,
  WebhookSource,
} from '../rules/events.js';
import { DEPLOY_ACTIONS, EVENT_TYPES, ROLES, WEBHOOK_SOURCES } from '../rules/events.js';
import { normaliseWebhook } from './webhooks/index.js';

/** Size bounds on decoded input; anything larger is rejected (or, for free text, cut). */
export const LIMITS = {
  /** Longest line decodeLine accepts, in UTF-16 code units. */
  maxLineChars: 1_048_576,
  /** Longest identifier (service, version, instance, route, ...). */
  maxIdChars: 256,
  /** Log messages beyond this are cut, not rejected: the head carries the signature. */
  maxMessageChars: 8_192,
  /** Label values beyond this are cut, not rejected: unknown fields are never a reason to drop an event. */
  maxLabelValueChars: 1_024,
  /** Longest label name. */
  maxLabelKeyChars: 256,
  /** Most labels one event may carry (unknown fields and explicit labels together). */
  maxLabels: 64,
  /** Most instances one deploy event may list. */
  maxInstances: 10_000,
} as const;

/** Largest distance of an event time from the epoch that a Date can represent, so that every accepted time formats as ISO-8601. */
export const MAX_EVENT_TIME_MS = 8.64e15;

/**
 * Outcome of decoding one input: a typed event, or the reason it was rejected. Absent
 * optional fields are present as `undefined`, so that all events of a type share one
 * object shape and the engine's reads of them stay monomorphic.
 */
export type DecodeResult = { readonly ok: true; readonly event: VigilEvent } | { readonly ok: false; readonly reason: string };

/** A rejected input; instances double as the failed DecodeResult so that checks can return them as they are. */
class Rejected {
  readonly ok = false;
  constructor(readonly reason: string) {}
}

const EXPECTED_TYPES = `(expected ${EVENT_TYPES.join(', ')})`;
const MISSING_TYPE = new Rejected('missing field "type"');
const MISSING_TS = new Rejected('missing field "ts"');
const BAD_TS = new Rejected('field "ts" is not a valid time');

/** Decodes one NDJSON line. */
export function decodeLine(line: string): DecodeResult {
  if (line.length > LIMITS.maxLineChars) return new Rejected(`line longer than ${LIMITS.maxLineChars} characters`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    // The parser quotes the input in its message; the dead-letter record has the line already.
    return new Rejected(`not JSON: ${cutText(err instanceof Error ? err.message : String(err), 120)}`);
  }
  return decodeValue(value);
}

/** Decodes one parsed JSON value (a Kafka message value, an HTTP body element). */
export function decodeValue(value: unknown): DecodeResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new Rejected(`expected a JSON object, got ${kindOf(value)}`);
  }
  const o = value as Record<string, unknown>;
  const type = o.type;
  switch (type) {
    case 'request':
      return decodeRequest(o);
    case 'log':
      return decodeLog(o);
    case 'metric':
      return decodeMetric(o);
    case 'deploy':
      return decodeDeploy(o);
    case 'webhook':
      return decodeWebhook(o);
    case undefined:
    case null:
      return MISSING_TYPE;
    default:
      return new Rejected(`unknown type ${shortJson(type)} ${EXPECTED_TYPES}`);
  }
}

/** The stable part of a rejection reason, for counting rejections by kind (`not JSON`, `unknown type`, `missing field "ts"`). */
export function reasonClass(reason: string): string {
  if (reason.startsWith('unknown type ')) return 'unknown type';
  // Details follow ': ' (parser messages), ' (' (counts, allowed values) or ', got ' (the bad value); the head names the field.
  let cut = reason.length;
  for (const marker of [': ', ' (', ', got ']) {
    const at = reason.indexOf(marker);
    if (at >= 0 && at < cut) cut = at;
  }
  return reason.slice(0, cut);
}

function decodeRequest(o: Record<string, unknown>): DecodeResult {
  let ts: unknown, service: unknown, version: unknown, instance: unknown, route: unknown;
  let status: unknown, okFlag: unknown, latency: unknown, region: unknown, labels: unknown;
  let unknownKeys: string[] | undefined;
  for (const k in o) {
    switch (k) {
      case 'type':
        break;
      case 'ts':
        ts = o[k];
        break;
      case 'service':
        service = o[k];
        break;
      case 'version':
        version = o[k];
        break;
      case 'instance':
        instance = o[k];
        break;
      case 'route':
        route = o[k];
        break;
      case 'status':
        status = o[k];
        break;
      case 'ok':
        okFlag = o[k];
        break;
      case 'latency_ms':
        latency = o[k];
        break;
      case 'region':
        region = o[k];
        break;
      case 'labels':
        labels = o[k];
        break;
      default:
        (unknownKeys ??= []).push(k);
    }
  }
  const tsMs = eventTime(ts);
  if (tsMs instanceof Rejected) return tsMs;
  const serviceText = requiredId(service, 'service');
  if (serviceText instanceof Rejected) return serviceText;
  const versionText = optionalId(version, 'version');
  if (versionText instanceof Rejected) return versionText;
  const instanceText = optionalId(instance, 'instance');
  if (instanceText instanceof Rejected) return instanceText;
  const routeText = optionalId(route, 'route');
  if (routeText instanceof Rejected) return routeText;
  const statusCode = optionalStatus(status);
  if (statusCode instanceof Rejected) return statusCode;
  let okValue: boolean | undefined;
  if (okFlag === true || okFlag === false) okValue = okFlag;
  else if (okFlag !== undefined && okFlag !== null) return new Rejected('field "ok" must be true or false');
  let latencyMs: number | undefined;
  if (typeof latency === 'number') {
    // The negated comparison also rejects NaN.
    if (!(latency >= 0 && latency < Infinity)) return new Rejected('field "latency_ms" must be a number >= 0');
    latencyMs = latency;
  } else if (latency !== undefined && latency !== null) {
    return new Rejected('field "latency_ms" must be a number >= 0');
  }
  const regionText = optionalId(region, 'region');
  if (regionText instanceof Rejected) return regionText;
  const labelSet = eventLabels(o, unknownKeys, labels);
  if (labelSet instanceof Rejected) return labelSet;
  const event: RequestEvent = {
    type: 'request',
    ts: tsMs,
    service: serviceText,
    version: versionText,
    instance: instanceText,
    route: routeText,
    status: statusCode,
    ok: okValue,
    latencyMs,
    region: regionText,
    labels: labelSet,
  };
  return { ok: true, event };
}

function decodeLog(o: Record<string, unknown>): DecodeResult {
  let ts: unknown, service: unknown, level: unknown, message: unknown, version: unknown;
  let instance: unknown, errorType: unknown, labels: unknown;
  let unknownKeys: string[] | undefined;
  for (const k in o) {
    switch (k) {
      case 'type':
        break;
      case 'ts':
        ts = o[k];
        break;
      case 'service':
        service = o[k];
        break;
      case 'level':
        level = o[k];
        break;
      case 'message':
        message = o[k];
        break;
      case 'version':
        version = o[k];
        break;
      case 'instance':
        instance = o[k];
        break;
      case 'error_type':
        errorType = o[k];
        break;
      case 'labels':
        labels = o[k];
        break;
      default:
        (unknownKeys ??= []).push(k);
    }
  }
  const tsMs = eventTime(ts);
  if (tsMs instanceof Rejected) return tsMs;
  const serviceText = requiredId(service, 'service');
  if (serviceText instanceof Rejected) return serviceText;
  const levelText = requiredId(level, 'level');
  if (levelText instanceof Rejected) return levelText;
  if (message === undefined || message === null) return new Rejected('missing field "message"');
  if (typeof message !== 'string') return new Rejected('field "message" must be a string');
  const versionText = optionalId(version, 'version');
  if (versionText instanceof Rejected) return versionText;
  const instanceText = optionalId(instance, 'instance');
  if (instanceText instanceof Rejected) return instanceText;
  const errorTypeText = optionalId(errorType, 'error_type');
  if (errorTypeText instanceof Rejected) return errorTypeText;
  const labelSet = eventLabels(o, unknownKeys, labels);
  if (labelSet instanceof Rejected) return labelSet;
  const event: LogEvent = {
    type: 'log',
    ts: tsMs,
    service: serviceText,
    level: levelText,
    message: cutText(message, LIMITS.maxMessageChars),
    version: versionText,
    instance: instanceText,
    errorType: errorTypeText,
    labels: labelSet,
  };
  return { ok: true, event };
}

function decodeMetric(o: Record<string, unknown>): DecodeResult {
  let ts: unknown, service: unknown, name: unknown, value: unknown, version: unknown;
  let instance: unknown, unit: unknown, labels: unknown;
  let unknownKeys: string[] | undefined;
  for (const k in o) {
    switch (k) {
      case 'type':
        break;
      case 'ts':
        ts = o[k];
        break;
      case 'service':
        service = o[k];
        break;
      case 'name':
        name = o[k];
        break;
      case 'value':
        value = o[k];
        break;
      case 'version':
        version = o[k];
        break;
      case 'instance':
        instance = o[k];
        break;
      case 'unit':
        unit = o[k];
        break;
      case 'labels':
        labels = o[k];
        break;
      default:
        (unknownKeys ??= []).push(k);
    }
  }
  const tsMs = eventTime(ts);
  if (tsMs instanceof Rejected) return tsMs;
  const serviceText = requiredId(service, 'service');
  if (serviceText instanceof Rejected) return serviceText;
  const nameText = requiredId(name, 'name');
  if (nameText instanceof Rejected) return nameText;
  if (value === undefined || value === null) return new Rejected('missing field "value"');
  if (typeof value !== 'number' || !Number.isFinite(value)) return new Rejected('field "value" must be a finite number');
  const versionText = optionalId(version, 'version');
  if (versionText instanceof Rejected) return versionText;
  const instanceText = optionalId(instance, 'instance');
  if (instanceText instanceof Rejected) return instanceText;
  const unitText = optionalId(unit, 'unit');
  if (unitText instanceof Rejected) return unitText;
  const labelSet = eventLabels(o, unknownKeys, labels);
  if (labelSet instanceof Rejected) return labelSet;
  const event: MetricEvent = {
    type: 'metric',
    ts: tsMs,
    service: serviceText,
    name: nameText,
    value,
    version: versionText,
    instance: instanceText,
    unit: unitText,
    labels: labelSet,
  };
  return { ok: true, event };
}

function decodeDeploy(o: Record<string, unknown>): DecodeResult {
  let ts: unknown, service: unknown, version: unknown, role: unknown, action: unknown;
  let instances: unknown, release: unknown, labels: unknown;
  let unknownKeys: string[] | undefined;
  for (const k in o) {
    switch (k) {
      case 'type':
        break;
      case 'ts':
        ts = o[k];
        break;
      case 'service':
        service = o[k];
        break;
      case 'version':
        version = o[k];
        break;
      case 'role':
        role = o[k];
        break;
      case 'action':
        action = o[k];
        break;
      case 'instances':
        instances = o[k];
        break;
      case 'release':
        release = o[k];
        break;
      case 'labels':
        labels = o[k];
        break;
      default:
        (unknownKeys ??= []).push(k);
    }
  }
  const tsMs = eventTime(ts);
  if (tsMs instanceof Rejected) return tsMs;
  const serviceText = requiredId(service, 'service');
  if (serviceText instanceof Rejected) return serviceText;
  const versionText = requiredId(version, 'version');
  if (versionText instanceof Rejected) return versionText;
  const roleValue = oneOf(role, 'role', ROLES);
  if (roleValue instanceof Rejected) return roleValue;
  const actionValue = oneOf(action, 'action', DEPLOY_ACTIONS);
  if (actionValue instanceof Rejected) return actionValue;
  const instanceList = optionalInstances(instances);
  if (instanceList instanceof Rejected) return instanceList;
  const releaseText = optionalId(release, 'release');
  if (releaseText instanceof Rejected) return releaseText;
  const labelSet = eventLabels(o, unknownKeys, labels);
  if (labelSet instanceof Rejected) return labelSet;
  const event: DeployEvent = {
    type: 'deploy',
    ts: tsMs,
    service: serviceText,
    version: versionText,
    role: roleValue as Role,
    action: actionValue as DeployAction,
    instances: instanceList,
    release: releaseText,
    labels: labelSet,
  };
  return { ok: true, event };
}

function decodeWebhook(o: Record<string, unknown>): DecodeResult {
  // A webhook carries its payload whole in `body`; other fields have no place to go and are ignored.
  const tsMs = eventTime(o.ts);
  if (tsMs instanceof Rejected) return tsMs;
  const sourceValue = oneOf(o.source, 'source', WEBHOOK_SOURCES);
  if (sourceValue instanceof Rejected) return sourceValue;
  const body = o.body;
  if (body === undefined) return new Rejected('missing field "body"');
  // The same normaliser as the HTTP receiver's: a body it cannot read is rejected here with its reason.
  const read = normaliseWebhook(sourceValue as WebhookSource, body);
  if (!read.ok) return new Rejected(`field "body": ${read.reason}`);
  const event: WebhookEvent = { type: 'webhook', ts: tsMs, source: sourceValue as WebhookSource, body, alerts: read.alerts };
  return { ok: true, event };
}

function eventTime(value: unknown): number | Rejected {
  if (typeof value === 'number') return value >= -MAX_EVENT_TIME_MS && value <= MAX_EVENT_TIME_MS ? value : BAD_TS;
  if (typeof value === 'string') {
    const ms = parseIsoTime(value);
    return ms === ms ? ms : BAD_TS;
  }
  return value === undefined || value === null ? MISSING_TS : BAD_TS;
}

function requiredId(value: unknown, field: string): string | Rejected {
  if (typeof value === 'string' && value.length > 0) {
    return value.length <= LIMITS.maxIdChars ? value : tooLong(field);
  }
  if (value === undefined || value === null) return new Rejected(`missing field "${field}"`);
  return new Rejected(`field "${field}" must be a non-empty string`);
}

function optionalId(value: unknown, field: string): string | undefined | Rejected {
  if (typeof value === 'string') {
    // An empty tag is as good as no tag: `"version": ""` must not create a release named "".
    if (value.length === 0) return undefined;
    return value.length <= LIMITS.maxIdChars ? value : tooLong(field);
  }
  if (value === undefined || value === null) return undefined;
  return new Rejected(`field "${field}" must be a string`);
}

function tooLong(field: string): Rejected {
  return new Rejected(`field "${field}" is longer than ${LIMITS.maxIdChars} characters`);
}

function optionalStatus(value: unknown): number | undefined | Rejected {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 999) return value;
  } else if (typeof value === 'string') {
    // Some access-log shippers quote the status; accept "503" but nothing looser.
    const n = value.length;
    if (n >= 1 && n <= 3) {
      let code = 0;
      for (let i = 0; i < n; i++) {
        const digit = value.charCodeAt(i) - 48;
        if (digit < 0 || digit > 9) return BAD_STATUS;
        code = code * 10 + digit;
      }
      return code;
    }
  } else if (value === undefined || value === null) {
    return undefined;
  }
  return BAD_STATUS;
}
const BAD_STATUS = new Rejected('field "status" must be an integer from 0 to 999');

function oneOf(value: unknown, field: string, allowed: readonly string[]): string | Rejected {
  if (typeof value === 'string' && allowed.includes(value)) return value;
  if (value === undefined || value === null) return new Rejected(`missing field "${field}"`);
  return new Rejected(`field "${field}" must be one of ${allowed.join(', ')}, got ${shortJson(value)}`);
}

function optionalInstances(value: unknown): readonly string[] | undefined | Rejected {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return new Rejected('field "instances" must be an array of strings');
  if (value.length > LIMITS.maxInstances) {
    return new Rejected(`field "instances" has more than ${LIMITS.maxInstances} entries`);
  }
  const list: string[] = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string' || item.length === 0) {
      return new Rejected('field "instances" must be an array of non-empty strings');
    }
    if (item.length > LIMITS.maxIdChars) return tooLong('instances');
    list[i] = item;
  }
  return list;
}

/**
 * Unknown fields first, in input order, then the explicit `labels` object, which wins on
 * a clash. The result has no prototype, so a `__proto__` or `constructor` key is just a
 * label and never reaches Object.prototype.
 */
function eventLabels(o: Record<string, unknown>, unknownKeys: string[] | undefined, explicit: unknown): Labels | undefined | Rejected {
  if (explicit !== undefined && explicit !== null && (typeof explicit !== 'object' || Array.isArray(explicit))) {
    return new Rejected('field "labels" must be an object');
  }
  if (unknownKeys === undefined && (explicit === undefined || explicit === null)) return undefined;
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  if (unknownKeys !== undefined) {
    for (const key of unknownKeys) {
      const text = labelText(o[key]);
      if (text === undefined) continue;
      if (key.length > LIMITS.maxLabelKeyChars) return LONG_LABEL_KEY;
      labels[key] = text;
      count++;
    }
  }
  if (explicit !== undefined && explicit !== null) {
    const record = explicit as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const text = labelText(record[key]);
      if (text === undefined) continue;
      if (key.length > LIMITS.maxLabelKeyChars) return LONG_LABEL_KEY;
      if (!Object.hasOwn(labels, key)) count++;
      labels[key] = text;
    }
  }
  if (count > LIMITS.maxLabels) return new Rejected(`too many labels (${count}, at most ${LIMITS.maxLabels})`);
  return count === 0 ? undefined : labels;
}
const LONG_LABEL_KEY = new Rejected(`label name longer than ${LIMITS.maxLabelKeyChars} characters`);

/** Label text of a field value: strings as they are, anything else as its JSON text; undefined when JSON has no text for it. */
function labelText(value: unknown): string | undefined {
  if (typeof value === 'string') return cutText(value, LIMITS.maxLabelValueChars);
  let json: string | undefined;
  try {
    json = JSON.stringify(value) as string | undefined;
  } catch {
    // Only non-JSON inputs (cycles, BigInt) get here, through decodeValue; they carry no label.
    return undefined;
  }
  return json === undefined ? undefined : cutText(json, LIMITS.maxLabelValueChars);
}

/** Cuts text to at most `max` UTF-16 units without splitting a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function shortJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return cutText(text, 40);
}

/**
 * Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fff...]` followed by `Z` or
 * `+HH:MM`/`-HH:MM`, or with no zone at all (then also without seconds), which is read
 * as UTC so that a replay does not depend on the machine's time zone. Returns epoch
 * milliseconds (fractions beyond milliseconds are truncated, as Date.parse does) or
 * NaN when the text is not such a time or names a day the calendar does not have.
 */
export function parseIsoTime(text: string): number {
  const n = text.length;
  if (n < 16) return NaN;
  let minuteMs = lastMinuteMs;
  // A stream's times share their minute for thousands of events in a row.
  for (let i = 0; i < 16; i++) {
    if (text.charCodeAt(i) !== lastMinute[i]) {
      minuteMs = parseMinute(text);
      if (minuteMs !== minuteMs) return NaN;
      for (let j = 0; j < 16; j++) lastMinute[j] = text.charCodeAt(j);
      lastMinuteMs = minuteMs;
      break;
    }
  }
  let second = 0;
  let milli = 0;
  let offsetMinutes = 0;
  if (n > 16) {
    if (n < 19 || text.charCodeAt(16) !== 58) return NaN;
    second = twoDigits(text, 17);
    if (second < 0 || second > 59) return NaN;
    let i = 19;
    if (i < n && text.charCodeAt(i) === 46) {
      const start = ++i;
      while (i < n) {
        const digit = text.charCodeAt(i) - 48;
        if (digit < 0 || digit > 9) break;
        if (i - start < 3) milli = milli * 10 + digit;
        i++;
      }
      const fractionDigits = i - start;
      if (fractionDigits === 0) return NaN;
      if (fractionDigits === 1) milli *= 100;
      else if (fractionDigits === 2) milli *= 10;
    }
    if (i < n) {
      const zone = text.charCodeAt(i);
      if (zone === 90 && i + 1 === n) {
        // 'Z': already UTC.
      } else if ((zone === 43 || zone === 45) && i + 6 === n && text.charCodeAt(i + 3) === 58) {
        const offsetHour = twoDigits(text, i + 1);
        const offsetMinute = twoDigits(text, i + 4);
        if (offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59) return NaN;
        offsetMinutes = (zone === 43 ? 1 : -1) * (offsetHour * 60 + offsetMinute);
      } else {
        return NaN;
      }
    }
  }
  return minuteMs - offsetMinutes * 60_000 + second * 1_000 + milli;
}

/**
 * The character codes of the `YYYY-MM-DDTHH:MM` head parsed last, and its epoch
 * milliseconds: its value depends on those 16 characters alone, and only a valid head is
 * kept. The first stand-in, sixteen NULs, is no valid head (and, matched, gives NaN).
 */
const lastMinute = new Uint16Array(16);
let lastMinuteMs = Number.NaN;

/** Epoch milliseconds of the `YYYY-MM-DDTHH:MM` head of a date-time, or NaN. */
function parseMinute(text: string): number {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58) {
    return NaN;
  }
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  if (century < 0 || yearOfCentury < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) {
    return NaN;
  }
  const year = century * 100 + yearOfCentury;
  if (day > 28 && day > daysInMonth(year, month)) return NaN;
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000;
}

/** The value of the two decimal digits at `at`, or -1 when either is not a digit (or is past the end). */
function twoDigits(text: string, at: number): number {
  // Past the end charCodeAt gives NaN, which fails these comparisons too.
  const high = text.charCodeAt(at) - 48;
  const low = text.charCodeAt(at + 1) - 48;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : -1;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (valid for every four-digit year, unlike Date.UTC for years below 100). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
