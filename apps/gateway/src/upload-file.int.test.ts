import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { tempDir } from '@mesh/testing';
import { UploadFile } from './upload-file.js';

const KiB = 1024;

/** `data` cut into pieces of these sizes, in turn (as a socket hands them over). */
function cut(data: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    pieces.push(data.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

/** Whether this temp directory's file system takes O_DIRECT (tmpfs does not). */
async function takesDirectIo(dir: string): Promise<boolean> {
  const oDirect = constants.O_DIRECT as number | undefined;
  if (oDirect === undefined) return false;
  await writeFile(`${dir}/probe`, '');
  const handle = await open(`${dir}/probe`, constants.O_WRONLY | oDirect).catch(() => undefined);
  await handle?.close();
  return handle !== undefined;
}

describe('upload file (direct writes of whole blocks)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeEach(async () => {
    dir = await tempDir('mesh-upload-file-');
  });
  afterEach(() => dir.remove());

  for (const direct of [true, false]) {
    it(`writes every byte where it belongs, ragged starts and ends included (${direct ? 'direct' : 'cached'})`, async () => {
      // A PATCH that stops mid-block, one that starts there, pieces of odd sizes, more than the
      // 1 MiB of aligned memory in one write, and a write of a few bytes inside one block.
      const data = randomBytes(5 * 1024 * KiB + 777);
      const cuts = [0, 1000, 1000 + 4096, 1000 + 4096 + 3, 2 * 1024 * KiB + 1, 5 * 1024 * KiB, data.length];
      const file = `${dir.dir}/u`;
      await writeFile(file, '');
      const writer = await UploadFile.open(file, { direct });
      try {
        for (let i = 1; i < cuts.length; i++) {
          await writer.write(cut(data.subarray(cuts[i - 1], cuts[i]), [65536, 1, 4095, 70000]), cuts[i - 1]!);
          // What the cutter reads back on a miss (through the page cache) is what was written.
          const sofar = await readFile(file);
          assert.equal(sofar.length, cuts[i]);
          assert.ok(sofar.equals(data.subarray(0, cuts[i])), `bytes up to ${cuts[i]}`);
        }
      } finally {
        await writer.close();
      }
      assert.ok((await readFile(file)).equals(data));
    });
  }

  it('goes around the page cache where the file system allows, and stays in it when told to', async function () {
    if (!(await takesDirectIo(dir.dir))) this.skip(); // this temp directory's file system refuses O_DIRECT (tmpfs)
    const file = `${dir.dir}/u`;
    await writeFile(file, '');
    const direct = await UploadFile.open(file);
    const cached = await UploadFile.open(file, { direct: false });
    try {
      assert.equal(direct.direct, true);
      assert.equal(cached.direct, false);
    } finally {
      await direct.close();
      await cached.close();
    }
  });

  it('keeps two uploads written at once apart, and reuses aligned memory only once an upload is closed', async () => {
    const files = [`${dir.dir}/a`, `${dir.dir}/b`, `${dir.dir}/c`];
    const datas = files.map(() => randomBytes(3 * 1024 * KiB + 123));
    await Promise.all(files.map((f) => writeFile(f, '')));
    const write = async (i: number) => {
      const writer = await UploadFile.open(files[i]!);
      try {
        for (let at = 0; at < datas[i]!.length; at += 512 * KiB) {
          await writer.write(cut(datas[i]!.subarray(at, at + 512 * KiB), [65536]), at);
        }
      } finally {
        await writer.close();
      }
    };
    await Promise.all([write(0), write(1)]);
    // The third takes the aligned memory one of the first two gave back.
    await write(2);
    for (const [i, f] of files.entries()) assert.ok((await readFile(f)).equals(datas[i]!), f);
  });
});
