import type { IncomingMessage } from 'node:http';

/** Bytes gathered into one piece of the body: 1 MiB, where the request's pieces are 64 KiB. */
const PIECE_BYTES = 1024 * 1024;

/** The request ended before all its bytes arrived (the client went away). */
export class RequestBrokenOffError extends Error {
  constructor(cause?: unknown) {
    super('the request ended before its body did', { cause });
    this.name = 'RequestBrokenOffError';
  }
}

/**
 * A tus request's body as the web stream @tus/server reads, in pieces of up to 1 MiB: what the
 * socket held at one turn of the event loop, gathered into one. srvx's own stream (`Readable.toWeb`)
 * copies each 64 KiB piece the HTTP parser hands over into a new array, and every piece then passes
 * @tus/server's `Readable.fromWeb`, PassThrough and StreamLimiter one by one; while the gateway is
 * busy (a large upload) the socket holds many, and the same copy into one piece sends up to a
 * sixteenth as many through those hops (bench:ingest).
 *
 * The request is paused while a piece waits to be read, so back-pressure reaches the client's socket.
 * A request that breaks off fails the stream; @tus/server then ends its write with what reached the
 * store, and the upload's offset is what the file holds: bytes gathered here and not yet read are
 * dropped, as srvx's stream drops what its queue holds, and the client, which asks for the offset
 * before it resumes, sends them again. (What one turn read is handed on before the turn's closed
 * connections are seen, so a client that sent its bytes and then went away loses none.)
 */
export function requestBody(req: IncomingMessage): ReadableStream<Uint8Array> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let settled = false;
  let scheduled: NodeJS.Immediate | undefined;
  const take = (): Buffer => {
    const piece = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return piece;
  };
  const cleanup = () => {
    if (scheduled) clearImmediate(scheduled);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
  };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const handOn = () => {
    scheduled = undefined;
    if (settled || pendingBytes === 0) return;
    controller.enqueue(take());
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  };
  const onData = (data: Buffer) => {
    pending.push(data);
    pendingBytes += data.length;
    if (pendingBytes >= PIECE_BYTES) {
      if (scheduled) clearImmediate(scheduled);
      handOn();
    } else {
      // What the socket had now: handed on once this turn of the event loop has read it all.
      scheduled ??= setImmediate(handOn);
    }
  };
  const onEnd = () => {
    if (settled) return;
    settled = true;
    cleanup();
    if (pendingBytes > 0) controller.enqueue(take());
    controller.close();
  };
  /** Nothing more is handed on: the listeners go, and what was gathered is dropped. */
  const stop = () => {
    settled = true;
    cleanup();
    pending = [];
    pendingBytes = 0;
  };
  const fail = (err: RequestBrokenOffError) => {
    if (settled) return;
    stop();
    controller.error(err);
  };
  const onError = (err: Error) => fail(new RequestBrokenOffError(err));
  // 'close' before 'end': the connection went away mid-body.
  const onClose = () => {
    if (!req.complete) fail(new RequestBrokenOffError());
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
        req.on('close', onClose);
      },
      pull() {
        req.resume();
      },
      cancel() {
        // The rest of the body is read and dropped, so the request can be answered.
        stop();
        req.resume();
      },
    },
    { highWaterMark: 1 },
  );
}
