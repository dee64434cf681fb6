/**
 * Plays a generated scenario onto the events topic, as a producer of a user's would: each
 * line goes as it is (the contract's wire form), keyed the way Vigil keys what its own
 * ingest publishes, so that every event of a service lands in the partition whose owner
 * judges that service.
 *
 * A line that is not a valid event goes too, with no key (the consumer sends it to the
 * dead-letter topic with its reason), as a faulty producer's would.
 *
 * Delivery caveat: a batch the broker took but whose acknowledgement was lost is sent
 * again by kafkajs' retries, so the topic may hold it twice; Vigil's consumers count a
 * repeated offset once, not a repeated message.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { Decision } from '../rules/decisions.js';
import { decodeLine } from '../ingest/decode.js';
import { eventKey } from '../ingest/encode.js';

/** A `send` for `streamEvents` that produces to Kafka, and what ends it. */
export interface KafkaSender {
  /** Produces one NDJSON batch (acks from every in-sync replica), in order. */
  readonly send: (ndjson: string, count: number) => Promise<void>;
  /** Lines produced that are not valid events (bound for the dead-letter topic), with the first reason. */
  readonly invalid: () => { readonly lines: number; readonly firstReason: string | undefined };
  readonly close: () => Promise<void>;
}

/** Connects a producer to `brokers` for `topic`; fails with the broker's words when none answers. */
export async function kafkaSender(brokers: readonly string[], topic: string, clientId = 'vigil-simulate'): Promise<KafkaSender> {
  const kafka = new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let invalidLines = 0;
  let firstReason: string | undefined;
  return {
    send: async (ndjson) => {
      const messages: { key: string | null; value: string }[] = [];
      for (const line of ndjson.split('\n')) {
        if (line === '') continue;
        const decoded = decodeLine(line);
        if (decoded.ok) {
          messages.push({ key: eventKey(decoded.event), value: line });
        } else {
          invalidLines++;
          firstReason ??= decoded.reason;
          messages.push({ key: null, value: line });
        }
      }
      if (messages.length > 0) await producer.send({ topic, acks: -1, messages });
    },
    invalid: () => ({ lines: invalidLines, firstReason }),
    close: () => producer.disconnect(),
  };
}

/**
 * Every decision on a topic, read from its start by a group of its own until `quietMs`
 * pass with nothing new; joining the group and the first fetch get `joinMs` first.
 */
export async function readDecisions(kafka: Kafka, topic: string, quietMs: number, joinMs: number): Promise<Decision[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
  const out: Decision[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push(JSON.parse(message.value?.toString('utf8') ?? 'null') as Decision);
      last = Date.now();
    },
  });
  const started = Date.now();
  while (Date.now() - Math.max(last, started + joinMs) < quietMs) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  return out;
}
