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
