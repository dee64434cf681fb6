/**
 * What a notifier is to the service: something that tells people about incidents and
 * verdicts. The delivery stage (delivery.ts) routes each decision to the notifiers that
 * should hear of it, retries what failed for a reason that passes, and keeps a log so
 * that no decision is told twice; a notifier only makes one attempt and says how it went.
 */
import type { Decision } from '../rules/decisions.js';

/** A channel people are told through (console, Slack, email, PagerDuty, a webhook). */
export interface Notifier {
  /** Channel name, as routes and a page's `channels` name it (`console`, `slack`, `email`, ...). */
  readonly channel: string;
  /**
   * Makes one attempt to tell people about one decision; resolves once it was handed over.
   * Decisions a notifier has nothing to say about resolve at once. Failures reject with a
   * NotifyError that says whether trying again can help.
   */
  notify(decision: Decision): Promise<void>;
}

/**
 * A failed notification. `retriable` says whether the same attempt may succeed later (a
 * timeout, a 5xx, a 429); `retryAfterMs` is the wait the receiver asked for, if any. The
 * message never holds a secret (token, routing key, password, signing key).
 */
export class NotifyError extends Error {
  constructor(
    readonly channel: string,
    message: string,
    readonly retriable: boolean,
    options: { cause?: unknown; status?: number; retryAfterMs?: number } = {},
  ) {
    super(`${channel}: ${message}`, { cause: options.cause });
    this.name = 'NotifyError';
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** HTTP status (or SMTP reply code) of the failed attempt, when there was one. */
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
}

/**
 * Replaces every occurrence of the secrets in a text with `[redacted]`: error texts of
 * libraries may quote a URL or header that holds one.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s !== undefined && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
