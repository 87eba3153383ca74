/** Connected pieces of a binary mask. */
export interface Components {
  /** Per pixel: 0 outside the mask, else the piece's number (1..count). */
  labels: Int32Array;
  count: number;
  /** Pixels of each piece, indexed by its number (sizes[0] is unused). */
  sizes: Int32Array;
}

function find(parent: Int32Array, x: number): number {
  let root = x;
  while (parent[root] !== root) root = parent[root]!;
  // Path compression keeps later finds short.
  while (parent[x] !== root) {
    const next = parent[x]!;
    parent[x] = root;
    x = next;
  }
  return root;
}

function union(parent: Int32Array, a: number, b: number): number {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra === rb) return ra;
  // The smaller label wins, so numbering follows raster order.
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/**
 * Label the connected pieces of `mask` (non-zero = inside), `width` x `height`, row-major, with
 * 4- or 8-connectivity. Run-based union-find: each row is cut into runs of set pixels, a run is
 * joined to the runs of the row above that touch it, then every run is filled with its piece's
 * number. Linear in the pixel count and fast on mattes, which are long runs.
 */
export function labelComponents(mask: Uint8Array, width: number, height: number, connectivity: 4 | 8): Components {
  const reach = connectivity === 8 ? 1 : 0;
  // Runs as parallel arrays: row, start (inclusive), end (exclusive), provisional label.
  let capacity = 1024;
  let runRow = new Int32Array(capacity);
  let runStart = new Int32Array(capacity);
  let runEnd = new Int32Array(capacity);
  let runs = 0;
  let parent = new Int32Array(capacity + 1);
  let previousFirst = 0;
  let previousCount = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const first = runs;
    let j = previousFirst;
    const previousEnd = previousFirst + previousCount;
    let x = 0;
    while (x < width) {
      while (x < width && !mask[row + x]) x++;
      if (x >= width) break;
      const start = x;
      while (x < width && mask[row + x]) x++;
      if (runs === capacity) {
        capacity *= 2;
        const grow = (a: Int32Array, size = capacity) => {
          const b = new Int32Array(size);
          b.set(a);
          return b;
        };
        [runRow, runStart, runEnd, parent] = [grow(runRow), grow(runStart), grow(runEnd), grow(parent, capacity + 1)];
      }
      const label = runs + 1;
      runRow[runs] = y;
      runStart[runs] = start;
      runEnd[runs] = x;
      parent[label] = label;
      // Runs above that overlap [start - reach, x + reach).
      while (j < previousEnd && runEnd[j]! + reach <= start) j++;
      for (let k = j; k < previousEnd && runStart[k]! < x + reach; k++) union(parent, label, k + 1);
      runs++;
    }
    previousFirst = first;
    previousCount = runs - first;
  }
  const labels = new Int32Array(width * height);
  const compact = new Int32Array(runs + 1);
  let count = 0;
  for (let r = 1; r <= runs; r++) if (find(parent, r) === r) compact[r] = ++count;
  const sizes = new Int32Array(count + 1);
  for (let r = 0; r < runs; r++) {
    const c = compact[find(parent, r + 1)]!;
    const start = runRow[r]! * width;
    labels.fill(c, start + runStart[r]!, start + runEnd[r]!);
    sizes[c]! += runEnd[r]! - runStart[r]!;
  }
  return { labels, count, sizes };
}
