// How a generated caption meets the existing one: overwrite, append (new pieces only), only-empty,
// and the trigger word kept first exactly once.
import { describe, expect, it } from 'vitest';
import { mergeCaption, type CaptionMode } from '../../core/dataset/index.js';

describe('mergeCaption', () => {
  it('overwrite replaces the caption; only-empty fills empty ones and leaves the rest', () => {
    expect(mergeCaption('old, tags', '1girl, solo', { mode: 'overwrite' })).toBe('1girl, solo');
    expect(mergeCaption('  ', '1girl, solo', { mode: 'only-empty' })).toBe('1girl, solo');
    expect(mergeCaption('my cat', '1girl', { mode: 'only-empty' })).toBeNull();
  });

  it('append adds only the pieces the caption lacks (ignoring case), keeping its text', () => {
    expect(mergeCaption('Red Fox, snow', 'snow, red fox, tree, tree', { mode: 'append' })).toBe(
      'Red Fox, snow, tree',
    );
    expect(mergeCaption('', 'a cat on a sofa.', { mode: 'append' })).toBe('a cat on a sofa.');
  });

  it('puts the trigger word first, once, in every mode', () => {
    expect(mergeCaption('', 'solo, sks', { mode: 'overwrite', trigger: ' sks ' })).toBe(
      'sks, solo',
    );
    expect(mergeCaption('SKS, fox', 'tree', { mode: 'append', trigger: 'sks' })).toBe(
      'sks, fox, tree',
    );
    expect(mergeCaption('', 'tree', { mode: 'only-empty', trigger: '' })).toBe('tree');
  });

  it('names a bad mode and the valid ones', () => {
    expect(() => mergeCaption('', 'x', { mode: 'replace' as CaptionMode })).toThrow(
      'caption mode "replace" is not one of overwrite, append, only-empty',
    );
  });
});
