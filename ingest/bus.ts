/**
 * Where accepted events go on their way to the engine. Embedded, that is a call in the
 * same process; scaled out, a Kafka topic that a consumer group reads. Sources (the HTTP
 * ingest, webhook receivers) only ever see this port.
 */
import type { VigilEvent } from '../rules/events.js';

/** Takes accepted events; once publish resolves, they are the bus's to deliver. */
export interface EventBus {
  publish(events: readonly VigilEvent[]): Promise<void>;
}

/** The embedded bus: events reach their consumer at once, in order, in this process. */
export class MemoryBus implements EventBus {
  constructor(private readonly consume: (event: VigilEvent) => void) {}

  publish(events: readonly VigilEvent[]): Promise<void> {
    for (const e of events) this.consume(e);
    return Promise.resolve();
  }
}

/** The bus holds as many events as it may: the sender is to come back after `retryAfterS`. */
export class BusFullError extends Error {
  /** The same events are taken once the queue drains. */
  readonly retriable = true;
  /** HTTP status the receivers answer with (fastify's handlers read it too). */
  readonly statusCode = 429;
  constructor(readonly queuedEvents: number, readonly limitEvents: number, readonly retryAfterS: number) {
    super(`ingest queue full (${queuedEvents} events waiting for the bus, limit ${limitEvents}, server.queueLimitEvents): nothing of this request was taken; retry after ${retryAfterS} s`);
  }
}

/** Counts of a bounded bus, for metrics. */
export interface BoundedBusStats {
  /** Events handed to the bus and not yet confirmed by it. */
  readonly queuedEvents: number;
  /** Requests refused because the queue was full, and the events they carried. */
  readonly refusedRequests: number;
  readonly refusedEvents: number;
}

/**
 * A bus with a bound on the events waiting for it to confirm (the broker's acks, or the
 * engine's turn). A publish that would pass the bound is refused whole, before any of it
 * is handed on, so a refusal never loses an accepted event and a slow broker cannot make
 * the senders' bodies pile up in memory. A publish into an empty queue is always taken
 * (the body limit bounds it), so a large request cannot be refused forever.
 */
export class BoundedBus implements EventBus {
  private queued = 0;
  private refusedRequests = 0;
  private refusedEvents = 0;

  constructor(private readonly inner: EventBus, private readonly limitEvents: number, private readonly retryAfterS: number) {}

  /** Whether a request arriving now would be refused (checked before its body is read). */
  full(): boolean {
    return this.queued >= this.limitEvents;
  }

  /** Counts a request refused before its events were known (its body was not read). */
  refuse(events = 0): BusFullError {
    this.refusedRequests++;
    this.refusedEvents += events;
    return new BusFullError(this.queued, this.limitEvents, this.retryAfterS);
  }

  async publish(events: readonly VigilEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.queued > 0 && this.queued + events.length > this.limitEvents) throw this.refuse(events.length);
    this.queued += events.length;
    try {
      await this.inner.publish(events);
    } finally {
      this.queued -= events.length;
    }
  }

  stats(): BoundedBusStats {
    return { queuedEvents: this.queued, refusedRequests: this.refusedRequests, refusedEvents: this.refusedEvents };
  }
}
