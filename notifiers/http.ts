/**
 * The one HTTP attempt of the HTTP notifiers (webhook, PagerDuty): a single POST with a
 * timeout, whose failures map to NotifyError the same way for all of them, with secrets
 * kept out of every message even when a server echoes them back.
 */
import { NotifyError, redact } from './notifier.js';

/** One HTTP POST as the HTTP notifiers make it. */
export interface HttpAttempt {
  readonly channel: string;
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Texts that must not appear in an error message (keys, tokens), even when a server echoes them. */
  readonly secrets: readonly (string | undefined)[];
  /** Wall clock in epoch ms, to turn a Retry-After date into a wait. */
  readonly now: () => number;
}

// Enough of an error body to explain it; a server's HTML error page is cut well before this.
const BODY_EXCERPT_CHARS = 200;
// Read a little past the excerpt so a secret straddling the cut is still whole when redacted.
const BODY_READ_BYTES = 8 * 1024;

/**
 * Makes one POST and resolves on a 2xx; otherwise rejects with a NotifyError: retriable for
 * a timeout, a connection failure, a 5xx or a 429 (with the Retry-After it asked for), not
 * retriable for a redirect or another 4xx. Error texts have the secrets redacted.
 */
export async function postOnce(attempt: HttpAttempt): Promise<void> {
  const { channel, timeoutMs, secrets } = attempt;
  const timeout = AbortSignal.timeout(timeoutMs);
  let status: number | undefined;
  try {
    const res = await fetch(attempt.url, {
      method: 'POST',
      headers: attempt.headers,
      body: attempt.body,
      signal: timeout,
      // Following a 301/302 would turn the POST into a GET, and would send a signed body
      // to wherever the redirect points; the operator should configure the final URL.
      redirect: 'manual',
    });
    status = res.status;
    if (res.ok) {
      // Read so the keep-alive connection can be reused; the event was accepted whatever
      // happens to the rest of the body.
      await readCapped(res).catch(() => undefined);
      return;
    }
    const excerpt = cleanExcerpt(redact(await readCapped(res), secrets));
    const text = `HTTP ${status}${res.statusText === '' ? '' : ` ${res.statusText}`}${excerpt === '' ? '' : `: ${excerpt}`}`;
    if (status >= 300 && status < 400) {
      throw new NotifyError(channel, `${text} (redirects are not followed; configure the final URL)`, false, { status });
    }
    const retriable = status === 429 || status >= 500;
    const retryAfterMs = retriable ? retryAfterMsOf(res.headers.get('retry-after'), attempt.now()) : undefined;
    throw new NotifyError(channel, text, retriable, { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  } catch (err) {
    if (err instanceof NotifyError) throw err;
    // A timeout can strike while the error body is read, after the status is known.
    if (timeout.aborted) throw new NotifyError(channel, `no answer within ${timeoutMs} ms`, true, { cause: err, status });
    throw new NotifyError(channel, redact(describeFetchError(err), secrets), true, { cause: err, status });
  }
}

/** The delay a Retry-After header asks for, in ms: either delay-seconds or an HTTP date. */
function retryAfterMsOf(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const dateMs = Date.parse(value);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}

/** The start of a response body, at most BODY_READ_BYTES; a huge error page is not buffered whole. */
async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    while (bytes < BODY_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.byteLength;
    }
  } finally {
    if (bytes >= BODY_READ_BYTES) await reader.cancel().catch(() => undefined);
  }
  // A multi-byte character cut at the end decodes as U+FFFD rather than throwing.
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, BODY_READ_BYTES));
}

// Error texts go to one-line logs; a newline or escape sequence in a body must not break them.
function cleanExcerpt(body: string): string {
  const flat = body.replace(/\p{Cc}/gu, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= BODY_EXCERPT_CHARS ? flat : `${flat.slice(0, BODY_EXCERPT_CHARS)}…`;
}

/** `fetch failed` alone says nothing; the useful part (ECONNREFUSED, ENOTFOUND) sits in its cause. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return `request failed: ${String(err)}`;
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code === undefined ? cause.message : `${code} ${cause.message}`}`;
  }
  return err.message;
}

/**
 * A URL fetch can use. Checked once here so that at notify time only the network can make
 * fetch throw, and such errors can all be retriable. The URL is left out of the message:
 * webhook URLs often carry a token.
 */
export function checkedUrl(channel: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${channel}: the URL is not a valid absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${channel}: the URL must be http or https, got ${parsed.protocol}`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw new Error(`${channel}: the URL must not hold credentials (fetch refuses them); send them in a header`);
  }
  return url;
}

/** A per-attempt timeout AbortSignal.timeout accepts. */
export function checkedTimeout(channel: string, timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error(`${channel}: timeoutMs must be a positive integer, got ${timeoutMs}`);
  return timeoutMs;
}
