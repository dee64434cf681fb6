/**
 * Config files: YAML in, the judge's settings out. Every problem in a file is reported
 * at once, each as `KEY.PATH: what is wrong`, so that a user fixes a file in one pass.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { rulesSchema } from '../rules/config.js';
import { webhooksSchema } from './webhooks.js';
import { releaseToolsSchema } from './release-tools.js';
import { InputError } from '../ingest/lines.js';

/** Settings of the long-running service: where it listens and what it takes in. */
export const serverSchema = z.strictObject({
  /** Interface the HTTP API listens on; loopback unless the service is meant to be reached from elsewhere. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port of the HTTP API (0: any free port). */
  port: z.number().int().min(0).max(65_535).default(7070),
  /** Largest request body the API takes (events in one POST). */
  bodyLimitBytes: z.number().int().positive().default(10 * 1024 * 1024),
  /**
   * When no event has arrived for this long (wall time), event time is taken to move on
   * with the wall clock, so that windows close and incidents recover on a quiet stream.
   */
  quietAfterMs: z.number().int().positive().default(30_000),
  /**
   * Events taken by ingest and not yet confirmed by the bus (Kafka's acks; embedded, the
   * engine's turn). A request that would pass it gets 429 with Retry-After, so that a slow
   * broker makes senders wait instead of making this process's memory grow.
   */
  queueLimitEvents: z.number().int().positive().default(100_000),
  /** Seconds a refused sender is told to wait (Retry-After of a 429 for a full queue). */
  queueRetryAfterS: z.number().int().positive().max(3_600).default(1),
});

/** How the service logs. */
export const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Secrets are never written in the file: it names the environment variable that holds each. */
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the name of an environment variable (A-Z, 0-9, _)');
const httpUrl = z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL');

/** A Slack channel, posted to with a bot token. */
const slackChannel = z.strictObject({
  type: z.literal('slack'),
  /** Channel name (`#oncall`) or id. */
  channel: z.string().min(1),
  tokenEnv: envName,
  /** The Web API's base URL (a proxy or a stand-in); Slack's own when absent. */
  apiUrl: httpUrl.optional(),
  /** Least time between two posts to the channel (Slack allows about one a second). */
  minIntervalMs: z.number().int().nonnegative().default(1_000),
});

/** Mail over SMTP. */
const emailChannel = z.strictObject({
  type: z.literal('email'),
  from: z.string().min(3),
  to: z.array(z.string().min(3)).min(1),
  smtp: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535).default(587),
    /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    user: z.string().min(1).optional(),
    passwordEnv: envName.optional(),
  }),
});

/** PagerDuty Events API v2. */
const pagerdutyChannel = z.strictObject({
  type: z.literal('pagerduty'),
  routingKeyEnv: envName,
  url: httpUrl.optional(),
});

/** Any HTTP endpoint, with the decision as JSON, signed when a secret is set. */
const webhookChannel = z.strictObject({
  type: z.literal('webhook'),
  url: httpUrl,
  secretEnv: envName.optional(),
});

/** Where notifications go: named channels (routes name them), links in messages, retries. */
export const notifySchema = z.strictObject({
  /** Channel name -> how to reach it. `console` (stdout) always exists. */
  channels: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
    z.discriminatedUnion('type', [slackChannel, emailChannel, pagerdutyChannel, webhookChannel])).default({}),
  links: z.strictObject({
    /** Where people look at an incident (put in messages). */
    dashboardUrl: httpUrl.optional(),
    /** This service's API as people reach it, for verdict links. */
    apiUrl: httpUrl.optional(),
  }).default({}),
  retry: z.strictObject({
    attempts: z.number().int().min(1).max(20).default(5),
    baseMs: z.number().int().positive().default(500),
    maxWaitMs: z.number().int().positive().default(15_000),
    /** Then on, every maxWaitMs or so, through an outage of the channel of up to this much waiting (0: give up after the attempts). */
    outageMs: z.number().int().nonnegative().default(3_600_000),
  }).default({ attempts: 5, baseMs: 500, maxWaitMs: 15_000, outageMs: 3_600_000 }),
  /** On stop, how long notifications still under way may take before they are given up (and kept, with the reason). */
  shutdownGraceMs: z.number().int().nonnegative().default(10_000),
});

/** Scaling out on Kafka: where the brokers are (KAFKA_BROKERS overrides), the group, the topics. */
export const kafkaSchema = z.strictObject({
  /** host:port of some brokers; none means embedded (no Kafka). */
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).default([]),
  clientId: z.string().min(1).default('vigil'),
  /** Instances with the same group share the events topic's partitions. */
  groupId: z.string().min(1).default('vigil'),
  /** Partitions of the events and output topics when Vigil creates them. */
  partitions: z.number().int().min(1).max(1_000).default(6),
  /** How long the group waits for a silent instance before its partitions move (the broker allows 6 s and up). */
  sessionTimeoutMs: z.number().int().min(1_000).default(30_000),
  topics: z.strictObject({
    events: z.string().min(1).default('vigil.events'),
    verdicts: z.string().min(1).default('vigil.verdicts'),
    incidents: z.string().min(1).default('vigil.incidents'),
    dlq: z.string().min(1).default('vigil.events.dlq'),
  }).default({ events: 'vigil.events', verdicts: 'vigil.verdicts', incidents: 'vigil.incidents', dlq: 'vigil.events.dlq' }),
});

/** Everything a config file holds: the judge's settings and the service's. */
export const configSchema = rulesSchema.extend({
  kafka: kafkaSchema.default(kafkaSchema.parse({})),
  releaseTools: releaseToolsSchema.default(releaseToolsSchema.parse({})),
  server: serverSchema.default(serverSchema.parse({})),
  log: logSchema.default(logSchema.parse({})),
  notify: notifySchema.default(notifySchema.parse({})),
  webhooks: webhooksSchema.default(() => webhooksSchema.parse({})),
});

/** Settings after defaults are applied; a superset of the judge's own. */
export type VigilConfig = z.infer<typeof configSchema>;

/** The built-in defaults of everything. */
export const DEFAULT_CONFIG: VigilConfig = configSchema.parse({});

/** A config file that does not hold valid settings; `problems` lists every one. */
export class ConfigError extends Error {
  /** Loading the same file again gives the same problems. */
  readonly retriable = false;
  constructor(
    readonly origin: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid config ${origin}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates a YAML config file; throws InputError when unreadable, ConfigError when invalid. */
export async function loadConfigFile(path: string): Promise<VigilConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(path, err);
  }
  return parseConfigText(text, path);
}

/** Validates YAML config text; throws ConfigError naming `origin` when invalid. */
export function parseConfigText(text: string, origin = 'config'): VigilConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      origin,
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        // The library appends its own position and a code excerpt; keep the sentence alone.
        const message = firstLine(e.message).replace(/ at line \d+, column \d+:?$/, '');
        return at === undefined ? message : `line ${at.line}, column ${at.col}: ${message}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases and alias bombs surface only here.
    throw new ConfigError(origin, [err instanceof Error ? err.message : String(err)]);
  }
  const result = configSchema.safeParse(withoutNulls(raw ?? {}));
  const unknown = unknownChannels(raw);
  if (!result.success || unknown.length > 0) {
    throw new ConfigError(origin, [...(result.success ? [] : configProblems(result.error, raw)), ...unknown]);
  }
  return result.data;
}

/**
 * Channels that routes (or the default) name and no channel defines. Read off the raw
 * file, so that they are reported with every other problem in one pass.
 */
function unknownChannels(raw: unknown): string[] {
  const section = (o: unknown, key: string): unknown => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined);
  const defined = section(section(raw, 'notify'), 'channels');
  const known = new Set(['console', ...(typeof defined === 'object' && defined !== null ? Object.keys(defined) : [])]);
  const problems: string[] = [];
  const check = (names: unknown, path: string): void => {
    if (!Array.isArray(names)) return;
    for (const name of names) {
      if (typeof name === 'string' && name.length > 0 && !known.has(name)) {
        problems.push(`${path}: unknown channel "${name}" (defined: ${[...known].join(', ')}; define it under notify.channels)`);
      }
    }
  };
  const routes = section(section(raw, 'routing'), 'routes');
  if (Array.isArray(routes)) routes.forEach((r, i) => check(section(r, 'channels'), `routing.routes[${i}].channels`));
  check(section(section(raw, 'incidents'), 'channels'), 'incidents.channels');
  return problems;
}

/** Problems of a failed settings parse, one line each, in the `KEY.PATH: what is wrong` form. */
export function configProblems(error: z.ZodError, raw: unknown): readonly string[] {
  const problems: string[] = [];
  for (const issue of error.issues) {
    const node = schemaAt(configSchema, issue.path);
    if (issue.code === 'unrecognized_keys') {
      const allowed = node instanceof z.ZodObject ? Object.keys(node.shape).join(', ') : '';
      for (const key of issue.keys) {
        problems.push(`${keyPath([...issue.path, key])}: unknown key (allowed: ${allowed})`);
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    problems.push(`${keyPath(issue.path)}: ${whatIsWrong(issue, node, value)}`);
  }
  return problems;
}

function whatIsWrong(issue: z.core.$ZodIssue, node: z.ZodType | undefined, value: unknown): string {
  const expected = node === undefined ? undefined : describe(node);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return expected === undefined ? 'missing' : `missing (expected ${expected})`;
      return `expected ${expected ?? issue.expected}, got ${shown(value)}`;
    case 'too_small':
    case 'too_big':
      if (node instanceof z.ZodNumber) return `must be ${numberBounds(node, true)}, got ${shown(value)}`;
      if (node instanceof z.ZodArray) return `must be ${describe(node)}`;
      if (node instanceof z.ZodString) return `must be ${describe(node)}, got ${shown(value)}`;
      return issue.message;
    case 'invalid_value':
      return `invalid value ${shown(value)} (allowed: ${issue.values.map(String).join(', ')})`;
    default:
      return issue.message;
  }
}

/** Plain words for what a schema node accepts. */
function describe(node: z.ZodType): string {
  if (node instanceof z.ZodNumber) return numberBounds(node, false);
  if (node instanceof z.ZodString) return (node.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
  if (node instanceof z.ZodEnum) return `one of ${node.options.map(String).join(', ')}`;
  if (node instanceof z.ZodArray) {
    const min = arrayMin(node);
    const items = `a list of ${plural(describe(node.element as z.ZodType))}`;
    return min > 0 ? `${items} with at least ${min} ${min === 1 ? 'entry' : 'entries'}` : items;
  }
  if (node instanceof z.ZodObject) return `a mapping with keys ${Object.keys(node.shape).join(', ')}`;
  if (node instanceof z.ZodBoolean) return 'true or false';
  return 'a valid value';
}

/**
 * A number's bounds in words: "a positive integer", "an integer >= 0", "a number > 0 and < 1".
 * With `boundsOnly` the bare comparison is returned where one exists ("> 0 and < 1"), as it reads better after "must be".
 */
function numberBounds(node: z.ZodNumber, boundsOnly: boolean): string {
  let lower: { value: number; inclusive: boolean } | undefined;
  let upper: { value: number; inclusive: boolean } | undefined;
  let integer = false;
  for (const check of node._zod.def.checks ?? []) {
    const def = check._zod.def as { check: string; value?: unknown; inclusive?: boolean; format?: string };
    if (def.check === 'number_format' && def.format !== undefined && /int/.test(def.format)) integer = true;
    if (def.check === 'greater_than' && typeof def.value === 'number') lower = { value: def.value, inclusive: def.inclusive === true };
    if (def.check === 'less_than' && typeof def.value === 'number') upper = { value: def.value, inclusive: def.inclusive === true };
  }
  if (integer && upper === undefined && lower !== undefined) {
    if ((lower.value === 0 && !lower.inclusive) || (lower.value === 1 && lower.inclusive)) return 'a positive integer';
  }
  const parts: string[] = [];
  if (lower !== undefined) parts.push(`${lower.inclusive ? '>=' : '>'} ${lower.value}`);
  if (upper !== undefined) parts.push(`${upper.inclusive ? '<=' : '<'} ${upper.value}`);
  const bounds = parts.join(' and ');
  const kind = integer ? 'an integer' : 'a number';
  if (bounds === '') return kind;
  return boundsOnly && !integer ? bounds : `${kind} ${bounds}`;
}

function arrayMin(node: z.ZodArray): number {
  for (const check of node._zod.def.checks ?? []) {
    const def = check._zod.def as { check: string; minimum?: unknown };
    if (def.check === 'min_length' && typeof def.minimum === 'number') return def.minimum;
  }
  return 0;
}

function plural(description: string): string {
  return description
    .replace(/^an? positive integer/, 'positive integers')
    .replace(/^an integer/, 'integers')
    .replace(/^a number/, 'numbers')
    .replace(/^a non-empty string/, 'non-empty strings')
    .replace(/^a string/, 'strings');
}

/** The schema node at a path, looking through defaults and optionals. */
function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let node: z.ZodType | undefined = unwrap(root);
  for (const key of path) {
    if (node instanceof z.ZodObject && typeof key === 'string') node = node.shape[key] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray && typeof key === 'number') node = node.element as z.ZodType;
    else return undefined;
    node = node === undefined ? undefined : unwrap(node);
  }
  return node;
}

function unwrap(node: z.ZodType): z.ZodType {
  let current = node;
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** `judge.windowsMs[1]`; the empty path is the file as a whole. */
function keyPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text === '' ? '(top level)' : text;
}

function shown(value: unknown): string {
  if (value === null) return 'null (no value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return end < 0 ? text : text.slice(0, end);
}

/**
 * A key written with no value (`judge:` with every child commented out) means "use the
 * defaults", which for zod is an absent key.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null) Object.defineProperty(out, key, { value: withoutNulls(child), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Environment variables that override the file (endpoints are set per deployment), with the key each sets. */
export const ENVIRONMENT_KEYS: Readonly<Record<string, readonly ['server' | 'log', string]>> = {
  VIGIL_HOST: ['server', 'host'],
  VIGIL_PORT: ['server', 'port'],
  VIGIL_LOG_LEVEL: ['log', 'level'],
};

/** The environment variable holding the API's bearer token (a secret, so never in the file). */
export const API_TOKEN_VARIABLE = 'VIGIL_API_TOKEN';

/** Whether a listening address is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The API's bearer token from the environment; undefined when none is set, which is
 * allowed on loopback only: beyond it, anyone on the network could read verdicts and
 * post events, so the service refuses to start without one.
 */
export function apiToken(config: VigilConfig, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const token = env[API_TOKEN_VARIABLE];
  if (token !== undefined && token !== '') {
    if (token.length < 16) throw new ConfigError('environment', [`${API_TOKEN_VARIABLE}: must be at least 16 characters (a random token), got ${token.length}`]);
    return token;
  }
  if (!isLoopback(config.server.host)) {
    throw new ConfigError('environment', [`${API_TOKEN_VARIABLE}: must be set when server.host (${config.server.host}) is not loopback; clients then send "Authorization: Bearer <token>"`]);
  }
  return undefined;
}

/**
 * The settings with the environment's overrides applied and checked like the file's;
 * a bad value is named by its variable, e.g. `VIGIL_PORT (server.port): ...`.
 */
export function withEnvironment(config: VigilConfig, env: Readonly<Record<string, string | undefined>>): VigilConfig {
  const merged: Record<string, Record<string, unknown>> = { server: { ...config.server }, log: { ...config.log } };
  const names = new Map<string, string>();
  for (const [name, [section, key]] of Object.entries(ENVIRONMENT_KEYS)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    // Numbers arrive as text; a numeric key gets a number, anything else stays text and fails as such.
    const numeric = typeof (DEFAULT_CONFIG[section] as Record<string, unknown>)[key] === 'number';
    (merged[section] as Record<string, unknown>)[key] = numeric && /^\d+$/.test(text.trim()) ? Number(text) : text;
    names.set(`${section}.${key}`, name);
  }
  const brokers = env['KAFKA_BROKERS'];
  const kafka = brokers === undefined || brokers.trim() === '' ? config.kafka : { ...config.kafka, brokers: brokers.split(',').map((b) => b.trim()).filter((b) => b !== '') };
  if (kafka !== config.kafka) names.set('kafka.brokers', 'KAFKA_BROKERS');
  if (names.size === 0) return config;
  const raw = { ...config, ...merged, kafka };
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError('environment', configProblems(result.error, raw).map((p) => {
      const key = p.slice(0, p.indexOf(':'));
      const name = [...names].find(([k]) => key === k || key.startsWith(`${k}[`))?.[1];
      return name === undefined ? p : `${name} (${key}):${p.slice(key.length + 1)}`;
    }));
  }
  return result.data;
}
