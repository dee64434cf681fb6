import { describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';
import { DEFAULT_RULES } from '../rules/config.js';
import { OutputError, formatSummary, replay, type ReplayOptions, type ReplaySummary } from './replay.js';

/** A writable that keeps what it gets, taking its time over each write, with a tiny buffer. */
function slowSink(): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk.toString('utf8'));
      setImmediate(done);
    },
  });
  return { stream, text: () => parts.join('') };
}

function nullSink(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

function options(input: string, overrides: Partial<ReplayOptions> = {}): ReplayOptions {
  return {
    input: '-',
    stdin: Readable.from([Buffer.from(input)]),
    config: DEFAULT_RULES,
    out: nullSink(),
    outName: 'stdout',
    stderr: nullSink(),
    progress: false,
    quiet: false,
    now: () => 0,
    ...overrides,
  };
}

const JUNK = Array.from({ length: 5_000 }, (_, i) => `junk line ${i}`).join('\n');

describe('replay', () => {
  it('writes every rejected record, in order, to a slow dead-letter stream', async () => {
    const sink = slowSink();
    const summary = await replay(options(JUNK, { deadLetter: sink.stream, deadLetterName: 'dead.ndjson' }));
    const records = sink
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; line: number; sample: string });
    expect(records).toHaveLength(5_000);
    expect(records.every((r, i) => r.type === 'rejected' && r.line === i + 1 && r.sample === `junk line ${i}`)).toBe(true);
    expect(summary.rejected).toBe(5_000);
    expect(summary.rejectedNotShown).toBe(0);
  });

  it('fails with an OutputError naming the target when a write fails', async () => {
    const run = replay(options(JUNK, { deadLetter: fullDisk(), deadLetterName: 'dead.ndjson' }));
    await expect(run).rejects.toBeInstanceOf(OutputError);
    await expect(run).rejects.toThrow('cannot write dead.ndjson: no space left on device');
  });

  it('cuts samples of rejected lines to 200 characters', async () => {
    const sink = slowSink();
    await replay(options(`{"type":"nope","pad":"${'x'.repeat(500)}"}`, { deadLetter: sink.stream }));
    const record = JSON.parse(sink.text()) as { reason: string; sample: string };
    expect(record.sample).toHaveLength(200);
    expect(record.reason).toBe('unknown type "nope" (expected request, log, metric, deploy, webhook)');
  });
});

function fullDisk(): Writable {
  const stream = new Writable({
    write: (_chunk, _encoding, done) => done(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })),
  });
  stream.on('error', () => {});
  return stream;
}

describe('formatSummary', () => {
  const base: ReplaySummary = {
    eventsRead: 12_345,
    accepted: 12_340,
    rejected: 5,
    rejectedNotShown: 0,
    rejectedByReason: [
      ['not JSON', 3],
      ['missing field "service"', 2],
    ],
    late: 7,
    unknownVersion: 11,
    decisionsByType: { verdict: 2, page: 1 },
    decisions: 3,
    bytesRead: 1_000_000,
    elapsedMs: 500,
    outputClosed: false,
  };

  it('says what was read, accepted, rejected by reason, dropped, decided, and how fast', () => {
    expect(formatSummary(base)).toBe(
      [
        'vigil replay: 12,345 events read, 12,340 accepted, 5 rejected (not JSON: 3; missing field "service": 2)',
        '  late events dropped: 7, events of unknown version: 11',
        '  decisions: 3 (page: 1, verdict: 2)',
        '  elapsed 0.50 s, 24,690 events/s',
        '',
      ].join('\n'),
    );
  });

  it('mentions rejected lines that were not shown, and a closed output', () => {
    const text = formatSummary({ ...base, rejectedNotShown: 4, outputClosed: true });
    expect(text).toContain('4 more rejected lines not shown (use --dead-letter FILE to keep them all)');
    expect(text).toContain('output closed early');
  });
});
