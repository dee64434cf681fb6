/**
 * The webhook notifier: POSTs each decision record, exactly as the engine wrote it, to a
 * URL of the operator's choosing, signed so the receiver can tell it came from Vigil.
 *
 * What a receiver should do with a delivery:
 * - check `x-vigil-signature` with `verifyWebhookSignature` (or the same HMAC-SHA256 over
 *   `<x-vigil-timestamp>.<raw body>`), comparing in constant time;
 * - reject a timestamp further than a few minutes from its own clock: the signature covers
 *   the timestamp, so an attacker who captured an old delivery cannot make it look new;
 * - drop a repeated `x-vigil-delivery`: delivery is at least once (a retry after a timeout
 *   may repeat a delivery the receiver did get), and the id is the same for the same record.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Decision } from '../rules/decisions.js';
import type { Notifier } from './notifier.js';
import { checkedTimeout, checkedUrl, postOnce } from './http.js';

/** Where a `WebhookNotifier` posts, how it signs, and which decisions it sends. */
export interface WebhookNotifierOptions {
  readonly url: string;
  /** Signing secret; without it deliveries go unsigned (no `x-vigil-signature`). */
  readonly secret?: string;
  /** Extra request headers (an Authorization token, say); their values are kept out of error texts. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Decision types sent; the rest resolve at once. */
  readonly types?: readonly Decision['type'][];
  /** Wall clock in epoch ms, for the signed timestamp and for Retry-After dates. */
  readonly now?: () => number;
}

/** Decision types a webhook sends unless told otherwise: suppressions are noise to most receivers. */
export const DEFAULT_WEBHOOK_TYPES: readonly Decision['type'][] = ['page', 'update', 'resolve', 'verdict'];

/** How far a receiver lets a signed timestamp stray from its own clock, by default, in seconds. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

const DEFAULT_TIMEOUT_MS = 10_000;
// A shorter secret is guessable offline from one captured delivery, since the body is known.
const MIN_SECRET_CHARS = 16;

/** Sends decisions to a generic HTTP endpoint, one signed POST per decision. */
export class WebhookNotifier implements Notifier {
  /** Channel name, as routes and a page's `channels` name it. */
  readonly channel = 'webhook';
  private readonly url: string;
  private readonly secret: string | undefined;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly timeoutMs: number;
  private readonly types: ReadonlySet<Decision['type']>;
  private readonly now: () => number;

  constructor(options: WebhookNotifierOptions) {
    this.url = checkedUrl(this.channel, options.url);
    if (options.secret !== undefined && options.secret.length < MIN_SECRET_CHARS) {
      // An empty secret from an unset environment variable must not pass for signing.
      throw new Error(`webhook: the signing secret must have at least ${MIN_SECRET_CHARS} characters; leave it out to send unsigned`);
    }
    this.secret = options.secret;
    this.headers = checkedHeaders(this.channel, options.headers ?? {});
    this.timeoutMs = checkedTimeout(this.channel, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.types = new Set(options.types ?? DEFAULT_WEBHOOK_TYPES);
    this.now = options.now ?? Date.now;
  }

  /** Makes one signed POST of the decision, or resolves at once when its type is not sent. */
  async notify(decision: Decision): Promise<void> {
    if (!this.types.has(decision.type)) return;
    const body = JSON.stringify(decision);
    const timestamp = String(Math.floor(this.now() / 1000));
    const headers: Record<string, string> = {
      ...this.headers,
      'content-type': 'application/json',
      'x-vigil-timestamp': timestamp,
      'x-vigil-delivery': webhookDeliveryId(body),
    };
    if (this.secret !== undefined) headers['x-vigil-signature'] = signWebhook(body, timestamp, this.secret);
    await postOnce({
      channel: this.channel,
      url: this.url,
      body,
      headers,
      timeoutMs: this.timeoutMs,
      secrets: [this.secret, ...Object.values(this.headers)],
      now: this.now,
    });
  }
}

/**
 * The delivery id of a webhook body: a hash of the record itself, so a retried or replayed
 * decision carries the same id and two different decisions never share one. It equals the
 * delivery stage's `decisionId`, so a receiver's id can be found in Vigil's failure list.
 */
export function webhookDeliveryId(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

/** The `x-vigil-signature` value for a body sent at `timestamp` (unix seconds, as text). */
export function signWebhook(body: string, timestamp: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Whether a delivery is genuine and fresh: the signature matches the raw body and timestamp
 * under the secret, and the timestamp is within `toleranceS` of `nowS` either way.
 */
export function verifyWebhookSignature(
  body: string,
  timestamp: string,
  signature: string,
  secret: string,
  toleranceS: number = DEFAULT_SIGNATURE_TOLERANCE_S,
  nowS: number = Math.floor(Date.now() / 1000),
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature);
  if (match?.[1] === undefined) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// Names are lower-cased so the notifier's own headers replace a same-named one instead of
// being joined to it (`Content-Type` and `content-type` would both be sent, comma-joined).
function checkedHeaders(channel: string, headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    try {
      new Headers([[name, value]]);
    } catch {
      // The value is left out: it is likely a token.
      throw new Error(`${channel}: header "${name}" is not a valid HTTP header`);
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}
