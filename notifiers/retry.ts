/**
 * The one retry mechanism of notifications: exponential backoff with full jitter, bounded
 * in attempts and in wait, and only for failures that say trying again can help. A wait
 * the receiver asked for (Retry-After) is honoured, up to the same bound. A channel that
 * keeps failing that way (an outage of Slack, of the mail relay) is tried on, at the
 * longest wait, for up to `outageMs` of waiting in all before the notification is given up:
 * the channel's later notifications wait behind it, so that all are told, in order, once it
 * answers again.
 */
import { NotifyError } from './notifier.js';

/** How hard to try. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** Upper bound of the first wait; each later one doubles it. */
  readonly baseMs: number;
  /** No wait is longer than this, a receiver's Retry-After included. */
  readonly maxWaitMs: number;
  /**
   * Past the attempts above, a failure that may pass is tried again (every maxWaitMs or so)
   * until the waits add up to this much; 0 or absent: give up after the attempts.
   */
  readonly outageMs?: number;
}

/** The default: five attempts over about half a minute, then on through an outage of up to an hour. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 500, maxWaitMs: 15_000, outageMs: 3_600_000 };

/** What a retry loop needs from outside (injected so tests need not wait). */
export interface RetryClock {
  /** Waits `ms`; resolves early when `signal` is aborted. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/** Real waits and Math.random. */
export const REAL_CLOCK: RetryClock = {
  sleep: (ms, signal) => new Promise((resolve) => {
    if (signal?.aborted === true) { resolve(); return; }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  }),
  random: Math.random,
};

/** Whether a failure may pass if the same attempt is made again. */
export function isRetriable(err: unknown): boolean {
  return err instanceof NotifyError && err.retriable;
}

/** The wait before attempt `attempt + 1` (attempt counts from 1), after `err`. */
export function backoffMs(policy: RetryPolicy, attempt: number, err: unknown, random: () => number): number {
  const ceiling = Math.min(policy.maxWaitMs, policy.baseMs * 2 ** (attempt - 1));
  const jittered = random() * ceiling;
  const asked = err instanceof NotifyError && err.retryAfterMs !== undefined ? err.retryAfterMs : 0;
  return Math.min(policy.maxWaitMs, Math.max(jittered, asked));
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the retries run out (the attempts,
 * then the outage allowance); resolves with the number of attempts made, or rejects with
 * the last failure. `onRetry` hears of each failure that is tried again. Once `signal` is
 * aborted no new attempt is made: the last failure is the answer.
 */
export async function withRetry(
  attempt: () => Promise<void>,
  policy: RetryPolicy,
  clock: RetryClock,
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void,
  signal?: AbortSignal,
): Promise<number> {
  let waitedMs = 0;
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return n;
    } catch (err) {
      if (!isRetriable(err) || isAborted(signal)) throw err;
      const wait = backoffMs(policy, n, err, clock.random);
      const outageMs = policy.outageMs ?? 0;
      if (n >= policy.attempts && (outageMs <= 0 || waitedMs + wait > outageMs)) throw err;
      onRetry?.(err, n, wait);
      await clock.sleep(wait, signal);
      waitedMs += wait;
      if (isAborted(signal)) throw err;
    }
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
