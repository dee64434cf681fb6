/**
 * The one retry mechanism of notifications: exponential backoff with full jitter, bounded
 * in attempts and in wait, and only for failures that say trying again can help. A wait
 * the receiver asked for (Retry-After) is honoured, up to the same bound.
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
}

/** The default: five attempts over about half a minute at most. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 500, maxWaitMs: 15_000 };

/** What a retry loop needs from outside (injected so tests need not wait). */
export interface RetryClock {
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/** Real waits and Math.random. */
export const REAL_CLOCK: RetryClock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
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
 * Runs `attempt` until it succeeds, fails for good, or the attempts run out; resolves with
 * the number of attempts made, or rejects with the last failure. `onRetry` hears of each
 * failure that is tried again.
 */
export async function withRetry(
  attempt: () => Promise<void>,
  policy: RetryPolicy,
  clock: RetryClock,
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void,
): Promise<number> {
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return n;
    } catch (err) {
      if (!isRetriable(err) || n >= policy.attempts) throw err;
      const wait = backoffMs(policy, n, err, clock.random);
      onRetry?.(err, n, wait);
      await clock.sleep(wait);
    }
  }
}
