import assert from 'node:assert/strict';
import { classifyEntry, groundTruthKey } from './image-names.js';

describe('upload entry names', () => {
  it('takes images in gt/ or alpha/ as the ground truth of the image beside the folder', () => {
    assert.deepEqual(classifyEntry('shoot/gt/a.png'), { kind: 'ground_truth', name: 'shoot/gt/a.png', key: 'shoot/a' });
    assert.deepEqual(classifyEntry('shoot/day 1/ALPHA/b.tif'), { kind: 'ground_truth', name: 'shoot/day 1/ALPHA/b.tif', key: 'shoot/day 1/b' });
    assert.deepEqual(classifyEntry('gt/c.png'), { kind: 'ground_truth', name: 'gt/c.png', key: 'c' });
    assert.equal(groundTruthKey('shoot/a.jpg'), 'shoot/a');
    assert.equal(groundTruthKey('c.jpeg'), 'c');
  });

  it('keeps images in other folders, and a folder merely containing "gt", as images', () => {
    assert.equal(classifyEntry('shoot/gt-2/a.png').kind, 'image');
    assert.equal(classifyEntry('gt/sub/a.png').kind, 'image');
    assert.deepEqual(classifyEntry('shoot/gt/notes.txt'), { kind: 'skip', reason: 'not an image' });
  });
});
