/**
 * `vigil run`: the whole service, read top to bottom: HTTP ingest -> bus -> engine (decode,
 * tag, windows, judge, incidents) -> decisions -> remembered (for the API) and delivered to
 * the channels routing picks (console by default). Embedded, the bus is a call and there is
 * one engine; scaled out, the bus is Kafka and a consumer group feeds the engines
 * (pipeline.ts). Event time drives every decision; the wall clock only moves event time on
 * while a stream is quiet.
 */
import type { Logger } from 'pino';
import type { Decision } from '../rules/decisions.js';
import type { EngineStats } from '../rules/engine.js';
import { BoundedBus, type EventBus } from '../ingest/bus.js';
import { MemoryDecisions, type DecisionReader } from '../state/decisions.js';
import type { Notifier } from '../notifiers/notifier.js';
import { Delivery, MemoryNotificationLog, type NotificationLog } from '../notifiers/delivery.js';
import type { RetryPolicy } from '../notifiers/retry.js';
import type { VigilConfig } from './config-file.js';
import { buildApi } from './http.js';
import { registerReleaseTools } from './release-tools.js';
import { serviceMetrics } from './metrics.js';
import { reasonClass } from '../ingest/decode.js';
import { type KafkaPipelineSettings, type Pipeline, embeddedPipeline, kafkaPipeline } from './pipeline.js';
import type { CheckpointStore } from '../ingest/kafka.js';
import type { Silence, SilenceStore } from '../rules/silences.js';
import { MemorySilenceStore } from '../state/silences.js';
import { registerSilences, registerWebhooks } from './webhooks.js';

/** What the service is made of; tests and the CLI supply the parts. */
export interface ServiceOptions {
  readonly config: VigilConfig;
  readonly logger: Logger;
  /** Notifiers by channel name, as routes and pages name them. */
  readonly channels: ReadonlyMap<string, Notifier>;
  /** What was told to whom (memory by default; Redis when instances share the work). */
  readonly notificationLog?: NotificationLog;
  /** Where partitions' checkpoints are kept when scaled out (Redis when instances share the work). */
  readonly checkpoints?: CheckpointStore;
  /** Retries of notifications (the default: a few attempts over about half a minute). */
  readonly retry?: RetryPolicy;
  /** Wall clock in epoch milliseconds (injected so that tests can move it). */
  readonly now?: () => number;
  /** The API's bearer token (see apiToken in config-file.ts); none on loopback by default. */
  readonly apiToken?: string;
  /** How often the quiet-stream clock is checked, in wall milliseconds. */
  readonly tickMs?: number;
  /** Scale out on Kafka (contract section 4) instead of running embedded. */
  readonly kafka?: KafkaPipelineSettings;
  /** Where silences made through the API are kept (memory by default; Redis when instances share the work). */
  readonly silences?: SilenceStore;
  /** The environment, for secrets given as `env:NAME` (webhook receivers). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Whether each dependency answers now (e.g. redis); one that does not makes the service degraded. */
  readonly dependencies?: () => ReadonlyMap<string, boolean>;
}

/** A started service. */
export interface RunningService {
  /** Where the API listens, e.g. http://127.0.0.1:7070. */
  readonly url: string;
  readonly decisions: DecisionReader;
  /** Events this instance's ingest took since the start. */
  accepted(): number;
  /** The engines' counters (accepted, late, decisions by type, ...). */
  stats(): EngineStats;
  /** Embedded, or scaled out on Kafka. */
  readonly mode: Pipeline['mode'];
  /** Stops taking events, lets requests in flight finish, and hands over pending notifications. */
  close(): Promise<void>;
}

/** Starts the service and resolves once it listens (and, on Kafka, has joined its group). */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const decisions = new MemoryDecisions();
  const notificationLog = options.notificationLog ?? new MemoryNotificationLog();
  const delivery: Delivery = new Delivery({
    channels: options.channels, routing: config.routing, fallback: config.incidents.channels,
    log: notificationLog, logger, retry: options.retry, now,
    onDelivered: (channel, outcome, seconds) => metrics.deliverySeconds.observe({ channel, outcome }, seconds),
  });
  const handle = (ds: readonly Decision[]): void => {
    for (const d of ds) {
      decisions.apply(d);
      delivery.send(d);
    }
  };
  // Scaled out, what the API shows of verdicts and incidents comes from the output topics,
  // which hold every instance's; suppressions stay with the instance that made them.
  const kafkaHandlers = {
    made: (ds: readonly Decision[]): void => {
      for (const d of ds) {
        if (d.type === 'suppressed') decisions.apply(d);
        delivery.send(d);
      }
    },
    published: (ds: readonly Decision[]): void => {
      for (const d of ds) decisions.apply(d);
    },
  };
  // The engines read silences synchronously: a snapshot of the store, renewed on every change and tick.
  const silenceStore = options.silences ?? new MemorySilenceStore();
  let silences: readonly Silence[] = [];
  const renewSilences = (): Promise<void> => silenceStore.list(now()).then((s) => { silences = s; }, (err: unknown) => logger.error({ err }, 'reading silences failed'));
  await renewSilences();
  const ports = { silences: () => silences };
  const quietAfterMs = config.server.quietAfterMs;
  const pipeline = options.kafka === undefined
    ? embeddedPipeline(config, quietAfterMs, now, handle, ports)
    : await kafkaPipeline(config, options.kafka, quietAfterMs, now, kafkaHandlers, logger, options.notificationLog, options.checkpoints, ports);

  let ingested = 0;
  const rejectedByReason = new Map<string, number>();
  const onRejected = (reason: string): void => {
    const key = reasonClass(reason);
    rejectedByReason.set(key, (rejectedByReason.get(key) ?? 0) + 1);
  };
  const metrics = serviceMetrics({
    engine: () => pipeline.stats(), live: () => pipeline.live(), decisions, delivery: () => delivery.stats(),
    failures: () => delivery.failures(), rejected: () => rejectedByReason, lag: () => pipeline.lag(),
    dependencies: options.dependencies, held: () => ({ decisions: pipeline.held(), notifications: delivery.heldForLog() }),
    queue: () => queue.stats(),
  });
  const degraded = (): string[] => {
    const out: string[] = [];
    for (const [name, up] of options.dependencies?.() ?? []) if (!up) out.push(`${name}: unreachable`);
    const held = pipeline.held(), waiting = delivery.heldForLog();
    if (held > 0) out.push(`${held} decisions held until they can be handed on`);
    if (waiting > 0) out.push(`${waiting} notifications held until the notification log answers`);
    return out;
  };
  const timedBus: EventBus = {
    publish: async (events) => {
      const started = performance.now();
      await pipeline.bus.publish(events);
      ingested += events.length;
      metrics.engineSeconds.observe((performance.now() - started) / 1000);
    },
  };
  // Every ingest route hands its events to this one bound (see app/backpressure.ts).
  const queue = new BoundedBus(timedBus, config.server.queueLimitEvents, config.server.queueRetryAfterS);
  const bus: EventBus = queue;
  let ticking = false;
  const tick = setInterval(() => {
    if (ticking) return;
    ticking = true;
    renewSilences().then(() => pipeline.tick(now())).catch((err: unknown) => logger.error({ err }, 'moving event time on failed')).finally(() => { ticking = false; });
  }, options.tickMs ?? 1_000);
  tick.unref();

  let accepting = true;
  const api = buildApi({
    bus, queue, decisions, delivery, logger, onRejected, metrics: metrics.registry, ingestSeconds: metrics.ingestSeconds,
    series: (service, version, route) => pipeline.series(service, version, route), token: options.apiToken,
    bodyLimitBytes: config.server.bodyLimitBytes, accepting: () => accepting, degraded,
  });
  registerReleaseTools(api, { decisions, bus, config: config.releaseTools, now, onRejected, token: options.apiToken });
  registerWebhooks(api, { config: config.webhooks, bus, logger, env: options.env ?? {}, now, onRejected });
  registerSilences(api, { store: silenceStore, now, changed: () => { void renewSilences(); } });
  try {
    await api.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    clearInterval(tick);
    await pipeline.close();
    throw err;
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url, mode: pipeline.mode }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    decisions,
    mode: pipeline.mode,
    accepted: () => ingested,
    stats: () => pipeline.stats(),
    close: () => {
      closing ??= (async () => {
        accepting = false;
        clearInterval(tick);
        // Requests in flight finish (their events reach the bus); new ones get a 503.
        await api.close();
        await pipeline.close();
        await delivery.close(config.notify.shutdownGraceMs);
        logger.info({ accepted: ingested, stats: pipeline.stats() }, 'stopped');
      })();
      return closing;
    },
  };
}
