/**
 * Events back to the wire: the canonical JSON of an accepted event, as Vigil puts it on
 * the events topic when it scales out (contract section 1). Decoding what this writes
 * gives the same event (encode.test.ts checks that), so an event survives the trip
 * through Kafka unchanged. Event time goes as epoch milliseconds, which keeps fractions
 * that an ISO-8601 text would cut.
 */
import type { VigilEvent } from '../rules/events.js';

/** The wire JSON of one event. */
export function encodeEvent(e: VigilEvent): string {
  switch (e.type) {
    case 'request':
      return JSON.stringify({
        type: e.type, ts: e.ts, service: e.service, version: e.version, instance: e.instance, route: e.route,
        status: e.status, ok: e.ok, latency_ms: e.latencyMs, region: e.region, labels: e.labels,
      });
    case 'log':
      return JSON.stringify({
        type: e.type, ts: e.ts, service: e.service, level: e.level, message: e.message, version: e.version,
        instance: e.instance, error_type: e.errorType, labels: e.labels,
      });
    case 'metric':
      return JSON.stringify({
        type: e.type, ts: e.ts, service: e.service, name: e.name, value: e.value, version: e.version,
        instance: e.instance, unit: e.unit, labels: e.labels,
      });
    case 'deploy':
      return JSON.stringify({
        type: e.type, ts: e.ts, service: e.service, version: e.version, role: e.role, action: e.action,
        instances: e.instances, release: e.release, labels: e.labels,
      });
    case 'webhook':
      return JSON.stringify({ type: e.type, ts: e.ts, source: e.source, body: e.body });
  }
}

/**
 * The key an event goes under on the events topic: its service, so that one consumer owns a
 * service's windows. A webhook goes with the service its first alert's `service` label names,
 * so that its alerts meet that service's release incidents in the same engine.
 */
export function eventKey(e: VigilEvent): string {
  if (e.type !== 'webhook') return e.service;
  const first = e.alerts[0];
  return first?.labels['service'] ?? first?.hints.service ?? `webhook:${e.source}`;
}
