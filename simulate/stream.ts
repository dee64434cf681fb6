/**
 * Plays a generated scenario into a live service: event times moved to a chosen start,
 * events sent when their emission time comes round on the wall clock (at some speed), in
 * NDJSON batches over HTTP. Each send is awaited before the next, so a slow receiver slows
 * the stream instead of letting batches pile up; the summary says how far behind it fell.
 *
 * Delivery caveat: a batch whose response is lost (timeout, reset after the service read
 * it) is sent again, so a receiver may see a batch twice; it never sees one out of order.
 */
import type { TimedEvent, WireEvent } from './generate.js';

/** Wire event of `timed` with its `ts` moved so the scenario starts at `startMs` (epoch ms). */
export function rebaseEvent(timed: TimedEvent, startMs: number): WireEvent {
  // Event time comes from the offset, not from shifting the old `ts`, so the result does not
  // depend on the scenario's fixed date, and a late event keeps its early `ts`. Times inside
  // webhook bodies (`startsAt` and the like) stay as generated: the engine judges by `ts`.
  return { ...timed.event, ts: new Date(startMs + timed.tsMs).toISOString() };
}

/** Copies of the wire events with the scenario moved to start at `startMs` (epoch ms), order kept. */
export function rebase(events: readonly TimedEvent[], startMs: number): WireEvent[] {
  checkStartMs(startMs);
  return events.map((e) => rebaseEvent(e, startMs));
}

function checkStartMs(startMs: number): void {
  if (!Number.isFinite(startMs)) throw new RangeError(`startMs must be a finite epoch time in milliseconds, got ${startMs}`);
}

/** Where a stream stands after one batch, for progress lines. */
export interface StreamProgress {
  /** Events handed to `send` so far, this batch included. */
  readonly events: number;
  readonly batches: number;
  /** Events in this batch. */
  readonly batchEvents: number;
  /** Wall time since the stream started. */
  readonly wallMs: number;
  /** How long after its due time this batch's first event was sent. */
  readonly lagMs: number;
}

/** How to pace and deliver a stream. */
export interface StreamOptions {
  /** Scenario milliseconds per wall millisecond: 1 is real time, 60 a minute per second, Infinity no waiting. */
  readonly speed: number;
  /** Least wall time between the starts of two sends, so events due close together share a batch (default 100). */
  readonly batchMs?: number;
  /** Most events in one batch; a backlog larger than this goes out in back-to-back batches (default 5000). */
  readonly maxBatch?: number;
  /** Delivers one batch: NDJSON text, one event per line, newline-terminated. */
  readonly send: (ndjson: string, count: number) => Promise<void>;
  /** Wall clock in milliseconds (monotonic by default). */
  readonly now?: () => number;
  /** Waits this many wall milliseconds (a timer by default, cut short by `signal`). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Stops the stream before its next batch; a send in flight that fails because of it ends the stream quietly. */
  readonly signal?: AbortSignal;
  /** When given, event `ts` are rebased so the scenario starts at this epoch ms, batch by batch. */
  readonly startMs?: number;
  /** Called after each delivered batch. */
  readonly onBatch?: (progress: StreamProgress) => void;
}

/** What a stream did. */
export interface StreamSummary {
  /** Events delivered (the batch in flight when an abort hit is not counted). */
  readonly events: number;
  readonly batches: number;
  readonly wallMs: number;
  /** Largest lag of any batch behind its due time: how far a slow receiver held the stream back. */
  readonly maxLagMs: number;
  /** The signal stopped the stream before its last event. */
  readonly aborted: boolean;
}

const DEFAULT_BATCH_MS = 100;
const DEFAULT_MAX_BATCH = 5000;

/**
 * Sends `events` (sorted by `emitMs`) so each goes out once the wall time since the start
 * reaches `emitMs / speed`, grouped into batches and awaiting every send.
 */
export async function streamEvents(events: readonly TimedEvent[], options: StreamOptions): Promise<StreamSummary> {
  const { speed, send, signal, startMs, onBatch } = options;
  const batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!(speed > 0)) throw new RangeError(`speed must be above 0 (Infinity for no waiting), got ${speed}`);
  if (!(batchMs >= 0) || !Number.isFinite(batchMs)) throw new RangeError(`batchMs must be a finite number of milliseconds >= 0, got ${batchMs}`);
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a whole number >= 1, got ${maxBatch}`);
  if (startMs !== undefined) checkStartMs(startMs);
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => sleepUnlessAborted(ms, signal));
  // A function, not `signal?.aborted` inline: the flag changes during awaits, which narrowing ignores.
  const isAborted = (): boolean => signal?.aborted === true;

  // Wall offset at which an event is due; Infinity speed makes everything due at once.
  const dueAt = (e: TimedEvent): number => (speed === Infinity ? 0 : e.emitMs / speed);
  const startedMs = now();
  let next = 0;
  let sent = 0;
  let batches = 0;
  let maxLagMs = 0;
  let nextSendAtMs = 0;
  let aborted = false;

  while (next < events.length) {
    if (isAborted()) {
      aborted = true;
      break;
    }
    const head = events[next] as TimedEvent;
    const elapsedMs = now() - startedMs;
    const wakeMs = Math.max(nextSendAtMs, dueAt(head));
    if (elapsedMs < wakeMs) {
      // Look again after waking rather than trusting the sleep: it may end early on abort.
      await sleep(wakeMs - elapsedMs);
      continue;
    }

    let end = next;
    const lines: string[] = [];
    while (end < events.length && end - next < maxBatch) {
      const e = events[end] as TimedEvent;
      if (dueAt(e) > elapsedMs) break;
      lines.push(JSON.stringify(startMs === undefined ? e.event : rebaseEvent(e, startMs)));
      end++;
    }
    const lagMs = elapsedMs - dueAt(head);
    try {
      await send(`${lines.join('\n')}\n`, lines.length);
    } catch (err) {
      if (isAborted()) {
        aborted = true;
        break;
      }
      throw err;
    }
    const full = end < events.length && end - next === maxBatch && dueAt(events[end] as TimedEvent) <= elapsedMs;
    next = end;
    sent += lines.length;
    batches++;
    maxLagMs = Math.max(maxLagMs, lagMs);
    // A full batch means a backlog: the next one goes out at once instead of adding a pause to the lag.
    nextSendAtMs = full ? 0 : elapsedMs + batchMs;
    onBatch?.({ events: sent, batches, batchEvents: lines.length, wallMs: now() - startedMs, lagMs });
  }
  return { events: sent, batches, wallMs: now() - startedMs, maxLagMs, aborted };
}

/** A timer that resolves early (never rejects) when the signal aborts. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// ---- HTTP delivery ---------------------------------------------------------------

/** A batch could not be delivered; `retriable` says whether sending it again later may work. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    /** HTTP status of the last answer, when there was one. */
    readonly status: number | undefined,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SendError';
  }
}

/** Where and how an HTTP sender posts batches. */
export interface HttpSenderOptions {
  /** Path appended to the base URL (default `/v1/events`). */
  readonly path?: string;
  /** Attempts after the first one for connection errors, timeouts, 5xx and 429 (default 3). */
  readonly retries?: number;
  /** Time allowed for one attempt, answer body included (default 10 000). */
  readonly timeoutMs?: number;
  /** Cancels an attempt in flight and any backoff wait; the send then fails without retrying. */
  readonly signal?: AbortSignal;
  /** Waits out a backoff (a timer by default, cut short by `signal`). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_PATH = '/v1/events';
const DEFAULT_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 2_000;
const BODY_EXCERPT_CHARS = 300;

/** A `send` for `streamEvents` that POSTs each batch as NDJSON to `baseUrl` + path, retrying what may pass later. */
export function httpSender(baseUrl: string, options: HttpSenderOptions = {}): (ndjson: string, count: number) => Promise<void> {
  // Concatenated rather than resolved with `new URL(path, base)`, which would drop a base path prefix.
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}${options.path ?? DEFAULT_PATH}`).href;
  const retries = options.retries ?? DEFAULT_RETRIES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = options.signal;
  const sleep = options.sleep ?? ((ms: number) => sleepUnlessAborted(ms, signal));
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be a whole number >= 0, got ${retries}`);
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be above 0, got ${timeoutMs}`);

  return async (ndjson, count) => {
    const what = `POST ${url} (${count} events)`;
    for (let attempt = 0; ; attempt++) {
      const failure = await postOnce(url, ndjson, timeoutMs, signal, what);
      if (failure === undefined) return;
      if (!failure.error.retriable || attempt >= retries) {
        if (attempt === 0) throw failure.error;
        throw new SendError(`${failure.error.message} (after ${attempt + 1} attempts)`, failure.error.retriable, failure.error.status, failure.error.cause);
      }
      await sleep(backoffMs(attempt, failure.retryAfterMs));
      if (signal?.aborted === true) throw new SendError(`${what}: aborted`, false, undefined, signal.reason);
    }
  };
}

interface Failure {
  readonly error: SendError;
  /** What a 429/503 `retry-after` header asked for, in ms. */
  readonly retryAfterMs?: number;
}

/** One attempt; a failure is a value so the retry loop can decide on it. */
async function postOnce(url: string, ndjson: string, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<Failure | undefined> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const attemptSignal = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  let status: number | undefined;
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson, signal: attemptSignal });
    status = res.status;
    // The body is read even on success: an unread body holds the keep-alive connection.
    const body = await res.text();
    if (res.ok) return undefined;
    const retriable = status >= 500 || status === 429;
    const excerpt = body.slice(0, BODY_EXCERPT_CHARS);
    const error = new SendError(`${what}: ${status} ${res.statusText}${excerpt === '' ? '' : `: ${excerpt}`}`, retriable, status);
    const retryAfterMs = retryAfterOf(res.headers.get('retry-after'));
    return retryAfterMs === undefined ? { error } : { error, retryAfterMs };
  } catch (err) {
    if (signal?.aborted === true) return { error: new SendError(`${what}: aborted`, false, status, err) };
    const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(err);
    return { error: new SendError(`${what}: ${reason}`, true, status, err) };
  }
}

/** Exponential backoff with jitter, bounded; a server's `retry-after` is honoured up to the same bound. */
function backoffMs(attempt: number, retryAfterMs: number | undefined): number {
  const ceilingMs = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  // Half fixed, half random: senders that failed together do not retry together.
  const jitteredMs = ceilingMs / 2 + Math.random() * (ceilingMs / 2);
  return retryAfterMs === undefined ? jitteredMs : Math.min(BACKOFF_MAX_MS, Math.max(jitteredMs, retryAfterMs));
}

function retryAfterOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const dateMs = Date.parse(header);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - Date.now());
}

/** `fetch failed` alone says nothing; the useful part (ECONNREFUSED, ENOTFOUND) sits in its cause. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code === undefined ? cause.message : `${code} ${cause.message}`}`;
  }
  return err.message;
}
