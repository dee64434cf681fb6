/**
 * The label-explosion stream: requests of one service whose route or instance is distinct
 * in every event, or the same load on one route, for the cap tests and the explosion bench.
 */
import type { VigilEvent } from '../rules/events.js';

/** Where the stream's labels explode. */
export type ExplosionShape = 'one route' | 'distinct routes' | 'distinct instances';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

/** Letters only, so that route templating (which folds numbers and ids) keeps every one distinct. */
function word(i: number): string {
  let s = '';
  let n = i;
  do {
    s += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

/** The `i`th request of the stream: 100 per millisecond of event time, one in 50 a 500. */
export function explosionRequest(shape: ExplosionShape, i: number): VigilEvent {
  const route = shape === 'distinct routes' ? `/items/${word(i)}` : '/items';
  const instance = shape === 'distinct instances' ? `shop-${word(i)}` : 'shop-1';
  return { type: 'request', ts: T0 + Math.floor(i / 100), service: 'shop', version: 'v1', instance, route, status: i % 50 === 0 ? 500 : 200, latencyMs: 20 + (i % 7) };
}
