/**
 * Backpressure at the HTTP edge: while the bus holds as many events as `server.queueLimitEvents`
 * allows, every route that would put events on it answers 429 with Retry-After and the reason.
 * A 2xx keeps its meaning (the events are the bus's), and a refusal takes nothing in, so the
 * sender's retry neither loses nor doubles an event.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { BoundedBus, BusFullError } from '../ingest/bus.js';

/** Routes whose requests put events on the bus. */
export const INGEST_ROUTES: ReadonlySet<string> = new Set(['/v1/events', '/v1/deployments', '/v1/webhooks/:source', '/v1/flagger/event']);

/** The answer to a request refused for a full queue: 429, when to come back, and why. */
export function sendBusFull(reply: FastifyReply, err: BusFullError): FastifyReply {
  return reply.code(429).header('retry-after', String(err.retryAfterS)).send({ error: err.message, retriable: true });
}

/**
 * Refuses ingest requests while the queue is full, before their bodies are read: a full queue
 * then costs the sender a retry, not this process the memory of one more body. Requests let
 * through may still be refused at publish time, when their own events would pass the bound.
 */
export function refuseWhileFull(app: FastifyInstance, queue: Pick<BoundedBus, 'full' | 'refuse'>): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'POST' && INGEST_ROUTES.has(req.routeOptions.url ?? '') && queue.full()) return sendBusFull(reply, queue.refuse());
  });
}
