/**
 * Prometheus metrics of the service. Counts are read at scrape time from the counters the
 * engine, the ingest, the decision store and the delivery stage keep already (no second
 * bookkeeping to drift apart); stage latencies are histograms observed as the work happens.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine, EngineStats } from '../rules/engine.js';
import type { DeliveryStats, FailedDelivery } from '../notifiers/delivery.js';
import type { DecisionReader } from '../state/decisions.js';
import type { BoundedBusStats } from '../ingest/bus.js';

/** Where the counts come from. */
export interface MetricSources {
  readonly engine: () => EngineStats;
  readonly live: () => ReturnType<Engine['live']>;
  readonly decisions: DecisionReader;
  readonly delivery: () => Readonly<DeliveryStats>;
  readonly failures: () => readonly FailedDelivery[];
  /** Lines (or array items) rejected at ingest, by reason class. */
  readonly rejected: () => ReadonlyMap<string, number>;
  /** Consumer lag per partition held (Kafka). */
  readonly lag: () => ReadonlyMap<number, number>;
  /** Whether each dependency answers (e.g. redis), 1 or 0. */
  readonly dependencies?: () => ReadonlyMap<string, boolean>;
  /** Decisions made and not yet handed on, and notifications waiting for the notification log. */
  readonly held?: () => { readonly decisions: number; readonly notifications: number };
  /** The ingest queue's length and refusals. */
  readonly queue?: () => BoundedBusStats;
}

/** The registry, and the histograms the service observes into. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Time to take one ingest request: decode, validate, hand to the bus. */
  readonly ingestSeconds: Histogram<'route'>;
  /** Time the engine takes over one batch of events (tagging, windows, and the judging they trigger). */
  readonly engineSeconds: Histogram;
  /** Time from a delivery's first attempt to its end, retries included, by channel and outcome. */
  readonly deliverySeconds: Histogram<'channel' | 'outcome'>;
}

type Labels<L extends string> = Partial<Record<L, string>>;

/** Builds the registry with the service's metrics and the process's defaults. */
export function serviceMetrics(sources: MetricSources): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  // prom-client counters only move through inc(); these mirror totals kept elsewhere, so each
  // scrape resets them and adds the total, which keeps them monotonic all the same.
  const mirror = <L extends string>(c: Counter<L>, rows: readonly (readonly [Labels<L>, number])[]): void => {
    c.reset();
    for (const [labels, v] of rows) if (v > 0) c.inc(labels, v);
  };
  const count = (name: string, help: string, read: () => number): void => {
    new Counter({ name, help, registers: [registry], collect() { mirror(this, [[{}, read()]]); } });
  };
  const byLabel = <L extends string>(name: string, help: string, label: L, read: () => Iterable<readonly [string, number]>): void => {
    new Counter({
      name, help, labelNames: [label], registers: [registry],
      collect() { mirror(this, [...read()].map(([value, n]) => [{ [label]: value } as Labels<L>, n] as const)); },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  };

  count('vigil_events_accepted_total', 'Events the engine took', () => sources.engine().accepted);
  count('vigil_events_late_total', 'Events later than the allowed lateness: counted, then dropped', () => sources.engine().late);
  count('vigil_events_too_far_ahead_total', 'Events refused for an event time too far ahead of the watermark (window.maxAheadMs)', () => sources.engine().tooFarAhead);
  count('vigil_events_unknown_version_total', 'Events whose version stayed unknown (never blamed)', () => sources.engine().unknownVersion);
  byLabel('vigil_events_rejected_total', 'Input lines rejected at ingest, by reason', 'reason', () => sources.rejected());
  count('vigil_series_overflowed_total', 'Events that went to a service\'s overflow series (past the series cap)', () => sources.engine().overflowSeries);
  gauge('vigil_services_live', 'Services the engine holds windows for', () => sources.live().services);
  gauge('vigil_series_live', 'Series (version x route) the engine holds', () => sources.live().series);
  gauge('vigil_judgments_active', 'Versions being judged now', () => sources.live().judgments);
  byLabel('vigil_decisions_total', 'Decisions made, by type', 'type', () => Object.entries(sources.engine().decisions));
  new Gauge({
    name: 'vigil_verdicts', help: 'Judged versions by their latest verdict', labelNames: ['verdict'], registers: [registry],
    collect() {
      this.reset();
      const byVerdict: Record<string, number> = { PASS: 0, FAIL: 0, NONE: 0 };
      for (const v of sources.decisions.verdicts()) byVerdict[v.verdict] = (byVerdict[v.verdict] ?? 0) + 1;
      for (const [verdict, n] of Object.entries(byVerdict)) this.set({ verdict }, n);
    },
  });
  count('vigil_incidents_opened_total', 'Incidents opened (each paged once)', () => sources.engine().decisions['page'] ?? 0);
  gauge('vigil_incidents_open', 'Incidents open now', () => sources.decisions.incidents('open').length);
  byLabel('vigil_suppressed_total', 'Decisions not to page, by reason', 'why', () => Object.entries(sources.decisions.suppressedByReason()));
  new Counter({
    name: 'vigil_notifications_total', help: 'Notifications by channel and outcome (delivered, failed, retried, duplicate, quiet: a corroborating update not told)',
    labelNames: ['channel', 'outcome'], registers: [registry],
    collect() {
      const rows: (readonly [Labels<'channel' | 'outcome'>, number])[] = [];
      for (const [channel, c] of Object.entries(sources.delivery().byChannel)) {
        rows.push([{ channel, outcome: 'delivered' }, c.delivered], [{ channel, outcome: 'failed' }, c.failed],
          [{ channel, outcome: 'retried' }, c.retried], [{ channel, outcome: 'duplicate' }, c.duplicates],
          [{ channel, outcome: 'quiet' }, c.quiet]);
      }
      mirror(this, rows);
    },
  });
  new Gauge({
    name: 'vigil_kafka_consumer_lag', help: 'Messages of the events topic not yet processed, per partition held (scaled out)', labelNames: ['partition'], registers: [registry],
    collect() {
      this.reset();
      for (const [partition, lag] of sources.lag()) this.set({ partition: String(partition) }, lag);
    },
  });
  new Gauge({
    name: 'vigil_notifications_pending', help: 'Notifications waiting for their channel or being tried now, by channel (they add up while a channel is down)',
    labelNames: ['channel'], registers: [registry],
    collect() {
      this.reset();
      for (const [channel, c] of Object.entries(sources.delivery().byChannel)) this.set({ channel }, c.pending);
    },
  });
  new Gauge({
    name: 'vigil_dependency_up', help: 'Whether a dependency answers (1) or not (0); while one is down the service runs degraded', labelNames: ['dependency'], registers: [registry],
    collect() {
      this.reset();
      for (const [dependency, up] of sources.dependencies?.() ?? []) this.set({ dependency }, up ? 1 : 0);
    },
  });
  gauge('vigil_decisions_held', 'Decisions made and held because they could not be handed on yet (output topics or notification log unreachable)', () => sources.held?.().decisions ?? 0);
  gauge('vigil_notifications_held', 'Notifications held because the notification log cannot be reached', () => sources.held?.().notifications ?? 0);
  gauge('vigil_ingest_queue_events', 'Events taken by ingest and not yet confirmed by the bus (bounded by server.queueLimitEvents)', () => sources.queue?.().queuedEvents ?? 0);
  count('vigil_ingest_refused_total', 'Ingest requests refused with 429 because the queue was full (nothing of them was taken)', () => sources.queue?.().refusedRequests ?? 0);
  gauge('vigil_notification_failures_kept', 'Deliveries given up and kept for GET /v1/notifications', () => sources.failures().length);

  return {
    registry,
    ingestSeconds: new Histogram({
      name: 'vigil_ingest_request_seconds', help: 'Time to take one ingest request (decode, validate, hand over)', labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
    }),
    engineSeconds: new Histogram({
      name: 'vigil_engine_batch_seconds', help: 'Time the engine takes over one batch of events, judging included',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: 'vigil_notification_delivery_seconds', help: 'Time from a delivery\'s first attempt to its end, retries included',
      labelNames: ['channel', 'outcome'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
    }),
  };
}
