/**
 * Line source for recorded streams: a file or stdin, gzip or not, read in large chunks
 * and split by hand. Gzip is recognised by its magic bytes, never by the file name,
 * because recordings get renamed and piped.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isUtf8 } from 'node:buffer';

/** Lines of one chunk of input, with their 1-based line numbers in the (decompressed) input. */
export interface LineBatch {
  /** Non-empty lines, without their line terminator (LF or CRLF). */
  readonly lines: readonly string[];
  /** `lineNumbers[i]` is the line number of `lines[i]`; empty lines are skipped but still counted. */
  readonly lineNumbers: readonly number[];
  /** Lines dropped for being longer than the limit; only their head is kept, as a sample. */
  readonly overlong: readonly OverlongLine[];
  /** Lines dropped for not being valid UTF-8 (rather than decoded with replacement characters). */
  readonly notUtf8?: readonly NotUtf8Line[];
}

/** A line whose bytes are not valid UTF-8. */
export interface NotUtf8Line {
  readonly lineNumber: number;
  /** The line's first bytes, decoded with replacement characters, for the rejection record. */
  readonly sample: string;
}

/** A line too long to keep in memory whole. */
export interface OverlongLine {
  readonly lineNumber: number;
  /** Length of the whole line in bytes. */
  readonly bytes: number;
  /** The line's first bytes, decoded (a multi-byte character cut at the end shows as U+FFFD). */
  readonly sample: string;
}

/** An iterable of line batches that also reports how far it has read. */
export interface LineReader extends AsyncIterable<LineBatch> {
  /** Bytes taken from the source so far (compressed bytes when the input is gzip). */
  readonly bytesRead: number;
  /** Size of the source when it is a regular file, else undefined. */
  readonly totalBytes: number | undefined;
  /** Whether the input turned out to be gzip; known once the first batch has been read. */
  readonly gzip: boolean;
}

/** Tuning and injection points of a line reader. */
export interface LineReaderOptions {
  /** The stream `-` stands for; process.stdin unless given (tests pass their own). */
  readonly stdin?: AsyncIterable<Uint8Array>;
  /** Lines longer than this many bytes are reported as overlong instead of being kept (default 1 MiB). */
  readonly maxLineBytes?: number;
  /** Size of the reads from a file and of the gunzip output chunks (default 256 KiB). */
  readonly chunkBytes?: number;
}

/** Failure to read the input, naming the path. */
export class InputError extends Error {
  /** Reading again will not help: the file is missing, unreadable, or not gzip after all. */
  readonly retriable = false;
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot read ${path === '-' ? 'stdin' : path}: ${describeIoError(cause)}`, { cause });
    this.name = 'InputError';
  }
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const LF = 10;
const SAMPLE_BYTES = 200;

/** Opens a file path, or `-` for stdin, as batches of lines; nothing is read until iteration starts. */
export function openLines(source: string, options: LineReaderOptions = {}): LineReader {
  const maxLineBytes = options.maxLineBytes ?? 1 << 20;
  const chunkBytes = options.chunkBytes ?? 1 << 18;
  const progress = { bytesRead: 0, totalBytes: undefined as number | undefined, gzip: false };

  async function* rawChunks(): AsyncGenerator<Uint8Array> {
    let input: AsyncIterable<Uint8Array>;
    if (source === '-') {
      input = options.stdin ?? process.stdin;
    } else {
      // stat first so that a missing file fails with its own error before any stream exists.
      const info = await stat(source);
      if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      if (info.isFile()) progress.totalBytes = info.size;
      input = createReadStream(source, { highWaterMark: chunkBytes });
    }
    for await (const chunk of input) {
      // Empty reads would defeat the look at the first bytes for the gzip magic.
      if (chunk.length === 0) continue;
      progress.bytesRead += chunk.length;
      yield chunk;
    }
  }

  async function* decompressed(): AsyncGenerator<Uint8Array> {
    const raw = rawChunks();
    const first = await raw.next();
    if (first.done === true) return;
    const head = first.value;
    // A slow pipe may hand over a single byte first, too little to show the two-byte magic.
    let start = head;
    if (start.length === 1) {
      const second = await raw.next();
      if (second.done !== true) start = Buffer.concat([head, second.value]);
    }
    if (start.length >= 2 && start[0] === GZIP_MAGIC_0 && start[1] === GZIP_MAGIC_1) {
      progress.gzip = true;
      const gunzip = createGunzip({ chunkSize: chunkBytes });
      const compressed = Readable.from(prepend(start, raw), { objectMode: false });
      // Errors of either side reach the consumer through the gunzip stream's iterator.
      pipeline(compressed, gunzip, () => {});
      yield* gunzip as AsyncIterable<Uint8Array>;
    } else {
      yield start;
      yield* raw;
    }
  }

  async function* batches(): AsyncGenerator<LineBatch> {
    const splitter = new LineSplitter(maxLineBytes);
    try {
      for await (const chunk of decompressed()) {
        const batch = splitter.push(chunk);
        if (batch !== undefined) yield batch;
      }
    } catch (err) {
      throw err instanceof InputError ? err : new InputError(source, err);
    }
    const last = splitter.end();
    if (last !== undefined) yield last;
  }

  return {
    get bytesRead() {
      return progress.bytesRead;
    },
    get totalBytes() {
      return progress.totalBytes;
    },
    get gzip() {
      return progress.gzip;
    },
    [Symbol.asyncIterator]: () => batches(),
  };
}

async function* prepend(first: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield first;
    while (true) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    // Closes the file when the reader is abandoned early.
    await rest.return?.();
  }
}

/**
 * Splits a byte stream into lines. A chunk is cut at its last LF and only the head is
 * decoded: an LF byte never occurs inside a multi-byte UTF-8 character, so the cut
 * never splits one, and the tail waits for the next chunk.
 */
export class LineSplitter {
  private readonly carry: Uint8Array[] = [];
  private carryBytes = 0;
  private lineNumber = 0;
  private atStart = true;
  /** The line being skipped because it outgrew the limit, while its end is not yet seen. */
  private skipping: { readonly lineNumber: number; bytes: number; readonly sample: string } | undefined;

  /** Splits lines longer than `maxLineBytes` off as overlong. */
  constructor(private readonly maxLineBytes: number) {}

  /** Takes the next chunk; returns the lines it completed, if any. */
  push(chunk: Uint8Array): LineBatch | undefined {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.atStart) {
      if (bytes.length === 0) return undefined;
      this.atStart = false;
      // A UTF-8 byte order mark would make the first line invalid JSON.
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    const overlong: OverlongLine[] = [];
    if (this.skipping !== undefined) {
      const firstLf = bytes.indexOf(LF);
      if (firstLf < 0) {
        this.skipping.bytes += bytes.length;
        return undefined;
      }
      overlong.push(finished(this.skipping, firstLf));
      this.skipping = undefined;
      bytes = bytes.subarray(firstLf + 1);
    }
    const lastLf = bytes.lastIndexOf(LF);
    if (lastLf < 0) {
      this.keep(bytes);
      return overlong.length > 0 ? { lines: [], lineNumbers: [], overlong } : undefined;
    }
    let head = bytes.subarray(0, lastLf);
    if (this.carryBytes > 0) {
      this.carry.push(head);
      head = Buffer.concat(this.carry, this.carryBytes + head.length);
      this.carry.length = 0;
      this.carryBytes = 0;
    }
    const batch = isUtf8(head) ? this.split(head.toString('utf8'), overlong) : this.splitBytes(head, overlong);
    this.keep(bytes.subarray(lastLf + 1));
    return batch;
  }

  /** Ends the input: returns the final line when it had no line terminator, and any line still being skipped. */
  end(): LineBatch | undefined {
    const overlong: OverlongLine[] = [];
    if (this.skipping !== undefined) overlong.push(finished(this.skipping, 0));
    this.skipping = undefined;
    if (this.carryBytes === 0) return overlong.length > 0 ? { lines: [], lineNumbers: [], overlong } : undefined;
    const tail = Buffer.concat(this.carry, this.carryBytes);
    this.carry.length = 0;
    this.carryBytes = 0;
    return isUtf8(tail) ? this.split(tail.toString('utf8'), overlong) : this.splitBytes(tail, overlong);
  }

  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.carryBytes + bytes.length > this.maxLineBytes) {
      const all = Buffer.concat([...this.carry, bytes]);
      this.carry.length = 0;
      this.carryBytes = 0;
      this.skipping = {
        lineNumber: ++this.lineNumber,
        bytes: all.length,
        sample: all.subarray(0, SAMPLE_BYTES).toString('utf8'),
      };
      return;
    }
    // A copy, so that a short tail does not keep its whole chunk alive.
    this.carry.push(Buffer.from(bytes));
    this.carryBytes += bytes.length;
  }

  /**
   * Splits bytes holding some invalid UTF-8 into lines, each checked on its own: a bad line
   * is reported, never decoded with replacement characters and passed on as if it were the
   * input; the good lines around it are kept.
   */
  private splitBytes(bytes: Buffer, overlong: OverlongLine[]): LineBatch {
    const lines: string[] = [];
    const lineNumbers: number[] = [];
    const notUtf8: NotUtf8Line[] = [];
    let from = 0;
    while (from <= bytes.length) {
      let to = bytes.indexOf(LF, from);
      if (to < 0) to = bytes.length;
      const line = bytes.subarray(from, to);
      if (isUtf8(line)) {
        const part = this.split(line.toString('utf8'), overlong);
        lines.push(...part.lines);
        lineNumbers.push(...part.lineNumbers);
      } else {
        notUtf8.push({ lineNumber: ++this.lineNumber, sample: line.subarray(0, SAMPLE_BYTES).toString('utf8') });
      }
      from = to + 1;
    }
    return { lines, lineNumbers, overlong, notUtf8 };
  }

  /** Splits decoded text into lines; the text holds whole lines only, its own last LF already cut off. */
  private split(text: string, overlong: OverlongLine[]): LineBatch {
    const lines: string[] = [];
    const lineNumbers: number[] = [];
    let lineNumber = this.lineNumber;
    let from = 0;
    const n = text.length;
    while (from <= n) {
      let to = text.indexOf('\n', from);
      if (to < 0) to = n;
      lineNumber++;
      const end = to > from && text.charCodeAt(to - 1) === 13 ? to - 1 : to;
      if (end > from) {
        if (end - from > this.maxLineBytes) {
          overlong.push({ lineNumber, bytes: Buffer.byteLength(text.slice(from, end)), sample: text.slice(from, from + SAMPLE_BYTES) });
        } else {
          lines.push(text.slice(from, end));
          lineNumbers.push(lineNumber);
        }
      }
      from = to + 1;
    }
    this.lineNumber = lineNumber;
    return { lines, lineNumbers, overlong };
  }
}

function finished(line: OverlongLine, extraBytes: number): OverlongLine {
  return { lineNumber: line.lineNumber, bytes: line.bytes + extraBytes, sample: line.sample };
}

/** A short, human description of a file-system error. */
export function describeIoError(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return `corrupt gzip data (${err instanceof Error ? err.message : String(err)})`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
