/**
 * `vigil run`, embedded: one process with the whole pipeline, read top to bottom:
 * HTTP ingest -> bus -> engine (decode, tag, windows, judge, incidents) -> decisions ->
 * remembered (for the API) and delivered to the channels routing picks (console by default). Event time drives every
 * decision; the wall clock only moves event time on while the stream is quiet.
 */
import type { Logger } from 'pino';
import type { Decision } from '../rules/decisions.js';
import type { VigilEvent } from '../rules/events.js';
import { type EngineStats, createEngine } from '../rules/engine.js';
import { type EventBus, MemoryBus } from '../ingest/bus.js';
import { MemoryDecisions, type DecisionReader } from '../state/decisions.js';
import type { Notifier } from '../notifiers/notifier.js';
import { Delivery, MemoryNotificationLog, type NotificationLog } from '../notifiers/delivery.js';
import type { RetryPolicy } from '../notifiers/retry.js';
import type { VigilConfig } from './config-file.js';
import { buildApi } from './http.js';
import { serviceMetrics } from './metrics.js';
import { reasonClass } from '../ingest/decode.js';

/** What the service is made of; tests and the CLI supply the parts. */
export interface ServiceOptions {
  readonly config: VigilConfig;
  readonly logger: Logger;
  /** Notifiers by channel name, as routes and pages name them. */
  readonly channels: ReadonlyMap<string, Notifier>;
  /** What was told to whom (memory by default). */
  readonly notificationLog?: NotificationLog;
  /** Retries of notifications (the default: a few attempts over about half a minute). */
  readonly retry?: RetryPolicy;
  /** Wall clock in epoch milliseconds (injected so that tests can move it). */
  readonly now?: () => number;
  /** The API's bearer token (see apiToken in config-file.ts); none on loopback by default. */
  readonly apiToken?: string;
  /** How often the quiet-stream clock is checked, in wall milliseconds. */
  readonly tickMs?: number;
}

/** A started service. */
export interface RunningService {
  /** Where the API listens, e.g. http://127.0.0.1:7070. */
  readonly url: string;
  readonly decisions: DecisionReader;
  /** Events taken in since the start. */
  accepted(): number;
  /** The engine's counters (accepted, late, decisions by type, ...). */
  stats(): EngineStats;
  /** Stops taking events, lets requests in flight finish, and hands over pending notifications. */
  close(): Promise<void>;
}

/** Starts the embedded service and resolves once it listens. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const decisions = new MemoryDecisions();
  const delivery: Delivery = new Delivery({
    channels: options.channels, routing: config.routing, fallback: config.incidents.channels,
    log: options.notificationLog ?? new MemoryNotificationLog(), logger, retry: options.retry, now,
    onDelivered: (channel, outcome, seconds) => metrics.deliverySeconds.observe({ channel, outcome }, seconds),
  });
  const engine = createEngine(config, (d: Decision) => {
    decisions.apply(d);
    delivery.send(d);
  });
  const bus = new MemoryBus((e) => engine.push(e));
  const metrics = serviceMetrics({
    engine: () => engine.stats(), live: () => engine.live(), decisions, delivery: () => delivery.stats(),
    failures: () => delivery.failures(), rejected: () => rejectedByReason,
  });

  // The newest event time seen, and when (wall time) it was seen: on a quiet stream, event
  // time is taken to move on from there at the wall clock's pace.
  let newestTs = -Infinity;
  let newestAtWall = now();
  let lastEventWall = now();
  const onAccepted = (events: readonly VigilEvent[]): void => {
    const wall = now();
    lastEventWall = wall;
    for (const e of events) {
      if (e.ts > newestTs) {
        newestTs = e.ts;
        newestAtWall = wall;
      }
    }
  };
  const tick = setInterval(() => {
    const wall = now();
    if (newestTs === -Infinity || wall - lastEventWall < config.server.quietAfterMs) return;
    engine.advanceTo(newestTs + (wall - newestAtWall));
  }, options.tickMs ?? 1_000);
  tick.unref();

  const rejectedByReason = new Map<string, number>();
  const onRejected = (reason: string): void => {
    const key = reasonClass(reason);
    rejectedByReason.set(key, (rejectedByReason.get(key) ?? 0) + 1);
  };
  const timedBus: EventBus = {
    publish: async (events) => {
      const started = performance.now();
      await bus.publish(events);
      metrics.engineSeconds.observe((performance.now() - started) / 1000);
    },
  };

  let accepting = true;
  const api = buildApi({ bus: timedBus, decisions, delivery, logger, onRejected, metrics: metrics.registry, ingestSeconds: metrics.ingestSeconds, series: (service, version, route) => engine.series(service, version, route), token: options.apiToken, bodyLimitBytes: config.server.bodyLimitBytes, accepting: () => accepting, onAccepted });
  await api.listen({ host: config.server.host, port: config.server.port });
  const address = api.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url, mode: 'embedded' }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    decisions,
    accepted: () => bus.count,
    stats: () => engine.stats(),
    close: () => {
      closing ??= (async () => {
        accepting = false;
        clearInterval(tick);
        // Requests in flight finish (their events reach the engine); new ones get a 503.
        await api.close();
        await delivery.drain();
        logger.info({ accepted: bus.count, stats: engine.stats() }, 'stopped');
      })();
      return closing;
    },
  };
}
