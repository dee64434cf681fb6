/**
 * The delivery stage: every decision to the channels that should hear of it, each channel
 * in order and on its own (a slow or failing one delays only itself), with retries for
 * failures that may pass, and a notification log so that a decision retried, replayed or
 * seen again after a restart is told at most once per channel. Deliveries that fail for
 * good are kept, with their reason, for the API and the metrics; none is dropped silently.
 *
 * Pages name their channels (the core's routing decides them); updates and the resolve of
 * an incident go where its page went, except updates the core marked quiet (they only
 * corroborate what was told), which are counted per channel and not told; verdicts and
 * suppressions go to the channels routing gives their service, and each notifier keeps what
 * it cares about.
 */
import { createHash } from 'node:crypto';
import type { Decision } from '../rules/decisions.js';
import { type RoutingConfig, channelsFor } from '../rules/routing.js';
import type { Notifier } from './notifier.js';
import { DEFAULT_RETRY, REAL_CLOCK, type RetryClock, type RetryPolicy, isRetriable, withRetry } from './retry.js';

/** How one delivery ended. */
export type DeliveryOutcome = 'delivered' | 'failed';

/** A delivery that failed for good, as the API shows it. */
export interface FailedDelivery {
  readonly channel: string;
  readonly decision: Decision['type'];
  readonly incident?: string;
  readonly service?: string;
  readonly ts: string;
  readonly attempts: number;
  readonly reason: string;
  /** Wall time it was given up, ISO-8601. */
  readonly failedAt: string;
}

/**
 * What was told to whom. `claim` is atomic: of several claims of one key (retries, replays,
 * replicas sharing a log) only one wins until it is released by a failure.
 */
export interface NotificationLog {
  /** Takes the right to deliver `key`; false when it was delivered already or is being delivered. */
  claim(key: string): Promise<boolean>;
  /** Records how the delivery of a claimed key ended; a failure releases the claim. */
  settle(key: string, outcome: DeliveryOutcome): Promise<void>;
  /** Remembers where an incident's page went, for its updates and resolve. */
  setIncidentChannels(incident: string, channels: readonly string[]): Promise<void>;
  incidentChannels(incident: string): Promise<readonly string[] | undefined>;
}

/** Keys remembered by the memory log; the oldest are forgotten first. */
const MEMORY_LOG_KEYS = 100_000;

/** The notification log of one process (embedded mode and tests). */
export class MemoryNotificationLog implements NotificationLog {
  private readonly keys = new Map<string, 'claimed' | 'delivered'>();
  private readonly channels = new Map<string, readonly string[]>();

  claim(key: string): Promise<boolean> {
    if (this.keys.has(key)) return Promise.resolve(false);
    this.keys.set(key, 'claimed');
    if (this.keys.size > MEMORY_LOG_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    return Promise.resolve(true);
  }

  settle(key: string, outcome: DeliveryOutcome): Promise<void> {
    if (outcome === 'delivered') this.keys.set(key, 'delivered');
    else this.keys.delete(key);
    return Promise.resolve();
  }

  setIncidentChannels(incident: string, channels: readonly string[]): Promise<void> {
    this.channels.set(incident, channels);
    if (this.channels.size > MEMORY_LOG_KEYS) this.channels.delete(this.channels.keys().next().value as string);
    return Promise.resolve();
  }

  incidentChannels(incident: string): Promise<readonly string[] | undefined> {
    return Promise.resolve(this.channels.get(incident));
  }
}

/** Something to log problems to (a pino logger fits). */
export interface DeliveryLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the delivery stage is made of. */
export interface DeliveryOptions {
  /** Notifiers by channel name, as routes and pages name them. */
  readonly channels: ReadonlyMap<string, Notifier>;
  readonly routing: RoutingConfig;
  /** Channels of what no route matches (the core's `incidents.channels`). */
  readonly fallback: readonly string[];
  readonly log: NotificationLog;
  readonly logger: DeliveryLogger;
  readonly retry?: RetryPolicy;
  readonly clock?: RetryClock;
  /** Wall clock, for the time a failure was given up. */
  readonly now?: () => number;
  /** Hears of every delivery's end, with the time it took (first attempt to end, retries included). */
  readonly onDelivered?: (channel: string, outcome: DeliveryOutcome, seconds: number) => void;
}

/** Counters of the delivery stage. */
export interface DeliveryStats {
  delivered: number;
  failed: number;
  retried: number;
  /** Deliveries skipped because the log had them already (replays, retries of a decision). */
  duplicates: number;
  /** Updates marked quiet (they only corroborate what was told): recorded and published, not told to the channel. */
  quiet: number;
  /** Decisions for channels that no notifier is configured for. */
  unknownChannel: number;
  /** Notifications waiting for their channel or being tried now (behind a channel that keeps failing, they add up). */
  pending: number;
  /** The same counts per channel name. */
  byChannel: Record<string, { delivered: number; failed: number; retried: number; duplicates: number; quiet: number; pending: number }>;
}

/** Failures kept for the API; the oldest are forgotten first. */
const FAILURES_KEPT = 1_000;

/** Routes decisions to notifiers, retries, and remembers what was told. */
export class Delivery {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly failedDeliveries: FailedDelivery[] = [];
  private readonly counters: DeliveryStats = { delivered: 0, failed: 0, retried: 0, duplicates: 0, quiet: 0, unknownChannel: 0, pending: 0, byChannel: {} };
  /** Aborted when the service stops: retries waiting out an outage give up at once. */
  private readonly stopping = new AbortController();
  private readonly retry: RetryPolicy;
  private readonly clock: RetryClock;
  private readonly now: () => number;

  constructor(private readonly options: DeliveryOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.clock = options.clock ?? REAL_CLOCK;
    this.now = options.now ?? Date.now;
  }

  /** Hands one decision over; never throws, never waits for a channel. */
  send(decision: Decision): void {
    // Decisions are routed one after another, so that each channel gets them in order (a
    // page before its updates) even when looking up where an incident went takes a while.
    this.routing = this.routing.then(async () => {
      let names: readonly string[];
      try {
        names = await this.channelsOf(decision);
      } catch (err) {
        names = this.options.fallback;
        this.options.logger.error({ decision: decision.type, err: describe(err) }, 'routing failed; using the default channels');
      }
      for (const name of names) {
        if (decision.type === 'update' && decision.quiet !== undefined) {
          // Counted per channel, so that what was not told is visible where what was told is.
          this.counters.quiet++;
          this.channelCounters(name).quiet++;
        } else {
          this.enqueue(name, decision);
        }
      }
    });
  }

  private routing: Promise<void> = Promise.resolve();

  /** Resolves once everything sent so far has been delivered or given up. */
  async drain(): Promise<void> {
    await this.routing;
    // New work may be queued while waiting: loop until the queues stand still.
    for (;;) {
      const pending = [...this.queues.values()];
      await Promise.all(pending);
      if ([...this.queues.values()].every((q, i) => q === pending[i])) return;
    }
  }

  /**
   * Lets what was sent be delivered for up to `graceMs`, then stops retrying: what a
   * channel still refuses is given up and kept, with the reason. Resolves once every queue
   * has ended.
   */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); })]);
    clearTimeout(timer);
    this.stopping.abort();
    await this.drain();
  }

  /** Deliveries given up, most recent last. */
  failures(): readonly FailedDelivery[] {
    return [...this.failedDeliveries];
  }

  stats(): Readonly<DeliveryStats> {
    const byChannel: DeliveryStats['byChannel'] = {};
    for (const [name, c] of Object.entries(this.counters.byChannel)) byChannel[name] = { ...c };
    return { ...this.counters, byChannel };
  }

  private channelCounters(name: string): DeliveryStats['byChannel'][string] {
    return (this.counters.byChannel[name] ??= { delivered: 0, failed: 0, retried: 0, duplicates: 0, quiet: 0, pending: 0 });
  }

  private async channelsOf(d: Decision): Promise<readonly string[]> {
    switch (d.type) {
      case 'page':
        await this.options.log.setIncidentChannels(d.incident, d.channels);
        return d.channels;
      case 'update':
      case 'resolve':
        return (await this.options.log.incidentChannels(d.incident)) ?? this.options.fallback;
      case 'verdict':
        return channelsFor({ service: d.service, severity: d.verdict === 'FAIL' ? 'critical' : 'info', ts: Date.parse(d.ts) }, this.options.routing, this.options.fallback);
      case 'suppressed':
        return d.service === undefined ? this.options.fallback : channelsFor({ service: d.service, severity: 'info', ts: Date.parse(d.ts) }, this.options.routing, this.options.fallback);
    }
  }

  private enqueue(name: string, d: Decision): void {
    const notifier = this.options.channels.get(name);
    if (!notifier) {
      this.counters.unknownChannel++;
      this.options.logger.warn({ channel: name, decision: d.type }, 'no notifier configured for this channel');
      return;
    }
    const previous = this.queues.get(name) ?? Promise.resolve();
    const perChannel = this.channelCounters(name);
    this.counters.pending++;
    perChannel.pending++;
    this.queues.set(name, previous.then(() => this.deliver(name, notifier, d)).finally(() => {
      this.counters.pending--;
      perChannel.pending--;
    }));
  }

  /** Notifications held because the notification log cannot be reached (Redis down), now. */
  heldForLog(): number {
    return this.waitingForLog;
  }

  private waitingForLog = 0;

  /**
   * One step on the notification log, tried until it answers: telling a channel without the
   * log could tell it twice, so the channel's queue holds meanwhile. Undefined once the
   * service stops with the log still unreachable.
   */
  private async logged<T>(name: string, d: Decision, step: () => Promise<T>): Promise<T | undefined> {
    for (let n = 1; ; n++) {
      try {
        const result = await step();
        if (n > 1) this.waitingForLog--;
        return result;
      } catch (err) {
        if (n === 1) this.waitingForLog++;
        if (n === 1 || n % 10 === 0) this.options.logger.warn({ channel: name, decision: d.type, attempt: n, err: describe(err) }, 'the notification log cannot be reached; holding the notification');
        if (this.stopping.signal.aborted) {
          this.waitingForLog--;
          return undefined;
        }
        await this.clock.sleep(Math.min(LOG_RETRY_MAX_MS, this.retry.baseMs * 2 ** Math.min(n - 1, 10)), this.stopping.signal);
      }
    }
  }

  private async deliver(name: string, notifier: Notifier, d: Decision): Promise<void> {
    const key = `${name}|${decisionId(d)}`;
    const log = this.options.log;
    const perChannel = this.channelCounters(name);
    const claimed = await this.logged(name, d, () => log.claim(key));
    if (claimed === undefined) {
      this.counters.failed++;
      perChannel.failed++;
      this.failedDeliveries.push({
        channel: name, decision: d.type, ts: d.ts, attempts: 0, reason: 'not delivered before the service stopped: the notification log could not be reached',
        failedAt: new Date(this.now()).toISOString(),
      });
      if (this.failedDeliveries.length > FAILURES_KEPT) this.failedDeliveries.shift();
      return;
    }
    if (!claimed) {
      this.counters.duplicates++;
      perChannel.duplicates++;
      return;
    }
    let attempts = 1;
    const started = performance.now();
    const took = (): number => (performance.now() - started) / 1000;
    try {
      await withRetry(() => notifier.notify(d), this.retry, this.clock, (err, n, waitMs) => {
        attempts = n + 1;
        this.counters.retried++;
        perChannel.retried++;
        this.options.logger.warn({ channel: name, decision: d.type, attempt: n, waitMs, err: describe(err) }, 'notification failed, retrying');
      }, this.stopping.signal);
      await this.logged(name, d, () => log.settle(key, 'delivered'));
      this.counters.delivered++;
      perChannel.delivered++;
      this.options.onDelivered?.(name, 'delivered', took());
    } catch (err) {
      await this.logged(name, d, () => log.settle(key, 'failed'));
      this.counters.failed++;
      perChannel.failed++;
      this.options.onDelivered?.(name, 'failed', took());
      const reason = this.stopping.signal.aborted && isRetriable(err)
        ? `not delivered before the service stopped; ${name} was still failing: ${describe(err)}`
        : describe(err);
      this.failedDeliveries.push({
        channel: name, decision: d.type, ts: d.ts, attempts, reason, failedAt: new Date(this.now()).toISOString(),
        ...('incident' in d && d.incident !== undefined ? { incident: d.incident } : {}),
        ...('service' in d && d.service !== undefined ? { service: d.service } : {}),
      });
      if (this.failedDeliveries.length > FAILURES_KEPT) this.failedDeliveries.shift();
      this.options.logger.error({ channel: name, decision: d.type, reason }, 'notification given up');
    }
  }
}

/** How long the log is waited for between two tries while it cannot be reached. */
const LOG_RETRY_MAX_MS = 5_000;

/** A stable id of a decision: the same record (a replay, a retry) gives the same id. */
export function decisionId(d: Decision): string {
  return createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 32);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
