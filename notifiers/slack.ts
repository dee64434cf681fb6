/**
 * The Slack notifier: a page becomes one message in the on-call channel; its updates and
 * its resolve go into that message's thread, and the message itself is rewritten each time
 * so that the channel shows one line per incident, in its latest state, with the history
 * one click away. Failing verdicts get a message of their own.
 *
 * One attempt per decision, as every notifier: the WebClient's own retries and its waiting
 * out of rate limits are switched off, because the delivery stage owns retries and a
 * client that sleeps through a 429 would hold the stage for minutes without saying why.
 * Within one decision the idempotent step (rewriting the root) runs before the one that
 * is not (a thread reply), so a retry after a failed reply does not repeat an earlier one.
 */
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient, type Logger, LogLevel } from '@slack/web-api';
import type { Decision, PageDecision, ResolveDecision, Severity, UpdateDecision, VerdictDecision } from '../rules/decisions.js';
import { NotifyError, redact, type Notifier } from './notifier.js';
import { checkedTimeout, checkedUrl } from './http.js';

/** What an incident's root message shows; kept with it so an update or resolve can redraw it whole. */
export interface IncidentView {
  readonly service: string;
  readonly versions: readonly string[];
  readonly signals: readonly string[];
  readonly summary: string;
  /** The evidence so far, oldest first, at most `MAX_REASONS_KEPT`. */
  readonly reasons: readonly string[];
  /** Reasons that did not fit in `reasons`. */
  readonly reasonsLeftOut: number;
  /** Unknown when the page itself was never seen here (an update after a restart). */
  readonly severity?: Severity;
  readonly release?: string;
  /** Event times, ISO-8601. */
  readonly pagedTs?: string;
  readonly updatedTs?: string;
  /** Why it resolved, once it has. */
  readonly resolved?: string;
}

/** Where an incident's root message is: the channel id Slack answered with, and the message ts. */
export interface ThreadRef {
  readonly channel: string;
  readonly ts: string;
  readonly view?: IncidentView;
}

/** Remembers each incident's root message, so its updates thread under it (memory now, Redis for scale-out). */
export interface ThreadStore {
  /** The root of an incident, or undefined when none is known. */
  get(incident: string): Promise<ThreadRef | undefined>;
  /** Records (or replaces) the root of an incident. */
  set(incident: string, ref: ThreadRef): Promise<void>;
}

/** Incidents a `MemoryThreadStore` remembers by default; the oldest are forgotten first. */
export const MEMORY_THREAD_INCIDENTS = 10_000;

/** The thread store of one process (embedded mode and tests), bounded in incidents. */
export class MemoryThreadStore implements ThreadStore {
  private readonly refs = new Map<string, ThreadRef>();
  private forgotten = 0;

  constructor(private readonly maxIncidents: number = MEMORY_THREAD_INCIDENTS) {}

  /** The root of an incident, or undefined when none is known. */
  get(incident: string): Promise<ThreadRef | undefined> {
    return Promise.resolve(this.refs.get(incident));
  }

  /** Records (or replaces) the root of an incident, forgetting the oldest incident past the bound. */
  set(incident: string, ref: ThreadRef): Promise<void> {
    this.refs.delete(incident);
    this.refs.set(incident, ref);
    if (this.refs.size > this.maxIncidents) {
      const oldest = this.refs.keys().next();
      if (oldest.done !== true) this.refs.delete(oldest.value);
      this.forgotten++;
    }
    return Promise.resolve();
  }

  /** How many incidents were forgotten to stay within the bound; a later update of one posts afresh. */
  get forgottenIncidents(): number {
    return this.forgotten;
  }
}

/** Where a `SlackNotifier` posts and how. */
export interface SlackNotifierOptions {
  /** Bot token (`xoxb-...`); kept out of every error text. */
  readonly token: string;
  /** Channel name (`#oncall`) or id (`C0123456789`). */
  readonly channel: string;
  /** Channel name as routes use it; `slack` unless several Slack notifiers are configured. */
  readonly name?: string;
  /** Base URL of the Web API, ending in `/api/`; Slack's own unless a test or proxy stands in. */
  readonly apiUrl?: string;
  readonly links?: {
    /** Linked from every incident message. */
    readonly dashboardUrl?: string;
    /** Base URL of the Vigil API, for links to a version's verdict. */
    readonly apiUrl?: string;
  };
  /** Per attempt. */
  readonly timeoutMs?: number;
  /** Least time between two posts to one channel. */
  readonly minIntervalMs?: number;
  readonly threads?: ThreadStore;
  /** Monotonic clock in ms, for pacing. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const SLACK_API_URL = 'https://slack.com/api/';
const DEFAULT_TIMEOUT_MS = 10_000;
// Slack asks for about one message per second per channel and throttles bursts beyond it.
const DEFAULT_MIN_INTERVAL_MS = 1_000;

/** Reasons kept per incident; later ones are counted, so the message stays readable and within Slack's limits. */
export const MAX_REASONS_KEPT = 10;
// Slack's limits: header text 150, section and context text 3000; `text` is kept far below
// its 40,000 because it is what notifications and screen readers show.
const HEADER_CHARS = 150;
const SECTION_CHARS = 3000;
const FALLBACK_CHARS = 1000;
// More verdict links than this crowd the message; the dashboard lists the rest.
const MAX_VERDICT_LINKS = 5;
// Pacing entries for channels not posted to for this long are dropped.
const PACING_FORGET_MS = 60_000;

// Slack answers these when the root message or its channel is gone (deleted, or posted by
// another app); the incident then gets a fresh root rather than no message at all.
const ROOT_GONE = new Set(['message_not_found', 'cant_update_message', 'channel_not_found']);
// `ok: false` codes that describe Slack's trouble, not the request's.
const TRANSIENT_SLACK_ERRORS = new Set(['ratelimited', 'service_unavailable', 'internal_error', 'fatal_error', 'request_timeout']);
const SLACK_ERROR_HINTS: Readonly<Record<string, string>> = {
  channel_not_found: 'check the channel name or id, and that the app can see the channel',
  not_in_channel: 'invite the app to the channel',
  is_archived: 'the channel is archived',
  invalid_auth: 'check the bot token',
  not_authed: 'no bot token was sent',
  token_revoked: 'the bot token was revoked',
  account_inactive: 'the bot token belongs to a deactivated app or user',
  missing_scope: 'the app needs the chat:write scope',
};

// Failures come back to the delivery stage as NotifyError, which logs them; the client's own
// console logging would say the same thing again, on stdout, where decisions may be streaming.
const SILENT_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

interface MrkdwnText {
  readonly type: 'mrkdwn';
  readonly text: string;
}

type MessageBlock =
  | { readonly type: 'header'; readonly text: { readonly type: 'plain_text'; readonly text: string; readonly emoji: boolean } }
  | { readonly type: 'section'; readonly text: MrkdwnText }
  | { readonly type: 'context'; readonly elements: MrkdwnText[] };

interface Message {
  /** Shown in notifications and by clients that cannot draw blocks. */
  readonly text: string;
  readonly blocks: MessageBlock[];
}

/** Tells a Slack channel about incidents and failing verdicts, one thread per incident. */
export class SlackNotifier implements Notifier {
  /** Channel name, as routes and a page's `channels` name it. */
  readonly channel: string;
  private readonly client: WebClient;
  private readonly token: string;
  private readonly target: string;
  private readonly timeoutMs: number;
  private readonly minIntervalMs: number;
  private readonly dashboardUrl: string | undefined;
  private readonly verdictApiUrl: string | undefined;
  private readonly threads: ThreadStore;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Earliest time of the next post, per pacing key. */
  private readonly nextPostAt = new Map<string, number>();
  /** Channel id Slack answered with -> the channel as configured, so both pace as one. */
  private readonly channelKeys = new Map<string, string>();

  constructor(options: SlackNotifierOptions) {
    this.channel = options.name ?? 'slack';
    // An unset environment variable gives '', which Slack would only refuse at the first page.
    if (options.token.trim() === '') throw new Error(`${this.channel}: the bot token is empty`);
    if (options.channel.trim() === '') throw new Error(`${this.channel}: the channel is empty`);
    this.token = options.token;
    this.target = options.channel;
    this.timeoutMs = checkedTimeout(this.channel, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
    if (!Number.isFinite(this.minIntervalMs) || this.minIntervalMs < 0) {
      throw new Error(`${this.channel}: minIntervalMs must be zero or more, got ${this.minIntervalMs}`);
    }
    this.dashboardUrl = options.links?.dashboardUrl === undefined ? undefined : checkedUrl(this.channel, options.links.dashboardUrl);
    this.verdictApiUrl = options.links?.apiUrl === undefined ? undefined : checkedUrl(this.channel, options.links.apiUrl).replace(/\/+$/, '');
    this.threads = options.threads ?? new MemoryThreadStore();
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.client = new WebClient(this.token, {
      slackApiUrl: checkedUrl(this.channel, options.apiUrl ?? SLACK_API_URL),
      timeout: this.timeoutMs,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logger: SILENT_LOGGER,
    });
  }

  /**
   * Makes one attempt to tell the channel about a decision: pages, updates and resolves
   * in the incident's thread, FAIL verdicts as messages of their own; the rest resolve at once.
   */
  async notify(decision: Decision): Promise<void> {
    switch (decision.type) {
      case 'page':
        return this.page(decision);
      case 'update':
        return this.update(decision);
      case 'resolve':
        return this.resolve(decision);
      case 'verdict':
        if (decision.verdict === 'FAIL') await this.post(this.target, verdictMessage(decision, this.links([text(decision.version)], decision.service)));
        return;
      case 'suppressed':
        return;
      default: {
        const _unknown: never = decision;
        return;
      }
    }
  }

  private async page(d: PageDecision): Promise<void> {
    const view: IncidentView = {
      service: text(d.service),
      versions: strings(d.versions),
      signals: strings(d.signals),
      summary: text(d.summary),
      ...keptReasons([], 0, strings(d.reasons)),
      severity: d.severity,
      ...(d.release === undefined ? {} : { release: text(d.release) }),
      pagedTs: d.ts,
    };
    const known = await this.threads.get(d.incident);
    // A page seen again (its post succeeded but remembering it failed, so it was retried)
    // redraws the message it already has instead of opening a second one.
    if (known && (await this.rewrite(known, this.rootMessage(d.incident, view)))) {
      await this.threads.set(d.incident, { ...known, view });
      return;
    }
    await this.postRoot(d.incident, view);
  }

  private async update(d: UpdateDecision): Promise<void> {
    const known = await this.threads.get(d.incident);
    const before = known?.view;
    const view: IncidentView = {
      ...before,
      service: text(d.service) || (before?.service ?? ''),
      versions: strings(d.versions),
      signals: strings(d.signals),
      summary: text(d.summary),
      ...keptReasons(before?.reasons ?? [], before?.reasonsLeftOut ?? 0, strings(d.reasons)),
      updatedTs: d.ts,
    };
    if (!known || !(await this.rewrite(known, this.rootMessage(d.incident, view)))) {
      await this.postRoot(d.incident, view);
      return;
    }
    await this.threads.set(d.incident, { ...known, view });
    await this.post(known.channel, updateReply(d), known.ts);
  }

  private async resolve(d: ResolveDecision): Promise<void> {
    const known = await this.threads.get(d.incident);
    const view: IncidentView = {
      ...(known?.view ?? { service: text(d.service), versions: [], signals: [], summary: '', reasons: [], reasonsLeftOut: 0 }),
      resolved: text(d.reason) || 'resolved',
      updatedTs: d.ts,
    };
    if (!known || !(await this.rewrite(known, this.rootMessage(d.incident, view)))) {
      await this.postRoot(d.incident, view);
      return;
    }
    await this.threads.set(d.incident, { ...known, view });
    await this.post(known.channel, resolveReply(d), known.ts);
  }

  /** Posts a new root message for an incident and remembers it. */
  private async postRoot(incident: string, view: IncidentView): Promise<void> {
    const at = await this.post(this.target, this.rootMessage(incident, view));
    await this.threads.set(incident, { ...at, view });
  }

  private rootMessage(incident: string, view: IncidentView): Message {
    return rootMessage(incident, view, this.links(view.versions, view.service));
  }

  private links(versions: readonly string[], service: string): string[] {
    const out: string[] = [];
    if (this.dashboardUrl !== undefined) out.push(link(this.dashboardUrl, 'Open the dashboard'));
    const base = this.verdictApiUrl;
    if (base !== undefined && service !== '') {
      for (const version of versions.slice(0, MAX_VERDICT_LINKS)) {
        out.push(link(`${base}/v1/verdicts/${encodeURIComponent(service)}/${encodeURIComponent(version)}`, `Verdict for ${version}`));
      }
    }
    return out;
  }

  /** One `chat.postMessage`, paced per channel; resolves with where the message is. */
  private async post(channel: string, message: Message, threadTs?: string): Promise<{ channel: string; ts: string }> {
    await this.pace(channel);
    const method = 'chat.postMessage';
    let answer: { channel?: string; ts?: string };
    try {
      answer = await this.client.chat.postMessage({
        channel,
        text: message.text,
        blocks: message.blocks,
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        // A dashboard link would otherwise unfold into a preview bigger than the page.
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (err) {
      throw this.failure(method, err);
    }
    if (typeof answer.ts !== 'string' || typeof answer.channel !== 'string') {
      // Posted, probably, but unaddressable; a retry would post it again.
      throw new NotifyError(this.channel, `${method} answered ok without the message's channel and ts`, false);
    }
    if (answer.channel !== channel) this.channelKeys.set(answer.channel, this.paceKey(channel));
    return { channel: answer.channel, ts: answer.ts };
  }

  /** Redraws a root message; false when Slack says it is gone, so the caller posts a new one. */
  private async rewrite(at: ThreadRef, message: Message): Promise<boolean> {
    const method = 'chat.update';
    try {
      await this.client.chat.update({ channel: at.channel, ts: at.ts, text: message.text, blocks: message.blocks });
      return true;
    } catch (err) {
      if (err instanceof WebAPIPlatformError && ROOT_GONE.has(err.data.error)) return false;
      throw this.failure(method, err);
    }
  }

  // Only posts are paced: Slack's one-a-second guidance is about new messages in a channel,
  // while chat.update has a per-method allowance of its own.
  private async pace(channel: string): Promise<void> {
    if (this.minIntervalMs === 0) return;
    const now = this.now();
    for (const [key, at] of this.nextPostAt) if (at + PACING_FORGET_MS < now) this.nextPostAt.delete(key);
    const key = this.paceKey(channel);
    // The slot is taken before waiting, so concurrent notifies queue behind one another.
    const at = Math.max(now, this.nextPostAt.get(key) ?? now);
    this.nextPostAt.set(key, at + this.minIntervalMs);
    if (at > now) await this.sleep(at - now);
  }

  private paceKey(channel: string): string {
    return this.channelKeys.get(channel) ?? channel;
  }

  /** The NotifyError for a failed Web API call; no text of it can hold the token. */
  private failure(method: string, err: unknown): NotifyError {
    const fail = (message: string, retriable: boolean, extra: { status?: number; retryAfterMs?: number } = {}): NotifyError =>
      new NotifyError(this.channel, redact(message, [this.token]), retriable, { cause: err, ...extra });
    if (err instanceof WebAPIRateLimitedError) {
      return fail(`${method} was rate limited by Slack; it asks to wait ${err.retryAfter} s`, true, { status: 429, retryAfterMs: err.retryAfter * 1000 });
    }
    if (err instanceof WebAPIHTTPError) {
      const retriable = err.statusCode >= 500 || err.statusCode === 408;
      return fail(`${method} failed with HTTP ${err.statusCode}${err.statusMessage ? ` ${err.statusMessage}` : ''}`, retriable, { status: err.statusCode });
    }
    if (err instanceof WebAPIPlatformError) {
      const code = String(err.data.error);
      const hint = SLACK_ERROR_HINTS[code];
      return fail(`${method} was refused by Slack: ${code}${hint === undefined ? '' : ` (${hint})`}`, TRANSIENT_SLACK_ERRORS.has(code));
    }
    if (err instanceof WebAPIRequestError) {
      const original = err.original;
      if (original.name === 'TimeoutError' || original.name === 'AbortError') return fail(`${method} timed out after ${this.timeoutMs} ms`, true);
      return fail(`${method} could not reach Slack: ${describeRequestError(original)}`, true);
    }
    // A 429 without a usable Retry-After surfaces as a plain Error from the client.
    if (err instanceof Error && /rate limit|retry header/i.test(err.message)) {
      return fail(`${method} was rate limited by Slack without saying for how long`, true, { status: 429 });
    }
    return fail(`${method} failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`, false);
  }
}

function rootMessage(incident: string, view: IncidentView, links: readonly string[]): Message {
  const subject = subjectOf(view);
  const title = view.resolved !== undefined ? `Resolved: ${subject}` : `${SEVERITY_WORDS[view.severity ?? 'unknown']}: ${subject}`;
  const icon = view.resolved !== undefined ? ':white_check_mark:' : SEVERITY_ICONS[view.severity ?? 'unknown'];
  const blocks: MessageBlock[] = [header(`${icon} ${title}`)];
  if (view.resolved !== undefined) blocks.push(section(`*Resolved:* ${mrkdwn(view.resolved)}`));
  if (view.summary !== '') blocks.push(section(view.resolved !== undefined ? `Was: ${mrkdwn(view.summary)}` : mrkdwn(view.summary)));
  const evidence = bulletList(view.reasons, view.reasonsLeftOut);
  if (evidence !== '') blocks.push(section(evidence));
  const facts = [
    incident === '' ? '' : `Incident ${mrkdwn(incident)}`,
    view.pagedTs === undefined ? '' : `paged ${slackDate(view.pagedTs)}`,
    view.updatedTs === undefined ? '' : `${view.resolved !== undefined ? 'resolved' : 'last news'} ${slackDate(view.updatedTs)}`,
    view.signals.length === 0 ? '' : `signals: ${mrkdwn(view.signals.join(', '))}`,
  ].filter((part) => part !== '');
  if (facts.length > 0) blocks.push(context(facts.join(' · ')));
  if (links.length > 0) blocks.push(context(links.join(' · ')));
  if (view.pagedTs === undefined && view.resolved === undefined) {
    // Said so that nobody goes looking for a page this message seems to continue.
    blocks.push(context('The first message of this incident is not known here (sent before a restart, or lost); its news threads under this one.'));
  }
  const gist = view.resolved ?? view.summary;
  return { text: fallback(`${title}${gist === '' ? '' : ` - ${gist}`}`), blocks };
}

function updateReply(d: UpdateDecision): Message {
  const summary = text(d.summary);
  const versions = strings(d.versions);
  const blocks: MessageBlock[] = [section(`*Update:* ${mrkdwn(summary || 'new evidence')}`)];
  const evidence = bulletList(strings(d.reasons), 0);
  if (evidence !== '') blocks.push(section(evidence));
  const facts = [versions.length === 0 ? '' : `versions involved now: ${mrkdwn(versions.join(', '))}`, slackDate(d.ts)].filter((part) => part !== '');
  blocks.push(context(facts.join(' · ')));
  return { text: fallback(`Update on ${text(d.service)}: ${summary}`), blocks };
}

function resolveReply(d: ResolveDecision): Message {
  const reason = text(d.reason) || 'resolved';
  return {
    text: fallback(`Resolved: ${reason}`),
    blocks: [section(`:white_check_mark: *Resolved:* ${mrkdwn(reason)}`), context(slackDate(d.ts))],
  };
}

function verdictMessage(d: VerdictDecision, links: readonly string[]): Message {
  const service = text(d.service);
  const version = text(d.version);
  const comparedWith = d.evidence ? text(d.evidence.comparedWith) : '';
  const release = text(d.release);
  const line = `${service} ${version} failed its canary check${comparedWith ? ` against ${comparedWith}` : ''}${release ? ` (release ${release})` : ''}`;
  const reasons = strings(d.reasons);
  const blocks: MessageBlock[] = [section(`:x: *${mrkdwn(line)}*`)];
  const evidence = bulletList(reasons, 0);
  if (evidence !== '') blocks.push(section(evidence));
  const e = d.evidence;
  if (e) {
    const counted = `${count(e.canaryRequests)} requests on ${mrkdwn(version)} vs ${count(e.baselineRequests)} on ${mrkdwn(comparedWith || 'the comparison')}`;
    blocks.push(context(`${counted}, ${slackTime(e.windowStart)} to ${slackTime(e.windowEnd)}`));
  }
  if (links.length > 0) blocks.push(context(links.join(' · ')));
  const [first] = reasons;
  const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
  return { text: fallback(`FAIL: ${line}${first === undefined ? '' : `: ${first}${more}`}`), blocks };
}

const SEVERITY_WORDS: Readonly<Record<Severity | 'unknown', string>> = { critical: 'Critical', warning: 'Warning', info: 'Info', unknown: 'Incident' };
const SEVERITY_ICONS: Readonly<Record<Severity | 'unknown', string>> = {
  critical: ':rotating_light:',
  warning: ':warning:',
  info: ':information_source:',
  unknown: ':warning:',
};

function subjectOf(view: IncidentView): string {
  const versions = view.versions.join(', ');
  const release = view.release === undefined || view.release === '' ? '' : ` (release ${view.release})`;
  return `${view.service}${versions === '' ? '' : ` ${versions}`}${release}`;
}

/** New reasons appended to the kept ones, without repeats; past the bound they are only counted. */
function keptReasons(kept: readonly string[], leftOut: number, incoming: readonly string[]): { reasons: string[]; reasonsLeftOut: number } {
  const reasons = [...kept];
  let more = leftOut;
  for (const reason of incoming) {
    if (reasons.includes(reason)) continue;
    if (reasons.length < MAX_REASONS_KEPT) reasons.push(reason);
    else more++;
  }
  return { reasons, reasonsLeftOut: more };
}

function bulletList(reasons: readonly string[], leftOut: number): string {
  const lines = reasons.map((reason) => `• ${mrkdwn(reason)}`);
  if (leftOut > 0) lines.push(`_and ${leftOut} more on the dashboard_`);
  return lines.join('\n');
}

function header(title: string): MessageBlock {
  return { type: 'header', text: { type: 'plain_text', text: cut(title, HEADER_CHARS), emoji: true } };
}

function section(body: string): MessageBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: cut(body, SECTION_CHARS) } };
}

function context(body: string): MessageBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: cut(body, SECTION_CHARS) }] };
}

function fallback(body: string): string {
  return cut(mrkdwn(body), FALLBACK_CHARS);
}

// Cutting can split an escape (`&amp;`) or a link; only long texts get here, and the start
// of the message is what matters.
function cut(body: string, maxChars: number): string {
  return body.length <= maxChars ? body : `${body.slice(0, maxChars - 1)}…`;
}

/** `<url|label>`; the characters that would end a Slack link early are percent-encoded. */
function link(url: string, label: string): string {
  const safeUrl = url.replace(/[<>|\s]/g, (c) => encodeURIComponent(c));
  return `<${safeUrl}|${mrkdwn(label).replace(/\|/g, '/')}>`;
}

// Slack reads `<...>` as a link or mention and `&` as the start of an escape, so a reason
// like "p < 0.001" must be escaped or it eats the rest of the line.
function mrkdwn(body: string): string {
  return body.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A time each reader sees in their own time zone, with UTC text for clients that cannot. */
function slackDate(iso: string): string {
  return slackToken(iso, '{date_short_pretty} {time_secs}', (at) => `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`);
}

function slackTime(iso: string): string {
  return slackToken(iso, '{time}', (at) => `${at.toISOString().slice(11, 16)} UTC`);
}

function slackToken(iso: string, format: string, fallbackText: (at: Date) => string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return `<!date^${Math.floor(at.getTime() / 1000)}^${format}|${fallbackText(at)}>`;
}

function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '?';
}

/** `fetch failed` alone says nothing; the useful part (ECONNREFUSED, ENOTFOUND) sits in its cause. */
function describeRequestError(err: Error): string {
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code === undefined ? cause.message : `${code} ${cause.message}`}`;
  }
  return err.message;
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map(text).filter((item) => item !== '');
}

// Records can come from replay files and webhook bodies; a control character in a name
// would otherwise reach people's screens.
function text(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\p{Cc}/gu, ' ').trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}
