import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { ObjectStore } from '@nats-io/obj';
import { objectStream } from '@mesh/nats';
import { completedChunks, type Database, type JobStatus } from '@mesh/read-model';

/**
 * Entries of the download for one chunk, named after the image the user sent; the cut-out keeps
 * its stored format's extension (`.png`, or `.webp` when the job asked for it).
 */
export function resultNames(
  name: string,
  chunkId: string,
  used: Set<string>,
  cutoutExt = '.png',
): { cutout: string; matte: string; comparison: string } {
  const ext = path.extname(name);
  let stem = ext ? name.slice(0, -ext.length) : name;
  // Two inputs can share a stem (a.jpg, a.png): the later one gets its chunk id.
  if (used.has(stem)) stem = `${stem}-${chunkId}`;
  used.add(stem);
  return { cutout: `cutout/${stem}${cutoutExt}`, matte: `matte/${stem}.png`, comparison: `comparison/${stem}.jpg` };
}

/**
 * A zip of every completed chunk's cut-out, matte and comparison, plus `status.json` and `extras`. Entries are
 * added a page at a time and each object is opened only when the zip reaches it, so a job of
 * 100,000 chunks streams in bounded memory.
 */
export function downloadZip(
  db: Database,
  store: ObjectStore,
  jobId: string,
  status: JobStatus,
  /** Small files added at the end, next to `status.json` (the job report). */
  extras: readonly { name: string; data: Buffer }[] = [],
): Readable {
  const zip = new yazl.ZipFile();
  const chunks = completedChunks(db, jobId);
  const used = new Set<string>();
  let added = 0;
  let started = 0;
  let exhausted = false;

  const addObject = (object: string, entry: string) => {
    added++;
    zip.addReadStreamLazy(entry, { compress: false }, (cb) => {
      started++;
      // yazl may call this from inside addReadStreamLazy: refill outside the current add.
      setImmediate(refill);
      objectStream(store, object).then(
        (s) => cb(null, s),
        (err) => cb(err, undefined as never),
      );
    });
  };
  const refill = () => {
    while (!exhausted && added - started < 64) {
      const next = chunks.next();
      if (next.done) {
        exhausted = true;
        zip.addBuffer(Buffer.from(JSON.stringify(status, null, 2)), 'status.json');
        for (const extra of extras) zip.addBuffer(extra.data, extra.name);
        zip.end();
        return;
      }
      const c = next.value;
      const names = resultNames(c.name ?? c.chunk_id, c.chunk_id, used, c.cutout_object ? path.extname(c.cutout_object) : undefined);
      if (c.cutout_object) addObject(c.cutout_object, names.cutout);
      if (c.matte_object) addObject(c.matte_object, names.matte);
      if (c.comparison_object) addObject(c.comparison_object, names.comparison);
    }
  };
  refill();
  return zip.outputStream as Readable;
}
