/**
 * `vigil replay`: a recorded stream through the whole engine, in event time, as fast as
 * the machine allows. The wiring reads top to bottom: lines -> decode -> engine -> NDJSON.
 */
import type { Writable } from 'node:stream';
import { createEngine } from '../rules/engine.js';
import type { RulesConfig } from '../rules/config.js';
import type { Decision } from '../rules/decisions.js';
import { cutText, decodeLine, reasonClass } from '../ingest/decode.js';
import { describeIoError, openLines } from '../ingest/lines.js';

/** Everything a replay reads from and writes to; the CLI supplies the real streams. */
export interface ReplayOptions {
  /** A file path, or `-` for stdin. */
  readonly input: string;
  readonly config: RulesConfig;
  /** Where decisions go, as NDJSON. */
  readonly out: Writable;
  /** Name of `out` for error messages (`stdout` or a path). */
  readonly outName: string;
  /** Where rejected-line records go; when absent, the first few are shown on stderr. */
  readonly deadLetter?: Writable;
  readonly deadLetterName?: string;
  readonly stderr: Writable;
  /** The stream `-` stands for (process.stdin unless given). */
  readonly stdin?: AsyncIterable<Uint8Array>;
  /** Show a live progress line on stderr (meant for a terminal only). */
  readonly progress: boolean;
  /** No progress, no summary, no rejected lines on stderr. */
  readonly quiet: boolean;
  /** Wall clock in milliseconds, for progress and speed only; decisions never see it. */
  readonly now: () => number;
}

/** What a replay did, for the summary and for tests. */
export interface ReplaySummary {
  /** Non-empty input lines, accepted or not. */
  readonly eventsRead: number;
  /** Events the engine took (from its own stats). */
  readonly accepted: number;
  readonly rejected: number;
  /** Rejections counted by the stable head of their reason, most frequent first. */
  readonly rejectedByReason: readonly (readonly [reason: string, count: number])[];
  /** Rejected lines that went neither to a dead-letter file nor to stderr (only counted). */
  readonly rejectedNotShown: number;
  readonly late: number;
  readonly unknownVersion: number;
  readonly decisionsByType: Readonly<Record<string, number>>;
  readonly decisions: number;
  readonly bytesRead: number;
  readonly elapsedMs: number;
  /** The reader of our output went away (a closed pipe, as with `| head`); the replay stopped there. */
  readonly outputClosed: boolean;
}

/** Writing decisions or rejected records failed, other than by the reader going away. */
export class OutputError extends Error {
  /** A full disk or a revoked permission does not fix itself within a replay. */
  readonly retriable = false;
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    super(`cannot write ${target}: ${describeIoError(cause)}`, { cause });
    this.name = 'OutputError';
  }
}

/** Rejected lines shown on stderr when no dead-letter file is given; the rest are only counted. */
export const STDERR_REJECTED_LIMIT = 20;
const SAMPLE_CHARS = 200;
/** Longer lines are not held in memory; they are rejected with their first bytes as the sample. */
const MAX_LINE_BYTES = 1 << 20;
const PROGRESS_EVERY_MS = 250;

/** Runs a replay to the end of its input (or until its output is closed) and returns what it did. */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const startedMs = options.now();
  const out = new NdjsonWriter(options.out, options.outName);
  const deadLetter = options.deadLetter === undefined ? undefined : new NdjsonWriter(options.deadLetter, options.deadLetterName ?? 'dead-letter file');
  const status = new StatusLine(options.stderr, options.progress && !options.quiet, options.now);

  const decisionsByType: Record<string, number> = {};
  let decisions = 0;
  const engine = createEngine(options.config, (decision: Decision) => {
    decisionsByType[decision.type] = (decisionsByType[decision.type] ?? 0) + 1;
    decisions++;
    out.write(JSON.stringify(decision));
  });

  let eventsRead = 0;
  let rejected = 0;
  let rejectedNotShown = 0;
  const rejectedByReason = new Map<string, number>();
  const reject = (line: number, reason: string, sample: string): void => {
    rejected++;
    const reasonKey = reasonClass(reason);
    rejectedByReason.set(reasonKey, (rejectedByReason.get(reasonKey) ?? 0) + 1);
    const record = JSON.stringify({ type: 'rejected', line, reason, sample: cutText(sample, SAMPLE_CHARS) });
    if (deadLetter !== undefined) deadLetter.write(record);
    else if (!options.quiet && rejected <= STDERR_REJECTED_LIMIT) status.print(record);
    else rejectedNotShown++;
  };

  const reader = openLines(options.input, { stdin: options.stdin, maxLineBytes: MAX_LINE_BYTES });
  for await (const batch of reader) {
    const { lines, lineNumbers } = batch;
    eventsRead += lines.length + batch.overlong.length + (batch.notUtf8?.length ?? 0);
    for (const line of batch.overlong) reject(line.lineNumber, `line too long (${line.bytes} bytes, at most ${MAX_LINE_BYTES})`, line.sample);
    for (const line of batch.notUtf8 ?? []) reject(line.lineNumber, 'not valid UTF-8', line.sample);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const result = decodeLine(line);
      if (result.ok) engine.push(result.event);
      else reject(lineNumbers[i] as number, result.reason, line);
    }
    // Backpressure: stop reading while a slow reader of our output catches up.
    await Promise.all([out.ready(), deadLetter?.ready()]);
    if (out.closed) break;
    status.progress(reader.bytesRead, reader.totalBytes, eventsRead);
  }
  if (!out.closed) engine.finish();
  await Promise.all([out.flush(), deadLetter?.flush()]);
  status.clear();

  const stats = engine.stats();
  return {
    eventsRead,
    accepted: stats.accepted,
    rejected,
    rejectedNotShown,
    rejectedByReason: [...rejectedByReason].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    late: stats.late,
    unknownVersion: stats.unknownVersion,
    decisionsByType,
    decisions,
    bytesRead: reader.bytesRead,
    elapsedMs: options.now() - startedMs,
    outputClosed: out.closed,
  };
}

/** The end-of-run summary printed on stderr, several short lines. */
export function formatSummary(s: ReplaySummary): string {
  const lines: string[] = [];
  const rejectedDetail = s.rejectedByReason.map(([reason, count]) => `${reason}: ${count}`).join('; ');
  lines.push(
    `vigil replay: ${count(s.eventsRead)} events read, ${count(s.accepted)} accepted, ${count(s.rejected)} rejected` +
      (rejectedDetail === '' ? '' : ` (${rejectedDetail})`),
  );
  if (s.rejectedNotShown > 0) {
    lines.push(`  ${count(s.rejectedNotShown)} more rejected lines not shown (use --dead-letter FILE to keep them all)`);
  }
  lines.push(`  late events dropped: ${count(s.late)}, events of unknown version: ${count(s.unknownVersion)}`);
  const byType = Object.entries(s.decisionsByType)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([type, n]) => `${type}: ${count(n)}`)
    .join(', ');
  lines.push(`  decisions: ${count(s.decisions)}${byType === '' ? '' : ` (${byType})`}`);
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(s.eventsRead / seconds) : 0;
  lines.push(`  elapsed ${seconds.toFixed(2)} s, ${count(rate)} events/s`);
  if (s.outputClosed) lines.push('  output closed early; the replay stopped there');
  return `${lines.join('\n')}\n`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * NDJSON to a stream, in large writes. Records are joined in memory and handed over
 * every 64 KiB; the stream's own buffer signals backpressure through ready().
 */
class NdjsonWriter {
  private pending = '';
  private drained: Promise<void> | undefined;
  private failure: unknown;
  /** The reader went away (EPIPE); further records are dropped. */
  closed = false;

  constructor(
    private readonly stream: Writable,
    private readonly name: string,
  ) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') this.closed = true;
      else this.failure ??= err;
    });
  }

  write(record: string): void {
    this.pending += `${record}\n`;
    if (this.pending.length >= 65_536) this.handOver();
  }

  /** Resolves when the stream can take more; rejects when it has failed. */
  async ready(): Promise<void> {
    if (this.drained !== undefined) await this.drained;
    this.check();
  }

  /** Hands over everything written and waits until the stream has taken it. */
  async flush(): Promise<void> {
    this.handOver();
    if (!this.closed && this.failure === undefined && !this.stream.destroyed) {
      await new Promise<void>((resolve) => this.stream.write('', () => resolve()));
    }
    this.check();
  }

  private handOver(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    if (this.closed || this.failure !== undefined) return;
    if (!this.stream.write(chunk) && this.drained === undefined) {
      this.drained = new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          this.drained = undefined;
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }

  private check(): void {
    if (this.failure !== undefined) throw new OutputError(this.name, this.failure);
  }
}

/** The one-line live progress display, and any other stderr text kept clear of it. */
class StatusLine {
  private shown = false;
  private lastMs = -Infinity;
  private readonly startedMs: number;

  constructor(
    private readonly stderr: Writable,
    private readonly enabled: boolean,
    private readonly now: () => number,
  ) {
    this.startedMs = now();
  }

  progress(bytesRead: number, totalBytes: number | undefined, events: number): void {
    if (!this.enabled) return;
    const nowMs = this.now();
    if (nowMs - this.lastMs < PROGRESS_EVERY_MS) return;
    this.lastMs = nowMs;
    const seconds = Math.max((nowMs - this.startedMs) / 1000, 1e-3);
    const percent = totalBytes !== undefined && totalBytes > 0 ? ` (${Math.min(100, Math.floor((bytesRead / totalBytes) * 100))}%)` : '';
    const text = `${(bytesRead / 1e6).toFixed(1)} MB read${percent}, ${count(events)} events, ${count(Math.round(events / seconds))} events/s`;
    this.stderr.write(`\r\x1b[K${text}`);
    this.shown = true;
  }

  print(text: string): void {
    this.clear();
    this.stderr.write(`${text}\n`);
  }

  clear(): void {
    if (!this.shown) return;
    this.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
