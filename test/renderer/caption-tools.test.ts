// The bulk caption tools of the dataset editor, as pure functions.
import { describe, expect, it } from 'vitest';
import {
  addTag,
  removeTag,
  replaceText,
  splitTags,
  tagFrequency,
} from '../../renderer/src/caption-tools.js';

describe('caption tools', () => {
  it('splits captions into trimmed, non-empty tags', () => {
    expect(splitTags(' red fox ,, snow,  ')).toEqual(['red fox', 'snow']);
    expect(splitTags('')).toEqual([]);
  });

  it('adds a tag at the front once, and removes only whole tags', () => {
    expect(addTag('red fox, snow', 'my_trigger')).toBe('my_trigger, red fox, snow');
    expect(addTag('my_trigger, snow', ' my_trigger ')).toBe('my_trigger, snow');
    expect(addTag('', 'x')).toBe('x');
    expect(addTag('a, b', '  ')).toBe('a, b');
    expect(removeTag('red fox, fox, snow', 'fox')).toBe('red fox, snow');
    expect(removeTag('red fox, snow', 'fox')).toBe('red fox, snow');
  });

  it('replaces plain text everywhere (no regex meaning)', () => {
    expect(replaceText('a.b a.b', 'a.b', 'c')).toBe('c c');
    expect(replaceText('(x) [y]', '(x)', 'z')).toBe('z [y]');
    expect(replaceText('keep', '', 'z')).toBe('keep');
  });

  it('counts each tag once per caption, most frequent first, ties by name', () => {
    expect(tagFrequency(['b, a, a', 'a, c', 'c'])).toEqual([
      { tag: 'a', count: 2 },
      { tag: 'c', count: 2 },
      { tag: 'b', count: 1 },
    ]);
  });
});
