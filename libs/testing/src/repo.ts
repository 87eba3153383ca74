import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root: the nearest folder above this file that holds nx.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'nx.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('nx.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** Real photographs shared by tests, demos and benchmarks (see ../shared/fixtures/photos/SOURCES.md). */
export function fixturePhotosDir(): string {
  return process.env.FIXTURE_PHOTOS ?? path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'photos');
}
