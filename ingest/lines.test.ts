import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { InputError, LineSplitter, openLines, type LineBatch, type LineReaderOptions } from './lines.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-lines-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Collected {
  readonly lines: string[];
  readonly numbers: number[];
  readonly overlong: { lineNumber: number; bytes: number; sample: string }[];
  readonly batches: number;
}

async function collect(source: string, options?: LineReaderOptions): Promise<Collected & { bytesRead: number; gzip: boolean; totalBytes: number | undefined }> {
  const reader = openLines(source, options);
  const out: Collected = { lines: [], numbers: [], overlong: [], batches: 0 };
  for await (const batch of reader) add(out, batch);
  return { ...out, bytesRead: reader.bytesRead, gzip: reader.gzip, totalBytes: reader.totalBytes };
}

function add(out: Collected, batch: LineBatch): void {
  out.lines.push(...batch.lines);
  out.numbers.push(...batch.lineNumbers);
  out.overlong.push(...batch.overlong);
  (out as { batches: number }).batches++;
}

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const SAMPLE = '{"a":1}\r\n\n{"b":"é😀"}\n\r\n  \n{"c":3}';

describe('openLines', () => {
  it('splits a plain file: CRLF, empty lines skipped but counted, last line without newline', async () => {
    const path = await file('plain.ndjson', SAMPLE);
    const got = await collect(path);
    expect(got.lines).toEqual(['{"a":1}', '{"b":"é😀"}', '  ', '{"c":3}']);
    expect(got.numbers).toEqual([1, 3, 5, 6]);
    expect(got.gzip).toBe(false);
    expect(got.bytesRead).toBe(Buffer.byteLength(SAMPLE));
    expect(got.totalBytes).toBe(Buffer.byteLength(SAMPLE));
  });

  it('gunzips by magic bytes, whatever the name', async () => {
    const path = await file('events.txt', gzipSync(SAMPLE));
    const got = await collect(path);
    expect(got.gzip).toBe(true);
    expect(got.lines).toEqual(['{"a":1}', '{"b":"é😀"}', '  ', '{"c":3}']);
    expect(got.bytesRead).toBe(gzipSync(SAMPLE).length);
  });

  it('reads a plain file named .gz as plain text', async () => {
    const path = await file('not-really.ndjson.gz', SAMPLE);
    expect((await collect(path)).lines).toHaveLength(4);
  });

  it('reads concatenated gzip members as one stream', async () => {
    const path = await file('two-members.gz', Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]));
    expect((await collect(path)).lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('joins lines and multi-byte characters that span chunks', async () => {
    const content = Array.from({ length: 50 }, (_, i) => `{"i":${i},"s":"${'ü'.repeat(i)}😀"}`).join('\n');
    const path = await file('small-chunks.ndjson', content);
    for (const chunkBytes of [1, 3, 7, 64]) {
      const got = await collect(path, { chunkBytes });
      expect(got.lines).toEqual(content.split('\n'));
      expect(got.batches).toBeGreaterThan(1);
    }
  });

  it('reads stdin when the source is "-", gzip or not, even in one-byte pieces', async () => {
    const pieces = (bytes: Uint8Array): Readable => Readable.from(Array.from(bytes, (b) => Buffer.from([b])));
    expect((await collect('-', { stdin: pieces(Buffer.from(SAMPLE)) })).lines).toHaveLength(4);
    const gz = await collect('-', { stdin: pieces(gzipSync(SAMPLE)) });
    expect(gz.gzip).toBe(true);
    expect(gz.lines).toHaveLength(4);
    expect(gz.totalBytes).toBeUndefined();
  });

  it('gives nothing for empty input', async () => {
    expect((await collect(await file('empty', ''))).lines).toEqual([]);
    expect((await collect('-', { stdin: Readable.from([]) })).lines).toEqual([]);
  });

  it('drops a UTF-8 byte order mark at the start', async () => {
    const path = await file('bom.ndjson', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n')]));
    expect((await collect(path)).lines).toEqual(['{"a":1}']);
  });

  it('reports overlong lines with their number and a sample, and keeps the lines around them', async () => {
    const long = `{"x":"${'y'.repeat(5_000)}"}`;
    const path = await file('overlong.ndjson', `{"a":1}\n${long}\r\n{"b":2}\n${long}`);
    for (const chunkBytes of [100, 1 << 16]) {
      const got = await collect(path, { maxLineBytes: 1_000, chunkBytes });
      expect(got.lines).toEqual(['{"a":1}', '{"b":2}']);
      expect(got.numbers).toEqual([1, 3]);
      expect(got.overlong.map((o) => o.lineNumber)).toEqual([2, 4]);
      expect(got.overlong[0]?.sample.startsWith('{"x":"yyy')).toBe(true);
      expect(got.overlong[0]?.sample.length).toBeLessThanOrEqual(200);
      expect(got.overlong[1]?.bytes).toBe(long.length);
    }
  });

  it('fails with an InputError naming the missing file', async () => {
    const missing = join(dir, 'nope.ndjson');
    await expect(collect(missing)).rejects.toThrow(new InputError(missing, Object.assign(new Error(), { code: 'ENOENT' })).message);
    await expect(collect(missing)).rejects.toBeInstanceOf(InputError);
  });

  it('fails with an InputError on a directory and on corrupt gzip', async () => {
    await expect(collect(dir)).rejects.toThrow(/is a directory/);
    const path = await file('corrupt.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff]));
    await expect(collect(path)).rejects.toThrow(/cannot read .*corrupt\.gz: /);
  });

  it('fails on truncated gzip rather than silently losing the tail', async () => {
    const whole = gzipSync(SAMPLE.repeat(100));
    const path = await file('truncated.gz', whole.subarray(0, whole.length - 20));
    await expect(collect(path)).rejects.toBeInstanceOf(InputError);
  });
});

describe('LineSplitter', () => {
  /** The obvious model: split the decoded text on LF, drop one trailing CR, skip empties. */
  function model(text: string): { lines: string[]; numbers: number[] } {
    const lines: string[] = [];
    const numbers: number[] = [];
    const body = text.startsWith('\ufeff') ? text.slice(1) : text;
    body.split('\n').forEach((piece, i) => {
      const line = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
      if (line !== '') {
        lines.push(line);
        numbers.push(i + 1);
      }
    });
    return { lines, numbers };
  }

  it('gives the same lines however the bytes are cut into chunks', () => {
    const lineText = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\r', ' ', '"', 'z'), maxLength: 12 });
    const input = fc.tuple(
      fc.array(fc.tuple(lineText, fc.constantFrom('\n', '\r\n')), { maxLength: 15 }),
      fc.option(lineText),
      fc.array(fc.nat(), { maxLength: 8 }),
    );
    fc.assert(
      fc.property(input, ([terminated, last, cutSeeds]) => {
        const text = terminated.map(([line, end]) => line + end).join('') + (last ?? '');
        const bytes = Buffer.from(text);
        const cuts = [...new Set(cutSeeds.map((seed) => (bytes.length === 0 ? 0 : seed % bytes.length)))].sort((a, b) => a - b);
        const splitter = new LineSplitter(1 << 20);
        const out: Collected = { lines: [], numbers: [], overlong: [], batches: 0 };
        let from = 0;
        for (const cut of [...cuts, bytes.length]) {
          const batch = splitter.push(bytes.subarray(from, cut));
          if (batch !== undefined) add(out, batch);
          from = cut;
        }
        const tail = splitter.end();
        if (tail !== undefined) add(out, tail);
        const expected = model(bytes.toString('utf8'));
        expect(out.lines).toEqual(expected.lines);
        expect(out.numbers).toEqual(expected.numbers);
      }),
      { numRuns: 2_000 },
    );
  });
});
