import yazl from 'yazl';

/** Build a zip in memory from name -> bytes (tests and benchmarks only). */
export async function makeZip(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(data, name);
  zip.end();
  const parts: Buffer[] = [];
  for await (const part of zip.outputStream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Gateway limits for tests: small enough to hit. */
export const testLimits = {
  maxUploadSize: 50 * 1024 * 1024,
  maxEntryBytes: 20 * 1024 * 1024,
  maxUnpackedBytes: 40 * 1024 * 1024,
  maxRatio: 100,
  maxPixels: 60_000_000,
};
