/**
 * The email notifier: one mail per page, its updates and its resolution threaded under it
 * as replies, and one mail per FAIL verdict. Written for the person who opens it on a phone
 * at night: the subject says what broke where, the body says why, in numbers.
 *
 * Delivery caveat: a retried attempt whose first try reached some recipients (the server
 * refused only others) reaches them twice; the mail keeps its Message-ID, which most mail
 * systems use to drop the copy.
 */
import { createTransport } from 'nodemailer';
import type { NodemailerError, SMTPSentMessageInfo, SendMailOptions, Transporter } from 'nodemailer';
import type { Decision, PageDecision, ResolveDecision, UpdateDecision, VerdictDecision } from '../rules/decisions.js';
import { SIGNAL_WORDS } from '../rules/verdicts.js';
import { NotifyError, redact } from './notifier.js';
import type { Notifier } from './notifier.js';

/** How an `EmailNotifier` reaches its SMTP server and whom it writes to. */
export interface EmailNotifierOptions {
  readonly smtp: {
    readonly host: string;
    readonly port: number;
    /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
    readonly secure?: boolean;
    readonly user?: string;
    readonly password?: string;
    readonly requireTLS?: boolean;
    readonly ignoreTLS?: boolean;
  };
  readonly from: string;
  /** Recipients of the route this notifier serves. */
  readonly to: readonly string[];
  readonly links?: { readonly dashboardUrl?: string; readonly apiUrl?: string };
  /** Limit on connecting, on waiting for the greeting and on any silence of the socket. */
  readonly timeoutMs?: number;
  /** Right-hand side of the Message-IDs this notifier makes up. */
  readonly domain?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_DOMAIN = 'vigil.local';
// Long enough for a service, its versions and the signals; mail clients cut the rest anyway,
// and a runaway label value must not make a header kilobytes long.
const MAX_SUBJECT_CHARS = 200;
// Bounds what one reason or summary from an event can add to a mail.
const MAX_TEXT_CHARS = 2_000;
const MAX_LIST_ITEMS = 50;

/** Sends decisions as mail over SMTP, one SMTP session per attempt. */
export class EmailNotifier implements Notifier {
  /** Channel name, as a page's `channels` lists it. */
  readonly channel = 'email';
  private readonly transport: Transporter<SMTPSentMessageInfo>;
  private readonly from: string;
  private readonly to: readonly string[];
  private readonly domain: string;
  private readonly links: Links;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly secrets: readonly string[];

  constructor(options: EmailNotifierOptions) {
    const domain = options.domain ?? DEFAULT_DOMAIN;
    if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(domain)) throw new Error(`email: domain must be a host name, got ${JSON.stringify(domain)}`);
    if (options.to.length === 0) throw new Error('email: a route needs at least one recipient');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`email: timeoutMs must be a positive number, got ${timeoutMs}`);
    const { host, port, secure, user, password, requireTLS, ignoreTLS } = options.smtp;
    this.from = options.from;
    this.to = [...options.to];
    this.domain = domain;
    this.links = {
      dashboardUrl: webUrl(options.links?.dashboardUrl, 'dashboardUrl'),
      apiUrl: webUrl(options.links?.apiUrl, 'apiUrl')?.replace(/\/+$/, ''),
    };
    this.endpoint = `${host}:${port}`;
    this.timeoutMs = timeoutMs;
    this.secrets = secretForms(user, password);
    // Not pooled: pages are rare, so a connection per mail costs nothing, while a pooled
    // connection idles for hours until the server drops it and the one mail that matters
    // then fails on a dead socket. A fresh session also makes an attempt exactly one try
    // (the pool re-queues on its own) and leaves no socket open to hold up shutdown.
    this.transport = createTransport({
      host,
      port,
      secure: secure ?? false,
      requireTLS: requireTLS ?? false,
      ignoreTLS: ignoreTLS ?? false,
      ...(user !== undefined || password !== undefined ? { auth: { user, pass: password } } : {}),
      // The library's connection timeout covers the whole setup (DNS, connect, greeting,
      // STARTTLS), so a slow connect and a slow greeting cannot add up to twice the limit.
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
      logger: false,
      debug: false,
    });
  }

  /** Makes one SMTP attempt for a page, update, resolve or FAIL verdict; anything else resolves at once. */
  async notify(decision: Decision): Promise<void> {
    const letter = compose(decision, this.links);
    if (letter === undefined) return;
    const mail: SendMailOptions = {
      from: this.from,
      to: [...this.to],
      subject: letter.subject,
      text: renderText(letter),
      html: renderHtml(letter),
      headers: {
        // RFC 3834: keeps out-of-office replies from answering an alert address.
        'Auto-Submitted': 'auto-generated',
        ...(letter.incident !== undefined ? { 'X-Vigil-Incident': letter.incident } : {}),
      },
    };
    const ids = letter.thread === undefined ? undefined : messageIds(letter.thread, this.domain);
    if (ids !== undefined) {
      mail.messageId = ids.own;
      if (ids.parent !== undefined) {
        mail.inReplyTo = ids.parent;
        mail.references = [ids.parent];
      }
    }
    let info: SMTPSentMessageInfo;
    try {
      info = await this.transport.sendMail(mail);
    } catch (err) {
      throw this.failure(letter.what, err);
    }
    if (info.rejected.length > 0) throw this.partialFailure(letter.what, info);
  }

  private failure(what: string, err: unknown): NotifyError {
    const e = scrub(err, this.secrets);
    const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    const message = redact(`could not send ${what} via ${this.endpoint}: ${this.explain(e)}`, this.secrets);
    return new NotifyError(this.channel, message, isRetriable(e), { cause: e, ...(code !== undefined ? { status: code } : {}) });
  }

  private partialFailure(what: string, info: SMTPSentMessageInfo): NotifyError {
    const errors = (info.rejectedErrors ?? []).map((e) => scrub(e, this.secrets));
    // One deferred recipient is reason enough to try again: the others can be paged later,
    // and those who already have it get a copy with the same Message-ID.
    const deferred = errors.find((e) => isRetriable(e));
    const shown = deferred ?? errors[0];
    const code = typeof shown?.responseCode === 'number' ? shown.responseCode : undefined;
    const why = shown === undefined ? '' : `: ${this.explain(shown)}`;
    const message = redact(
      `${what} reached ${info.accepted.length} of ${this.to.length} recipients via ${this.endpoint}; refused for ${info.rejected.join(', ')}${why}`,
      this.secrets,
    );
    return new NotifyError(this.channel, message, deferred !== undefined, { cause: shown, ...(code !== undefined ? { status: code } : {}) });
  }

  private explain(e: NodemailerError): string {
    if (typeof e.response === 'string' && e.response !== '') {
      const command = typeof e.command === 'string' && e.command !== 'CONN' ? ` to ${e.command}` : '';
      return `the server answered${command} "${oneLine(e.response)}"`;
    }
    if (e.code === 'ETIMEDOUT') {
      switch (e.timeoutType) {
        case 'CONNECT_TIMEOUT':
          return `timed out: no connection within ${this.timeoutMs} ms`;
        case 'GREETING_TIMEOUT':
          return `timed out: the server took the connection but sent no greeting within ${this.timeoutMs} ms`;
        case 'UPGRADE_TIMEOUT':
          return `timed out: the TLS upgrade took longer than ${this.timeoutMs} ms`;
        case 'SOCKET_TIMEOUT':
          return `timed out: the server sent nothing for ${this.timeoutMs} ms`;
        default:
          return `timed out (${this.timeoutMs} ms)`;
      }
    }
    const codes = [e.code, e.originalCode].filter((c): c is string => typeof c === 'string' && c !== '');
    return `${oneLine(e.message)}${codes.length > 0 ? ` (${[...new Set(codes)].join(', ')})` : ''}`;
  }
}

// ---------------------------------------------------------------------------------------
// Failure classification

// What a connection-level failure looks like when the server never got to reply; each of
// these may go away on its own (a restart, a full backlog, a network blip).
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

function isRetriable(e: NodemailerError): boolean {
  if (typeof e.responseCode === 'number') {
    // RFC 5321: 4yz is a transient negative reply, 5yz a permanent one. Other codes only
    // fail a send when the server answered out of turn, which a new session may not repeat.
    if (e.responseCode >= 500 && e.responseCode < 600) return false;
    return true;
  }
  if (e.code === 'ETLS') return !isCertificateProblem(e.originalCode);
  return TRANSIENT_CODES.has(e.code ?? '') || TRANSIENT_CODES.has(e.originalCode ?? '');
}

// A certificate the client rejects stays rejected until someone changes the server or the
// configuration; a handshake cut off midway is worth another try.
function isCertificateProblem(code: string | undefined): boolean {
  return code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/.test(code);
}

/**
 * The library's error with every form of the credentials taken out of its texts, so that
 * whoever logs the NotifyError's cause logs no password either.
 */
function scrub(err: unknown, secrets: readonly string[]): NodemailerError {
  const e: NodemailerError = err instanceof Error ? err : new Error(String(err));
  e.message = redact(e.message, secrets);
  if (typeof e.stack === 'string') e.stack = redact(e.stack, secrets);
  if (typeof e.response === 'string') e.response = redact(e.response, secrets);
  return e;
}

// AUTH LOGIN sends the password in base64 and AUTH PLAIN sends "\0user\0password" in
// base64; a server (or a proxy) that quotes the command back must not leak either form.
function secretForms(user: string | undefined, password: string | undefined): string[] {
  if (password === undefined || password === '') return [];
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return [password, b64(password), b64(`\u0000${user ?? ''}\u0000${password}`)];
}

// ---------------------------------------------------------------------------------------
// Composing

interface Links {
  readonly dashboardUrl: string | undefined;
  readonly apiUrl: string | undefined;
}

/** Where a mail sits in its incident's thread, from which its Message-IDs follow. */
type ThreadPlace =
  | { readonly kind: 'page'; readonly incident: string }
  | { readonly kind: 'update'; readonly incident: string; readonly ts: string }
  | { readonly kind: 'resolve'; readonly incident: string }
  | { readonly kind: 'verdict'; readonly service: string; readonly version: string; readonly ts: string };

/** Everything a mail says, rendered once as text and once as HTML so both say the same. */
interface Letter {
  readonly subject: string;
  /** How error messages name the mail ("page for incident X"). */
  readonly what: string;
  readonly incident: string | undefined;
  readonly thread: ThreadPlace | undefined;
  readonly heading: string;
  readonly lead: string;
  readonly listTitle: string;
  readonly items: readonly string[];
  readonly facts: readonly (readonly [label: string, value: string])[];
  readonly links: readonly (readonly [label: string, url: string])[];
  readonly footnote: string;
}

function compose(decision: Decision, links: Links): Letter | undefined {
  // Records can come from replay files and other processes, so fields are read
  // defensively: a missing one leaves a gap in the mail rather than losing the page.
  if (typeof decision !== 'object' || decision === null) return undefined;
  switch (decision.type) {
    case 'page':
      return pageLetter(decision, links);
    case 'update':
      return updateLetter(decision, links);
    case 'resolve':
      return resolveLetter(decision, links);
    case 'verdict':
      return text(decision.verdict) === 'FAIL' ? verdictLetter(decision, links) : undefined;
    case 'suppressed':
      return undefined;
    default: {
      const _unknown: never = decision;
      return undefined;
    }
  }
}

function pageLetter(d: PageDecision, links: Links): Letter {
  const service = text(d.service);
  const severity = text(d.severity) || 'unknown';
  const incident = text(d.incident);
  const versions = strings(d.versions);
  const release = text(d.release);
  const what = signalWords(d.signals);
  const where = [service, versions.join(', '), release ? `(release ${release})` : ''].filter((p) => p !== '').join(' ');
  return {
    subject: subjectLine(`[Vigil] PAGE ${severity}: ${where}${what ? ` — ${what} regression` : ''}`),
    what: `page for incident ${incident || '(no id)'}`,
    incident: incident || undefined,
    thread: incident ? { kind: 'page', incident } : undefined,
    heading: `PAGE ${severity}: ${where}`,
    lead: text(d.summary),
    listTitle: 'Why',
    items: strings(d.reasons),
    facts: facts([
      ['Service', service],
      ['Versions', versions.join(', ')],
      ['Release', release],
      ['Severity', severity],
      ['Signals', what],
      ['Incident', incident],
      ['Seen at', text(d.ts)],
    ]),
    links: incidentLinks(links),
    footnote: 'Updates and the resolution of this incident arrive as replies to this mail.',
  };
}

function updateLetter(d: UpdateDecision, links: Links): Letter {
  const service = text(d.service);
  const incident = text(d.incident);
  const versions = strings(d.versions);
  const what = signalWords(d.signals);
  const where = [service, versions.join(', ')].filter((p) => p !== '').join(' ');
  return {
    subject: subjectLine(`Re: [Vigil] PAGE: ${where}${what ? ` — ${what} regression` : ''}`),
    what: `update of incident ${incident || '(no id)'}`,
    incident: incident || undefined,
    thread: incident ? { kind: 'update', incident, ts: text(d.ts) } : undefined,
    heading: `UPDATE: ${where}`,
    lead: text(d.summary),
    listTitle: 'New evidence',
    items: strings(d.reasons),
    facts: facts([
      ['Service', service],
      ['Versions', versions.join(', ')],
      ['Signals', what],
      ['Incident', incident],
      ['Seen at', text(d.ts)],
    ]),
    links: incidentLinks(links),
    footnote: 'The incident is still open; its resolution arrives as a reply like this one.',
  };
}

function resolveLetter(d: ResolveDecision, links: Links): Letter {
  const service = text(d.service);
  const incident = text(d.incident);
  return {
    subject: subjectLine(`Re: [Vigil] PAGE: ${service} — resolved`),
    what: `resolution of incident ${incident || '(no id)'}`,
    incident: incident || undefined,
    thread: incident ? { kind: 'resolve', incident } : undefined,
    heading: `RESOLVED: ${service}`,
    lead: text(d.reason),
    listTitle: '',
    items: [],
    facts: facts([
      ['Service', service],
      ['Incident', incident],
      ['Resolved at', text(d.ts)],
    ]),
    links: incidentLinks(links),
    footnote: 'Nothing more will be sent about this incident; a new regression opens a new one.',
  };
}

function verdictLetter(d: VerdictDecision, links: Links): Letter {
  const service = text(d.service);
  const version = text(d.version);
  const release = text(d.release);
  const evidence = typeof d.evidence === 'object' && d.evidence !== null ? d.evidence : undefined;
  const comparedWith = evidence ? text(evidence.comparedWith) : '';
  const score = typeof d.score === 'number' && Number.isFinite(d.score) ? d.score.toFixed(2) : '';
  const window = evidence && text(evidence.windowStart) && text(evidence.windowEnd) ? `${text(evidence.windowStart)} to ${text(evidence.windowEnd)}` : '';
  const apiLink: (readonly [string, string])[] =
    links.apiUrl && service && version
      ? [['Verdict (API)', `${links.apiUrl}/v1/verdicts/${encodeURIComponent(service)}/${encodeURIComponent(version)}`]]
      : [];
  return {
    subject: subjectLine(`[Vigil] FAIL ${service} ${version}`),
    what: `FAIL verdict for ${service} ${version}`,
    incident: undefined,
    thread: service && version ? { kind: 'verdict', service, version, ts: text(d.ts) } : undefined,
    heading: `FAIL: ${[service, version, release ? `(release ${release})` : ''].filter((p) => p !== '').join(' ')}`,
    lead: `${version || 'This version'} of ${service || 'the service'} did worse than ${comparedWith || 'what it was compared with'}; release tools reading verdicts will not promote it.`,
    listTitle: 'Why',
    items: strings(d.reasons),
    facts: facts([
      ['Service', service],
      ['Version', version],
      ['Release', release],
      ['Compared with', comparedWith],
      ['Canary requests', evidence ? count(evidence.canaryRequests) : ''],
      ['Baseline requests', evidence ? count(evidence.baselineRequests) : ''],
      ['Window', window],
      ['Score', score],
      ['Judged at', text(d.ts)],
    ]),
    links: [...(links.dashboardUrl ? [['Dashboard', links.dashboardUrl] as const] : []), ...apiLink],
    footnote: '',
  };
}

function incidentLinks(links: Links): (readonly [string, string])[] {
  return [
    ...(links.dashboardUrl ? [['Dashboard', links.dashboardUrl] as const] : []),
    ...(links.apiUrl ? [['Incidents (API)', `${links.apiUrl}/v1/incidents?state=all`] as const] : []),
  ];
}

function facts(rows: readonly (readonly [string, string])[]): (readonly [string, string])[] {
  return rows.filter(([, value]) => value !== '');
}

function signalWords(signals: unknown): string {
  return strings(signals)
    .map((s) => (Object.hasOwn(SIGNAL_WORDS, s) ? SIGNAL_WORDS[s as keyof typeof SIGNAL_WORDS] : s))
    .join(' and ');
}

function count(n: unknown): string {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '';
}

// ---------------------------------------------------------------------------------------
// Message-IDs

/**
 * The Message-IDs of a mail: its own and that of the page it answers. They follow from the
 * decision alone, so a retried or replayed mail keeps its id and replies thread without
 * the notifier remembering what it sent.
 */
function messageIds(place: ThreadPlace, domain: string): { own: string; parent: string | undefined } {
  const id = (...parts: string[]): string => `<${parts.map(idPart).join('.')}@${domain}>`;
  switch (place.kind) {
    case 'page':
      return { own: id(place.incident), parent: undefined };
    case 'update':
      return { own: `<${idPart(place.incident)}.update.${stamp(place.ts)}@${domain}>`, parent: id(place.incident) };
    case 'resolve':
      return { own: `<${idPart(place.incident)}.resolve@${domain}>`, parent: id(place.incident) };
    case 'verdict':
      return { own: `<verdict.${idPart(place.service)}.${idPart(place.version)}.${stamp(place.ts)}@${domain}>`, parent: undefined };
    default: {
      const _unknown: never = place;
      return { own: '', parent: undefined };
    }
  }
}

// Percent-encodes everything but letters, digits, '-' and '_', so any id becomes valid
// msg-id text, '.' is free to separate the parts, and two different ids stay different.
function idPart(value: string): string {
  if (value === '') return '_';
  return Array.from(Buffer.from(value, 'utf8'), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

// 2026-11-22T14:09:30.000Z -> 20261122T140930000Z: readable, and the same instant gives the same id.
function stamp(ts: string): string {
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? idPart(ts) : new Date(ms).toISOString().replace(/[-:.]/g, '');
}

// ---------------------------------------------------------------------------------------
// Rendering

function renderText(l: Letter): string {
  const width = Math.max(0, ...[...l.facts, ...l.links].map(([label]) => label.length)) + 2;
  const out: string[] = [l.heading, ''];
  if (l.lead) out.push(l.lead, '');
  if (l.items.length > 0) out.push(`${l.listTitle}:`, ...l.items.map((item) => `  - ${item}`), '');
  if (l.facts.length > 0) out.push(...l.facts.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`), '');
  if (l.links.length > 0) out.push(...l.links.map(([label, url]) => `${`${label}:`.padEnd(width)}${url}`), '');
  if (l.footnote) out.push(l.footnote, '');
  return out.join('\n');
}

function renderHtml(l: Letter): string {
  const cell = 'padding:2px 12px 2px 0;vertical-align:top';
  const parts = [
    '<!DOCTYPE html>',
    '<html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#1f2328">',
    `<h2 style="font-size:18px;margin:0 0 12px">${escapeHtml(l.heading)}</h2>`,
  ];
  if (l.lead) parts.push(`<p>${escapeHtml(l.lead)}</p>`);
  if (l.items.length > 0) {
    parts.push(`<p style="margin-bottom:4px"><strong>${escapeHtml(l.listTitle)}</strong></p>`);
    parts.push(`<ul>${l.items.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`);
  }
  if (l.facts.length > 0) {
    const rows = l.facts.map(([label, value]) => `<tr><td style="${cell};color:#656d76">${escapeHtml(label)}</td><td style="${cell}">${escapeHtml(value)}</td></tr>`);
    parts.push(`<table style="border-collapse:collapse;margin:12px 0">${rows.join('')}</table>`);
  }
  if (l.links.length > 0) {
    parts.push(`<p>${l.links.map(([label, url]) => `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>`).join(' &middot; ')}</p>`);
  }
  if (l.footnote) parts.push(`<p style="color:#656d76;font-size:12px">${escapeHtml(l.footnote)}</p>`);
  parts.push('</body></html>');
  return parts.join('\n');
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------
// Reading fields

// Only http(s) links: a `javascript:` URL in the configuration would otherwise become a
// link an on-call engineer clicks.
function webUrl(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`email: links.${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`email: links.${name} must be an http(s) URL, got ${url.protocol}`);
  return value;
}

function subjectLine(value: string): string {
  // Folding is the library's job; a newline from an event must still never start a header.
  const line = oneLine(value);
  return line.length <= MAX_SUBJECT_CHARS ? line : `${line.slice(0, MAX_SUBJECT_CHARS - 1)}…`;
}

function oneLine(value: string): string {
  return value.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').replace(/ {2,}/g, ' ').trim();
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const items = value.slice(0, MAX_LIST_ITEMS).map(text).filter((item) => item !== '');
  // Cut lists say so, so nobody takes the ones shown for all there were.
  if (value.length > MAX_LIST_ITEMS) items.push(`… and ${value.length - MAX_LIST_ITEMS} more`);
  return items;
}

function text(value: unknown): string {
  if (typeof value === 'string') {
    const line = oneLine(value);
    return line.length <= MAX_TEXT_CHARS ? line : `${line.slice(0, MAX_TEXT_CHARS - 1)}…`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}
