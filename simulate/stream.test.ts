import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogEntry, renderScenario } from './catalog.js';
import { toNdjson, type TimedEvent, type WireEvent } from './generate.js';
import { httpSender, rebase, SendError, streamEvents, type StreamOptions } from './stream.js';

const rendered = renderScenario(catalogEntry('error-regression')!, 1);
const real = rendered.events;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A wall clock that only moves when the stream sleeps or a send takes time. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; advance: (ms: number) => void; sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: (ms) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms) => {
      t += ms;
    },
    sleeps,
  };
}

interface SentBatch {
  readonly atMs: number;
  readonly ndjson: string;
  readonly count: number;
}

/** A `send` that records each batch with the fake time it was sent at. */
function recorder(clock: { now: () => number }, onSend?: (batch: SentBatch) => void): { send: StreamOptions['send']; batches: SentBatch[] } {
  const batches: SentBatch[] = [];
  return {
    batches,
    send: (ndjson, count) => {
      const batch = { atMs: clock.now(), ndjson, count };
      batches.push(batch);
      onSend?.(batch);
      return Promise.resolve();
    },
  };
}

/** Small events with the given emission offsets, using a real request as the template. */
function at(...emitMs: number[]): TimedEvent[] {
  const template = real.find((e) => e.event.type === 'request')!.event;
  return emitMs.map((ms, i) => ({ tsMs: ms, emitMs: ms, event: { ...template, route: `/r${i}` } as WireEvent }));
}

/** The wall time each event went out at, in event order, from recorded batches. */
function sendTimes(batches: readonly SentBatch[]): number[] {
  return batches.flatMap((b) => Array.from({ length: b.count }, () => b.atMs));
}

describe('rebase', () => {
  it('moves every ts to the new start plus its offset and changes nothing else', () => {
    const startMs = Date.UTC(2031, 0, 2, 3, 4, 5, 6);
    const out = rebase(real, startMs);
    expect(out).toHaveLength(real.length);
    const wrong: string[] = [];
    out.forEach((e, k) => {
      const original = real[k]!;
      if (!ISO_MS.test(e.ts) || Date.parse(e.ts) !== startMs + original.tsMs) wrong.push(`#${k} ts ${e.ts}`);
      if (original.event.ts === e.ts) wrong.push(`#${k} input changed or ts kept`);
      // Field order matters on the wire, so compare serialized text, not deep equality.
      if (JSON.stringify({ ...e, ts: original.event.ts }) !== JSON.stringify(original.event)) wrong.push(`#${k} fields`);
    });
    expect(wrong).toEqual([]);
  });

  it('keeps a late event late: its ts stays before the events emitted ahead of it', () => {
    const [a, b, c] = at(0, 5_000, 30_000) as [TimedEvent, TimedEvent, TimedEvent];
    const late = { ...c, tsMs: 1_000 };
    const startMs = Date.UTC(2030, 5, 1);
    const out = rebase([a, b, late], startMs);
    expect(out.map((e) => Date.parse(e.ts) - startMs)).toEqual([0, 5_000, 1_000]);
    expect(out.map((e) => (e.type === 'request' ? e.route : ''))).toEqual(['/r0', '/r1', '/r2']);
  });

  it('refuses a start that is not a time', () => {
    expect(() => rebase(real.slice(0, 1), Number.NaN)).toThrow(RangeError);
  });
});

describe('streamEvents', () => {
  it('at speed 1 sends each event at its due time, grouping what falls within batchMs', async () => {
    const clock = fakeClock();
    const rec = recorder(clock);
    const events = at(0, 50, 120, 1_000, 1_000, 2_500);
    const summary = await streamEvents(events, { speed: 1, batchMs: 100, send: rec.send, now: clock.now, sleep: clock.sleep });
    expect(rec.batches.map((b) => [b.atMs, b.count])).toEqual([
      [0, 1],
      [100, 1],
      [200, 1],
      [1_000, 2],
      [2_500, 1],
    ]);
    expect(rec.batches.map((b) => b.ndjson).join('')).toBe(toNdjson(events));
    expect(summary).toEqual({ events: 6, batches: 5, wallMs: 2_500, maxLagMs: 80, aborted: false });
  });

  it('at speed 60 plays a real 30-minute scenario in 30 wall seconds, every event once, in order, on time', async () => {
    const clock = fakeClock();
    const rec = recorder(clock);
    const summary = await streamEvents(real, { speed: 60, send: rec.send, now: clock.now, sleep: clock.sleep });
    expect(rec.batches.map((b) => b.ndjson).join('')).toBe(rendered.ndjson);
    for (const b of rec.batches) expect(b.ndjson.split('\n')).toHaveLength(b.count + 1);
    const times = sendTimes(rec.batches);
    const early = real.filter((e, k) => times[k]! < e.emitMs / 60).length;
    const tardy = real.filter((e, k) => times[k]! > e.emitMs / 60 + 100).length;
    expect({ early, tardy }).toEqual({ early: 0, tardy: 0 });
    const lastDueMs = real.at(-1)!.emitMs / 60;
    expect(summary.wallMs).toBeGreaterThanOrEqual(lastDueMs);
    expect(summary.wallMs).toBeLessThanOrEqual(lastDueMs + 100);
    expect(summary.events).toBe(real.length);
    expect(summary.batches).toBe(rec.batches.length);
    expect(summary.maxLagMs).toBeLessThanOrEqual(100);
  });

  it('waits for a slow receiver: never two sends at once, bigger batches, lag reported, nothing lost', async () => {
    const clock = fakeClock();
    let inFlight = 0;
    let mostInFlight = 0;
    const delivered: string[] = [];
    const send = async (ndjson: string): Promise<void> => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await Promise.resolve();
      clock.advance(250);
      delivered.push(ndjson);
      inFlight--;
    };
    const events = at(...Array.from({ length: 300 }, (_, i) => i * 10));
    const summary = await streamEvents(events, { speed: 1, batchMs: 100, send, now: clock.now, sleep: clock.sleep });
    expect(mostInFlight).toBe(1);
    expect(delivered.join('')).toBe(toNdjson(events));
    expect(summary.batches).toBeLessThan(20);
    expect(summary.maxLagMs).toBeGreaterThanOrEqual(200);
    expect(summary.wallMs).toBeGreaterThanOrEqual(2_990 + 250);
  });

  it('splits a backlog into maxBatch batches sent back to back', async () => {
    for (const speed of [Infinity, 1]) {
      const clock = fakeClock();
      const rec = recorder(clock);
      const events = at(...Array.from({ length: 12 }, () => 0));
      const summary = await streamEvents(events, { speed, maxBatch: 5, send: rec.send, now: clock.now, sleep: clock.sleep });
      expect(rec.batches.map((b) => [b.atMs, b.count])).toEqual([
        [0, 5],
        [0, 5],
        [0, 2],
      ]);
      expect(rec.batches.map((b) => b.ndjson).join('')).toBe(toNdjson(events));
      expect(clock.sleeps).toEqual([]);
      expect(summary.events).toBe(12);
    }
  });

  it('rebases on the way out when given startMs', async () => {
    const clock = fakeClock();
    const rec = recorder(clock);
    const startMs = Date.UTC(2032, 1, 3);
    const events = real.slice(0, 500);
    await streamEvents(events, { speed: Infinity, maxBatch: 64, startMs, send: rec.send, now: clock.now, sleep: clock.sleep });
    const expected = rebase(events, startMs).map((e) => `${JSON.stringify(e)}\n`);
    expect(rec.batches.map((b) => b.ndjson).join('')).toBe(expected.join(''));
  });

  it('stops before the next batch once the signal aborts', async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    const rec = recorder(clock, () => {
      if (rec.batches.length === 2) controller.abort();
    });
    const summary = await streamEvents(at(0, 200, 400, 600), {
      speed: 1,
      send: rec.send,
      now: clock.now,
      sleep: clock.sleep,
      signal: controller.signal,
    });
    expect(rec.batches).toHaveLength(2);
    expect(summary).toMatchObject({ events: 2, batches: 2, aborted: true });
  });

  it('ends quietly, without counting it, when a send fails because of the abort', async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    const send = (): Promise<void> => {
      controller.abort();
      return Promise.reject(new SendError('aborted', false, undefined));
    };
    const summary = await streamEvents(at(0, 10), { speed: 1, send, now: clock.now, sleep: clock.sleep, signal: controller.signal });
    expect(summary).toMatchObject({ events: 0, batches: 0, aborted: true });
  });

  it('cuts a real wait short on abort instead of sleeping until the next event', { timeout: 2_000 }, async () => {
    const controller = new AbortController();
    const sent: number[] = [];
    const send = (_ndjson: string, count: number): Promise<void> => {
      sent.push(count);
      setTimeout(() => controller.abort(), 20);
      return Promise.resolve();
    };
    const summary = await streamEvents(at(0, 10 * 60_000), { speed: 1, send, signal: controller.signal });
    expect(sent).toEqual([1]);
    expect(summary).toMatchObject({ events: 1, aborted: true });
  });

  it('passes on a failed send', async () => {
    const failure = new SendError('refused', false, 400);
    await expect(streamEvents(at(0), { speed: Infinity, send: () => Promise.reject(failure) })).rejects.toBe(failure);
  });

  it.each([0, -1, Number.NaN])('refuses speed %s', async (speed) => {
    await expect(streamEvents(at(0), { speed, send: () => Promise.resolve() })).rejects.toThrow(RangeError);
  });
});

// ---- against a real HTTP server ----------------------------------------------------

interface Received {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

interface Answer {
  readonly status: number;
  readonly body?: string;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** Starts a server on a free local port that records each request and answers as `answer` says (undefined: never). */
async function serve(answer: (attempt: number) => Answer | undefined): Promise<{ baseUrl: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const a = answer(received.length);
      if (a === undefined) return;
      res.writeHead(a.status, { 'content-type': 'text/plain' });
      res.end(a.body ?? '');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, received };
}

/** A backoff that records how long it was asked to wait and returns at once. */
function noWait(waits: number[]): (ms: number) => Promise<void> {
  return (ms) => {
    waits.push(ms);
    return Promise.resolve();
  };
}

async function sendError(p: Promise<void>): Promise<SendError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendError);
  return err as SendError;
}

describe('httpSender', () => {
  const batch = `${rendered.ndjson.split('\n').slice(0, 200).join('\n')}\n`;

  it('POSTs the exact NDJSON with its content type to /v1/events', async () => {
    const { baseUrl, received } = await serve(() => ({ status: 202 }));
    await httpSender(baseUrl)(batch, 200);
    expect(received).toEqual([{ method: 'POST', url: '/v1/events', contentType: 'application/x-ndjson', body: batch }]);
  });

  it('keeps a base URL path and takes another path', async () => {
    const { baseUrl, received } = await serve(() => ({ status: 200 }));
    await httpSender(`${baseUrl}/vigil/`)(batch, 200);
    await httpSender(baseUrl, { path: '/ingest' })(batch, 200);
    expect(received.map((r) => r.url)).toEqual(['/vigil/v1/events', '/ingest']);
  });

  it('carries a whole stream from streamEvents, rebased, batch by batch', async () => {
    const { baseUrl, received } = await serve(() => ({ status: 202 }));
    const events = real.slice(0, 5_000);
    const startMs = Date.UTC(2030, 0, 1);
    const summary = await streamEvents(events, { speed: Infinity, maxBatch: 1_000, startMs, send: httpSender(baseUrl) });
    expect(summary).toMatchObject({ events: 5_000, batches: 5 });
    expect(received.map((r) => r.body).join('')).toBe(rebase(events, startMs).map((e) => `${JSON.stringify(e)}\n`).join(''));
  });

  it.each([503, 429])('retries after a %s and delivers the batch once', async (status) => {
    const { baseUrl, received } = await serve((n) => (n === 1 ? { status, body: 'busy' } : { status: 202 }));
    await httpSender(baseUrl, { sleep: noWait([]) })(batch, 200);
    expect(received.map((r) => r.body === batch)).toEqual([true, true]);
  });

  it('gives up after its retries on a lasting 5xx, backing off more each time, saying it may pass later', async () => {
    const { baseUrl, received } = await serve(() => ({ status: 503, body: 'draining' }));
    const waits: number[] = [];
    const err = await sendError(httpSender(baseUrl, { sleep: noWait(waits) })(batch, 200));
    expect(received).toHaveLength(4);
    expect(waits).toHaveLength(3);
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(100 * 2 ** i);
      expect(ms).toBeLessThanOrEqual(200 * 2 ** i);
    });
    expect(err).toMatchObject({ retriable: true, status: 503 });
    expect(err.message).toContain('503');
    expect(err.message).toContain('draining');
    expect(err.message).toContain('4 attempts');
  });

  it('backs off for real between attempts when no sleep is given', async () => {
    const { baseUrl, received } = await serve((n) => (n === 1 ? { status: 503 } : { status: 202 }));
    await httpSender(baseUrl, { retries: 1 })(batch, 200);
    expect(received).toHaveLength(2);
  });

  it('does not retry a 400 and names its status and the start of its body', async () => {
    const reasons = `line 1: missing field "service"\nline 2: ts is not ISO-8601\n${'x'.repeat(400)}`;
    const { baseUrl, received } = await serve(() => ({ status: 400, body: reasons }));
    const err = await sendError(httpSender(baseUrl)(batch, 200));
    expect(received).toHaveLength(1);
    expect(err).toMatchObject({ retriable: false, status: 400 });
    expect(err.message).toContain('400');
    expect(err.message).toContain(reasons.slice(0, 300));
    expect(err.message).not.toContain(reasons.slice(0, 301));
  });

  it('reports a refused connection as retriable, with its cause', async () => {
    const { baseUrl } = await serve(() => ({ status: 202 }));
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const err = await sendError(httpSender(baseUrl, { retries: 0 })(batch, 200));
    expect(err.retriable).toBe(true);
    expect(err.cause).toBeDefined();
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('gives up on an attempt that gets no answer within timeoutMs', async () => {
    const { baseUrl, received } = await serve(() => undefined);
    const err = await sendError(httpSender(baseUrl, { retries: 0, timeoutMs: 100 })(batch, 200));
    expect(received).toHaveLength(1);
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('no answer within 100 ms');
  });
});
