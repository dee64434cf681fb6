/**
 * Prometheus metrics of the service, read at scrape time from the counters the engine,
 * the ingest and the delivery stage keep already (no second bookkeeping to drift apart).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from '../rules/engine.js';
import type { DeliveryStats, FailedDelivery } from '../notifiers/delivery.js';

/** Where the metrics come from. */
export interface MetricSources {
  readonly engine: () => EngineStats;
  readonly delivery: () => Readonly<DeliveryStats>;
  readonly failures: () => readonly FailedDelivery[];
  /** Lines (or array items) rejected at ingest, by reason class. */
  readonly rejected: () => ReadonlyMap<string, number>;
}

/** A registry with the service's metrics and the process's defaults. */
export function serviceMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  // prom-client counters only go up through inc(); these mirror totals kept elsewhere, so they
  // are set to the total at each scrape (reset first), which keeps them monotonic all the same.
  const mirrored = <L extends string>(c: Counter<L>, values: readonly [Partial<Record<L, string>>, number][]): void => {
    c.reset();
    for (const [labels, v] of values) if (v > 0) c.inc(labels, v);
  };
  new Counter({
    name: 'vigil_events_accepted_total', help: 'Events the engine took', registers: [registry],
    collect() { mirrored(this, [[{}, sources.engine().accepted]]); },
  });
  new Counter({
    name: 'vigil_events_late_total', help: 'Events later than the allowed lateness, counted and dropped', registers: [registry],
    collect() { mirrored(this, [[{}, sources.engine().late]]); },
  });
  new Counter({
    name: 'vigil_events_rejected_total', help: 'Input lines rejected at ingest, by reason', labelNames: ['reason'] as const, registers: [registry],
    collect() { mirrored(this, [...sources.rejected()].map(([reason, n]) => [{ reason }, n] as [Partial<Record<'reason', string>>, number])); },
  });
  new Counter({
    name: 'vigil_decisions_total', help: 'Decisions made, by type', labelNames: ['type'] as const, registers: [registry],
    collect() { mirrored(this, Object.entries(sources.engine().decisions).map(([type, n]) => [{ type }, n] as [Partial<Record<'type', string>>, number])); },
  });
  new Counter({
    name: 'vigil_notifications_total', help: 'Notifications by channel and outcome (delivered, failed, retried, duplicate)',
    labelNames: ['channel', 'outcome'] as const, registers: [registry],
    collect() {
      const rows: [Partial<Record<'channel' | 'outcome', string>>, number][] = [];
      for (const [channel, c] of Object.entries(sources.delivery().byChannel)) {
        rows.push([{ channel, outcome: 'delivered' }, c.delivered], [{ channel, outcome: 'failed' }, c.failed],
          [{ channel, outcome: 'retried' }, c.retried], [{ channel, outcome: 'duplicate' }, c.duplicates]);
      }
      mirrored(this, rows);
    },
  });
  new Gauge({
    name: 'vigil_notification_failures_kept', help: 'Deliveries given up and kept for GET /v1/notifications', registers: [registry],
    collect() { this.set(sources.failures().length); },
  });
  return registry;
}
