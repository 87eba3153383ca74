import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from '@mesh/testing';
import { RequestBrokenOffError, requestBody } from './tus-body.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Sends the file argv[2] as a PATCH body to 127.0.0.1:argv[1]; exits 0 on a 200 answer. */
const CLIENT = `
const http = require('node:http');
const fs = require('node:fs');
const [port, file] = process.argv.slice(1);
const req = http.request({ port: Number(port), host: '127.0.0.1', method: 'PATCH',
  headers: { 'content-length': String(fs.statSync(file).size) } }, (res) => {
  res.resume();
  res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 1));
});
req.on('error', (err) => { console.error(err); process.exit(2); });
fs.createReadStream(file, { highWaterMark: 64 * 1024 }).pipe(req);
`;

/** A server that hands each request's body stream to the test, and the port it listens on. */
async function bodyServer(): Promise<{
  port: number;
  next(): Promise<{ req: IncomingMessage; body: ReadableStream<Uint8Array>; answer(): void }>;
  close(): Promise<void>;
}> {
  const waiting: ((r: { req: IncomingMessage; body: ReadableStream<Uint8Array>; answer(): void }) => void)[] = [];
  const server = http.createServer((req, res) => {
    const body = requestBody(req);
    waiting.shift()?.({ req, body, answer: () => res.end('ok') });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Send `data` as a PATCH body in writes of `writeBytes`; resolves with the answer's status. */
function send(port: number, data: Buffer, writeBytes: number): { request: http.ClientRequest; answered: Promise<number> } {
  const request = http.request({ port, host: '127.0.0.1', method: 'PATCH', headers: { 'content-length': String(data.length) } });
  const answered = new Promise<number>((resolve, reject) => {
    request.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.on('error', reject);
  });
  void (async () => {
    for (let at = 0; at < data.length; at += writeBytes) {
      if (!request.write(data.subarray(at, at + writeBytes))) await new Promise((r) => request.once('drain', r));
      if (request.destroyed) return;
    }
    request.end();
  })();
  return { request, answered };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const pieces: Uint8Array[] = [];
  for await (const piece of body as unknown as AsyncIterable<Uint8Array>) pieces.push(piece);
  return pieces;
}

describe('tus request body (1 MiB pieces)', () => {
  let server: Awaited<ReturnType<typeof bodyServer>>;
  beforeEach(async () => {
    server = await bodyServer();
  });
  afterEach(() => server.close());

  it('hands on every byte in order, what waited in the socket gathered into pieces of up to 1 MiB', async () => {
    const data = randomBytes(24 * MiB + 123 * KiB);
    const file = await tempDir('mesh-tus-body-');
    try {
      await writeFile(`${file.dir}/body`, data);
      const arriving = server.next();
      // The client in its own process, as a real one is: it goes on sending while this one is busy.
      const client = spawn(process.execPath, ['-e', CLIENT, String(server.port), `${file.dir}/body`], { stdio: 'inherit' });
      const exited = new Promise<number | null>((resolve) => client.on('exit', resolve));
      const { body, answer } = await arriving;
      const pieces: Uint8Array[] = [];
      for await (const piece of body as unknown as AsyncIterable<Uint8Array>) {
        pieces.push(piece);
        // A busy gateway: the event loop comes back to the socket every 20 ms.
        const until = Date.now() + 20;
        while (Date.now() < until);
      }
      answer();
      assert.equal(await exited, 0);
      assert.deepEqual(Buffer.concat(pieces), data);
      const sizes = pieces.map((p) => p.length);
      assert.ok(Math.max(...sizes) < MiB + 64 * KiB, `pieces of ${sizes.join(', ')} bytes`);
      const sorted = [...sizes].sort((a, b) => a - b);
      assert.ok(sorted[sorted.length >> 1]! >= 512 * KiB, `pieces of ${sizes.join(', ')} bytes, not gathered`);
    } finally {
      await file.remove();
    }
  });

  it('an empty body ends at once', async () => {
    const arriving = server.next();
    const { answered } = send(server.port, Buffer.alloc(0), 1);
    const { body, answer } = await arriving;
    assert.deepEqual(await readAll(body), []);
    answer();
    assert.equal(await answered, 200);
  });

  it('holds the client back while nothing reads the body', async () => {
    const data = randomBytes(64 * MiB);
    const arriving = server.next();
    const { request } = send(server.port, data, 64 * KiB);
    const { req, body } = await arriving;
    let received = 0;
    req.on('data', (d: Buffer) => (received += d.length));
    await new Promise((r) => setTimeout(r, 500));
    // One piece queued, one being gathered, and what the sockets hold: far from the 64 MiB sent.
    assert.ok(req.isPaused(), 'the request is paused');
    assert.ok(received < 4 * MiB, `${received} bytes taken from the socket while nobody read`);
    const reader = body.getReader();
    let read = 0;
    while (read < 16 * MiB) read += (await reader.read()).value?.length ?? 0;
    assert.ok(received >= 15 * MiB, `reading lets the bytes flow again (${received} bytes)`);
    request.destroy();
  });

  it('a request that breaks off fails the stream with a named error', async () => {
    const data = randomBytes(8 * MiB);
    const arriving = server.next();
    const { request, answered } = send(server.port, data, 64 * KiB);
    answered.catch(() => undefined);
    const { body } = await arriving;
    const reader = body.getReader();
    let read = 0;
    while (read < 2 * MiB) read += (await reader.read()).value?.length ?? 0;
    request.destroy();
    await assert.rejects(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
      RequestBrokenOffError,
    );
  });
});
