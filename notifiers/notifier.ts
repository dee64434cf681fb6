/**
 * What a notifier is to the service: something that tells people about incidents and
 * verdicts. The service hands every decision to every notifier; each one keeps what it
 * cares about and ignores the rest.
 */
import type { Decision } from '../rules/decisions.js';

/** A channel people are told through (console, Slack, email, PagerDuty, a webhook). */
export interface Notifier {
  /** Channel name, as a page's `channels` lists it. */
  readonly channel: string;
  /** Tells people about one decision; resolves once it has been handed over. */
  notify(decision: Decision): Promise<void>;
}
