import { Transform, type Readable } from 'node:stream';
import zlib from 'node:zlib';

/** The archive cannot be read past `offset`; what came before it stands. */
export class ArchiveDamagedError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ArchiveDamagedError';
  }
}

/** One entry was refused (a bomb, a corrupt entry); the archive goes on. */
export class EntryRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryRejectedError';
  }
}

/** Limits on what an archive may unpack to. */
export interface ArchiveLimits {
  /** Largest uncompressed size of one entry. */
  maxEntryBytes: number;
  /** Largest uncompressed / compressed ratio of one entry (checked once it has unpacked 1 MiB). */
  maxRatio: number;
}

export interface ZipEntry {
  name: string;
  /** The entry's uncompressed bytes; errors with EntryRejectedError for a bomb or a bad CRC. */
  stream: Readable;
}

export interface ZipCallbacks {
  /** Consume `entry.stream` to its end (store it, or drain it). */
  onEntry(entry: ZipEntry): Promise<void>;
  /** An entry the reader itself cannot unpack (encrypted, unknown method), with why. */
  onSkip(name: string, reason: string): void;
}

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const END64 = 0x06064b50;
const DESCRIPTOR = Buffer.from([0x50, 0x4b, 0x07, 0x08]);
const MAX32 = 0xffffffff;
const RATIO_GRACE = 1024 * 1024;

/**
 * A deflated entry of up to `compressed` bytes is held whole and inflated in one synchronous call
 * (up to `output` bytes out) instead of through a zlib stream: a photo's few hundred kilobytes
 * inflate in well under a millisecond, while a stream hands every piece to libuv's threads and back,
 * and the next entry waits for the last. Larger entries, and any that fail in one call, stream.
 */
const INFLATE_AT_ONCE = { compressed: 4 * 1024 * 1024, output: 32 * 1024 * 1024 };

/** Inflate a held entry in one call, within its limits; undefined if it must stream instead. */
function inflateAtOnce(compressed: Buffer, limits: ArchiveLimits): Buffer | undefined {
  const cap = Math.min(INFLATE_AT_ONCE.output, limits.maxEntryBytes, Math.max(RATIO_GRACE, compressed.length * limits.maxRatio));
  try {
    return zlib.inflateRawSync(compressed, { maxOutputLength: Math.max(1, cap) });
  } catch {
    // Larger than one call may make, or not valid deflate data: the stream unpacks it, or says
    // why not, with the same checks and words as for any large entry.
    return undefined;
  }
}

/** How many bytes at the end of `buf` (0-3) are the first bytes of a descriptor's signature. */
function partialSignatureAtEnd(buf: Buffer): number {
  for (let n = Math.min(3, buf.length); n > 0; n--) {
    if (buf.subarray(buf.length - n).equals(DESCRIPTOR.subarray(0, n))) return n;
  }
  return 0;
}

/** Pull-based reader over an async iterable of buffers, counting the bytes it has consumed. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  /** Bytes consumed so far: the archive offset of the next byte. */
  offset = 0;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(input: AsyncIterable<Uint8Array>) {
    this.it = input[Symbol.asyncIterator]();
  }
  get available(): number {
    return this.buf.length - this.pos;
  }
  /** Read one more chunk from the input; false at its end. */
  async more(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.buf = this.available === 0 ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    return true;
  }
  /** Ensure `n` bytes are buffered; false if the input ends first. */
  async need(n: number): Promise<boolean> {
    while (this.available < n) if (!(await this.more())) return false;
    return true;
  }
  peek(n: number): Buffer {
    return this.buf.subarray(this.pos, this.pos + n);
  }
  take(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += out.length;
    this.offset += out.length;
    return out;
  }
  /** Up to `max` bytes, reading more input only when none is buffered; empty at the end. */
  async takeUpTo(max: number): Promise<Buffer> {
    if (this.available === 0 && !(await this.more())) return Buffer.alloc(0);
    return this.take(Math.min(max, this.available));
  }
  /**
   * Put bytes back in front (read past the end of an entry while looking for its descriptor).
   * Nearly always nothing else is buffered, and the bytes become the buffer as they are: copying
   * them cost a piece's length per entry (a 1 MiB piece holds several photos).
   */
  unread(bytes: Buffer): void {
    this.buf = this.available === 0 ? bytes : Buffer.concat([bytes, this.buf.subarray(this.pos)]);
    this.pos = 0;
    this.offset -= bytes.length;
  }
  async drainAll(): Promise<void> {
    this.take(this.available);
    while (await this.more()) this.take(this.available);
  }
}

interface Header {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  zip64: boolean;
}

function parseExtra(extra: Buffer, h: Header): void {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i);
    const size = extra.readUInt16LE(i + 2);
    if (id === 0x0001) {
      h.zip64 = true;
      let p = i + 4;
      if (h.uncompressedSize === MAX32 && p + 8 <= i + 4 + size) {
        h.uncompressedSize = Number(extra.readBigUInt64LE(p));
        p += 8;
      }
      if (h.compressedSize === MAX32 && p + 8 <= i + 4 + size) h.compressedSize = Number(extra.readBigUInt64LE(p));
    }
    i += 4 + size;
  }
}

/** Counts, checks the CRC and size, and enforces the bomb limits on an entry's uncompressed bytes. */
class EntryCheck extends Transform {
  private crc = 0;
  private bytes = 0;
  expected: { crc: number; size: number } | undefined;
  compressedSoFar = 0;
  constructor(
    private readonly name: string,
    private readonly limits: ArchiveLimits,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxEntryBytes) {
      return done(new EntryRejectedError(`unpacks to more than ${this.limits.maxEntryBytes} bytes (limit per entry)`));
    }
    if (this.bytes > RATIO_GRACE && this.bytes > this.limits.maxRatio * Math.max(1, this.compressedSoFar)) {
      return done(new EntryRejectedError(`compression ratio above ${this.limits.maxRatio}:1 (a zip bomb?)`));
    }
    this.crc = zlib.crc32(chunk, this.crc);
    done(null, chunk);
  }
  override _flush(done: (err?: Error | null) => void): void {
    const e = this.expected;
    if (e && (e.crc >>> 0 !== this.crc >>> 0 || e.size !== this.bytes)) {
      return done(new EntryRejectedError(`is corrupt: its bytes do not match the archive's checksum`));
    }
    done();
  }
}

function waitDrain(stream: NodeJS.WritableStream & { destroyed?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      stream.removeListener('error', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

/**
 * Read a zip archive front to back as it streams in, without the central directory: local headers,
 * ZIP64 extra fields, stored and deflated entries, and data descriptors (32- and 64-bit sizes, found
 * by their signature and checked against the byte count). Each entry is handed to `onEntry`, which
 * must consume it before the next is read, so memory stays bounded whatever the archive's size.
 * Throws ArchiveDamagedError where the archive stops making sense; entries before that are done.
 */
export async function readZip(input: AsyncIterable<Uint8Array>, limits: ArchiveLimits, cb: ZipCallbacks): Promise<number> {
  const src = new ByteSource(input);
  let entries = 0;
  let last = '(start of archive)';
  const damaged = (what: string) =>
    new ArchiveDamagedError(`the zip archive is damaged at byte ${src.offset}, after ${last}: ${what}`, src.offset);

  for (;;) {
    if (!(await src.need(4))) {
      if (entries === 0 && src.offset === 0) throw new ArchiveDamagedError('the zip archive is empty', 0);
      throw damaged('it ends without its central directory (truncated?)');
    }
    const sig = src.peek(4).readUInt32LE(0);
    if (sig === CENTRAL || sig === END || sig === END64) {
      if (entries === 0 && sig !== END) throw damaged('no entries before the central directory');
      await src.drainAll();
      return entries;
    }
    if (sig !== LOCAL) throw damaged(entries === 0 ? 'this is not a zip archive' : 'unexpected bytes where an entry should start');
    if (!(await src.need(30))) throw damaged('it ends inside an entry header (truncated?)');
    const fixed = src.peek(30);
    const nameLength = fixed.readUInt16LE(26);
    const extraLength = fixed.readUInt16LE(28);
    if (!(await src.need(30 + nameLength + extraLength))) throw damaged('it ends inside an entry header (truncated?)');
    const head = src.take(30 + nameLength + extraLength);
    const h: Header = {
      flags: head.readUInt16LE(6),
      method: head.readUInt16LE(8),
      crc: head.readUInt32LE(14),
      compressedSize: head.readUInt32LE(18),
      uncompressedSize: head.readUInt32LE(22),
      name: head.subarray(30, 30 + nameLength).toString('utf8'),
      zip64: false,
    };
    parseExtra(head.subarray(30 + nameLength), h);
    const hasDescriptor = (h.flags & 0x08) !== 0;
    const sizeKnown = !hasDescriptor || h.compressedSize > 0;
    last = `entry '${h.name}'`;

    let reason: string | undefined;
    if (h.flags & 0x01) reason = 'encrypted entries are not supported';
    else if (h.method !== 0 && h.method !== 8) reason = `compression method ${h.method} is not supported (only stored and deflate)`;
    const isDirectory = h.name.endsWith('/');

    // Where the entry's compressed bytes go: into the consumer's stream, or nowhere. A deflated
    // entry is held until its end while it is small, then inflated in one call (see INFLATE_AT_ONCE).
    let sink: EntryCheck | zlib.InflateRaw | undefined;
    let check: EntryCheck | undefined;
    let consumed: Promise<void> | undefined;
    let held: Buffer[] | undefined;
    let heldBytes = 0;
    let discard = reason !== undefined || isDirectory;
    const openSink = (entryCheck: EntryCheck): EntryCheck | zlib.InflateRaw => {
      // A stored entry's bytes are its contents: they go straight into the check.
      if (h.method === 0) return entryCheck;
      const opened = zlib.createInflateRaw();
      opened.on('error', (err) => entryCheck.destroy(new EntryRejectedError(`cannot be unpacked: ${err.message}`)));
      // A refused entry (bomb, bad data) stops unpacking; its remaining bytes are skipped.
      entryCheck.on('close', () => opened.destroy());
      opened.pipe(entryCheck);
      return opened;
    };
    if (!discard) {
      check = new EntryCheck(h.name, limits);
      if (h.method === 8) held = [];
      else sink = openSink(check);
      entries++;
      consumed = cb.onEntry({ name: h.name, stream: check }).catch((err: unknown) => {
        discard = true;
        throw err;
      });
      consumed.catch(() => undefined);
    } else if (reason) {
      cb.onSkip(h.name, reason);
    }

    const toSink = async (bytes: Buffer) => {
      if (discard || !check || check.destroyed) return;
      sink ??= openSink(check);
      if (sink.destroyed) return;
      if (!sink.write(bytes)) await waitDrain(sink);
    };
    const write = async (bytes: Buffer) => {
      if (check) check.compressedSoFar += bytes.length;
      if (held) {
        // Views into the input's buffers, which are never written to again: safe to hold.
        held.push(bytes);
        heldBytes += bytes.length;
        if (heldBytes <= INFLATE_AT_ONCE.compressed) return;
        const parts = held;
        held = undefined;
        for (const part of parts) await toSink(part);
        return;
      }
      await toSink(bytes);
    };

    let crc = h.crc;
    let size = h.uncompressedSize;
    if (sizeKnown) {
      for (let left = h.compressedSize; left > 0; ) {
        const part = await src.takeUpTo(left);
        if (part.length === 0) {
          // The entry's consumer sees its stream break: a cut-off entry is not a chunk.
          check?.destroy();
          throw damaged(`it ends inside the data (${left} bytes missing; truncated?)`);
        }
        left -= part.length;
        await write(part);
      }
      if (hasDescriptor) {
        const len = (await src.need(4)) && src.peek(4).equals(DESCRIPTOR) ? 4 : 0;
        const body = h.zip64 ? 20 : 12;
        if (!(await src.need(len + body))) throw damaged('it ends inside a data descriptor (truncated?)');
        const d = src.take(len + body);
        crc = d.readUInt32LE(len);
        size = h.zip64 ? Number(d.readBigUInt64LE(len + 12)) : d.readUInt32LE(len + 8);
      }
    } else {
      // Sizes follow the data: find the descriptor whose compressed size equals the bytes before it.
      let dataSeen = 0;
      let window: Buffer = Buffer.alloc(0);
      let found = false;
      while (!found) {
        const part = await src.takeUpTo(1 << 20);
        if (part.length === 0) {
          // The input ended: a descriptor that ends exactly here closes the last entry.
          const i = window.lastIndexOf(DESCRIPTOR);
          const len = i >= 0 ? window.length - i : 0;
          const csize = len === 24 ? Number(window.readBigUInt64LE(i + 8)) : len === 16 ? window.readUInt32LE(i + 8) : -1;
          if (csize !== dataSeen + i) {
            check?.destroy();
            throw damaged('it ends inside the data of an entry (truncated?)');
          }
          await write(window.subarray(0, i));
          crc = window.readUInt32LE(i + 4);
          size = len === 24 ? Number(window.readBigUInt64LE(i + 16)) : window.readUInt32LE(i + 12);
          break;
        }
        window = window.length === 0 ? part : Buffer.concat([window, part]);
        let from = 0;
        // Keep back what could be the start of a descriptor: a signature cut by the end of the
        // window (below), or a whole one without the 28 bytes that check it (in the loop). Most
        // windows keep nothing back, so the next piece starts a new window and is not copied.
        let safe = window.length - partialSignatureAtEnd(window);
        for (let i = window.indexOf(DESCRIPTOR, from); i >= 0; i = window.indexOf(DESCRIPTOR, from)) {
          if (i + 28 > window.length) {
            safe = Math.min(safe, i);
            break;
          }
          const k = dataSeen + i;
          // A 32-bit (16-byte) or ZIP64 (24-byte) descriptor: its compressed size must equal the
          // bytes before it, and a zip signature must follow it.
          const shapes = h.zip64 ? [24, 16] : [16, 24];
          const fits = (len: number) => {
            const csize = len === 24 ? Number(window.readBigUInt64LE(i + 8)) : window.readUInt32LE(i + 8);
            const next = window.readUInt32LE(i + len);
            return csize === k && (next === LOCAL || next === CENTRAL || next === END || next === END64);
          };
          const len = shapes.find(fits);
          if (len !== undefined) {
            await write(window.subarray(0, i));
            crc = window.readUInt32LE(i + 4);
            size = len === 24 ? Number(window.readBigUInt64LE(i + 16)) : window.readUInt32LE(i + 12);
            src.unread(window.subarray(i + len));
            found = true;
            break;
          }
          from = i + 1;
        }
        if (!found) {
          await write(window.subarray(0, safe));
          dataSeen += safe;
          window = window.subarray(safe);
        }
      }
    }

    if (check) {
      check.expected = { crc, size };
      if (held) {
        const compressed = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        held = undefined;
        const whole = discard || check.destroyed ? undefined : inflateAtOnce(compressed, limits);
        if (whole) check.end(whole.length > 0 ? whole : undefined);
        else await toSink(compressed);
      }
      if (sink) {
        if (!discard) sink.end();
        else sink.destroy();
      } else if (!check.writableEnded && !check.destroyed) check.end();
      await consumed!.catch(() => undefined);
      await consumed;
    }
  }
}
