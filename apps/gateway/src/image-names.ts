import path from 'node:path/posix';

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.gif': 'image/gif',
};

/** Folders whose images are ground-truth mattes for the images beside the folder. */
export const GROUND_TRUTH_FOLDERS: readonly string[] = ['gt', 'alpha'];

/** What to do with one named entry of an upload. */
export type EntryVerdict =
  | { kind: 'image'; name: string; contentType: string }
  /** A ground-truth matte for the image whose `groundTruthKey` is `key`. */
  | { kind: 'ground_truth'; name: string; key: string }
  | { kind: 'skip'; reason: string };

/** Path without its extension: `shoot/a.jpg` -> `shoot/a`. An image and its ground truth share it. */
export function groundTruthKey(imageName: string): string {
  const ext = path.extname(imageName);
  return ext ? imageName.slice(0, -ext.length) : imageName;
}

/**
 * Decide from its name whether an entry is an image to process. Names are normalised to a
 * relative POSIX path; anything that would escape the job (absolute, `..`) is refused.
 */
export function classifyEntry(rawName: string): EntryVerdict {
  const slashed = rawName.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) return { kind: 'skip', reason: 'absolute path refused' };
  const parts = slashed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { kind: 'skip', reason: 'path traversal refused' };
  if (parts.length === 0) return { kind: 'skip', reason: 'empty name' };
  if (parts[0] === '__MACOSX') return { kind: 'skip', reason: 'macOS metadata' };
  const base = parts[parts.length - 1]!;
  if (base.startsWith('.')) return { kind: 'skip', reason: 'hidden file' };
  const contentType = IMAGE_TYPES[path.extname(base).toLowerCase()];
  if (!contentType) return { kind: 'skip', reason: 'not an image' };
  // `<dir>/gt/<name>.png` is the ground truth of `<dir>/<name>.<any image extension>`.
  const folder = parts.length >= 2 ? parts[parts.length - 2]!.toLowerCase() : undefined;
  if (folder !== undefined && GROUND_TRUTH_FOLDERS.includes(folder)) {
    return { kind: 'ground_truth', name: parts.join('/'), key: groundTruthKey([...parts.slice(0, -2), base].join('/')) };
  }
  return { kind: 'image', name: parts.join('/'), contentType };
}

/** The archive format a file's name says it is, or null for anything else. */
export function archiveKind(name: string): 'zip' | 'tar' | 'tar.gz' | null {
  const n = name.toLowerCase();
  if (n.endsWith('.zip')) return 'zip';
  if (n.endsWith('.tar')) return 'tar';
  if (n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'tar.gz';
  return null;
}
