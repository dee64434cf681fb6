/**
 * The console notifier: the default channel of `vigil run`, written for an on-call engineer
 * (or a newcomer watching a demo) reading a terminal. One block of text per decision.
 */
import type { Decision, PageDecision, ResolveDecision, SuppressedDecision, UpdateDecision, VerdictDecision } from '../rules/decisions.js';
import type { Notifier } from './notifier.js';

/** How `formatDecision` renders: with ANSI colors or plain, and whether suppressions show. */
export interface ConsoleFormatOptions {
  readonly color: boolean;
  readonly showSuppressed?: boolean;
}

/** What a `ConsoleNotifier` writes to and how. */
export interface ConsoleNotifierOptions {
  readonly out: NodeJS.WritableStream;
  readonly color?: boolean;
  readonly showSuppressed?: boolean;
}

// Lines past this wrap; headers are left whole because splitting them hides the incident id.
const WIDTH_CHARS = 100;

const ANSI = {
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
} as const;

type Tint = keyof Omit<typeof ANSI, 'reset'>;

/** Renders one decision as the block the console prints, or '' for a decision it keeps quiet about. */
export function formatDecision(decision: Decision, options: ConsoleFormatOptions): string {
  const paint = (tint: Tint | undefined, line: string): string => (options.color && tint ? `${ANSI[tint]}${line}${ANSI.reset}` : line);
  const lines = blockLines(decision, options.showSuppressed === true, paint);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n\n`;
}

/** Prints every decision to a terminal stream; the notifier `vigil run` uses when nothing else is configured. */
export class ConsoleNotifier implements Notifier {
  /** Channel name, as a page's `channels` lists it. */
  readonly channel = 'console';
  private readonly out: NodeJS.WritableStream;
  private readonly format: ConsoleFormatOptions;
  private broken = false;

  constructor(options: ConsoleNotifierOptions) {
    this.out = options.out;
    this.format = { color: options.color ?? false, showSuppressed: options.showSuppressed ?? false };
    // A closed pipe (`vigil run | head`) emits 'error'; unheard, that would end the process
    // and take every other notifier down with the console.
    this.out.on('error', () => {
      this.broken = true;
    });
  }

  /** Writes the decision's block; never throws, so a bad record or a dead terminal cannot stop paging. */
  async notify(decision: Decision): Promise<void> {
    if (this.broken || !this.out.writable) return;
    try {
      const block = formatDecision(decision, this.format);
      if (block !== '') this.out.write(block);
    } catch {
      // Some streams throw synchronously on write after end rather than emitting 'error'.
      this.broken = true;
    }
  }
}

function blockLines(decision: Decision, showSuppressed: boolean, paint: (tint: Tint | undefined, line: string) => string): string[] {
  // Records can come from replay files and other processes, so each one is read
  // defensively: a missing field prints as a gap rather than throwing.
  if (typeof decision !== 'object' || decision === null) return [];
  switch (decision.type) {
    case 'page':
      return pageLines(decision, paint);
    case 'update':
      return updateLines(decision);
    case 'resolve':
      return resolveLines(decision, paint);
    case 'verdict':
      return verdictLines(decision, paint);
    case 'suppressed':
      return showSuppressed ? suppressedLines(decision, paint) : [];
    default: {
      const _unknown: never = decision;
      return [];
    }
  }
}

function pageLines(d: PageDecision, paint: (tint: Tint | undefined, line: string) => string): string[] {
  const severity = text(d.severity) || 'unknown';
  const tint: Tint | undefined = severity === 'critical' ? 'red' : severity === 'warning' ? 'yellow' : undefined;
  const header = joinParts([clock(d.ts), `PAGE  ${severity}`, text(d.service), versionsWithRelease(d.versions, d.release), incidentPart(d.incident)]);
  const channels = strings(d.channels);
  return [
    paint(tint, header),
    ...wrap(text(d.summary), '  ', '  '),
    ...bullets(d.reasons),
    ...(channels.length > 0 ? [`  channels: ${channels.join(', ')}`] : []),
  ];
}

function updateLines(d: UpdateDecision): string[] {
  const header = joinParts([clock(d.ts), 'UPDATE', incidentPart(d.incident), text(d.service), versionsWithRelease(d.versions, undefined)]);
  return [header, ...wrap(text(d.summary), '  ', '  '), ...bullets(d.reasons)];
}

function resolveLines(d: ResolveDecision, paint: (tint: Tint | undefined, line: string) => string): string[] {
  const service = text(d.service);
  const subject = joinParts([clock(d.ts), 'RESOLVED', incidentPart(d.incident)]) + (service ? ` (${service})` : '');
  const reason = text(d.reason);
  if (!reason) return [paint('green', subject)];
  const [first = subject, ...rest] = wrap(reason, `${subject}: `, '  ');
  return [paint('green', first), ...rest];
}

function verdictLines(d: VerdictDecision, paint: (tint: Tint | undefined, line: string) => string): string[] {
  const verdict = text(d.verdict) || 'NONE';
  const tint: Tint | undefined = verdict === 'FAIL' ? 'red' : verdict === 'PASS' ? 'green' : undefined;
  const comparedWith = d.evidence ? text(d.evidence.comparedWith) : '';
  const score = typeof d.score === 'number' && Number.isFinite(d.score) ? `score ${d.score.toFixed(2)}` : '';
  const header = joinParts([
    clock(d.ts),
    `VERDICT ${verdict}`,
    text(d.service),
    versionsWithRelease([text(d.version)], d.release),
    comparedWith ? `vs ${comparedWith}` : '',
    score,
  ]);
  const reasons = strings(d.reasons);
  const [firstReason] = reasons;
  // A verdict is meant to fit a glance: the first reason carries the decision, the rest
  // are counted so nobody thinks they were the only one.
  const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
  return [paint(tint, header), ...(firstReason === undefined ? [] : wrap(firstReason + more, '  ', '  '))];
}

function suppressedLines(d: SuppressedDecision, paint: (tint: Tint | undefined, line: string) => string): string[] {
  const detail = text(d.detail);
  const line = `${clock(d.ts)}  suppressed (${text(d.why) || 'unknown'}): ${text(d.what)}${detail ? ` [${detail}]` : ''}`;
  return [paint('dim', line)];
}

function clock(ts: unknown): string {
  const at = typeof ts === 'string' || typeof ts === 'number' ? new Date(ts) : new Date(Number.NaN);
  return Number.isNaN(at.getTime()) ? '--:--:--' : at.toISOString().slice(11, 19);
}

function versionsWithRelease(versions: unknown, release: unknown): string {
  const listed = strings(versions).join(', ');
  const releaseName = text(release);
  if (!releaseName) return listed;
  return listed ? `${listed} (release ${releaseName})` : `(release ${releaseName})`;
}

function incidentPart(incident: unknown): string {
  const id = text(incident);
  return id ? `incident ${id}` : '';
}

function bullets(reasons: unknown): string[] {
  return strings(reasons).flatMap((reason) => wrap(reason, '  - ', '    '));
}

function joinParts(parts: readonly string[]): string {
  return parts.filter((part) => part !== '').join('  ');
}

/** Greedy word wrap; a word longer than the line stays whole rather than being cut. */
function wrap(body: string, firstPrefix: string, restPrefix: string): string[] {
  const words = body.split(/\s+/).filter((word) => word !== '');
  if (words.length === 0) return [];
  const lines: string[] = [];
  let line = firstPrefix;
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > WIDTH_CHARS) {
      lines.push(line);
      line = restPrefix;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map(text).filter((item) => item !== '');
}

function text(value: unknown): string {
  if (typeof value === 'string') return clean(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

// Service names and reasons can come from webhook bodies; an escape sequence in them must
// not be able to repaint or clear the operator's terminal.
function clean(value: string): string {
  return value.replace(/\p{Cc}/gu, ' ').trim();
}
