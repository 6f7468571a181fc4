// Caption editing as pure functions: captions are comma-separated tags (kohya/booru style), and
// the bulk tools (find/replace, add/remove a tag, tag counts) work on that view of them.

/** The tags of a caption: split on commas, trimmed, empty ones dropped. */
export function splitTags(caption: string): string[] {
  return caption
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

export function joinTags(tags: readonly string[]): string {
  return tags.join(', ');
}

/** Adds `tag` (at the front, where trigger words go) unless the caption has it already. */
export function addTag(caption: string, tag: string): string {
  const t = tag.trim();
  if (!t) return caption;
  const tags = splitTags(caption);
  return tags.includes(t) ? caption : joinTags([t, ...tags]);
}

export function removeTag(caption: string, tag: string): string {
  const t = tag.trim();
  const tags = splitTags(caption);
  return tags.includes(t) ? joinTags(tags.filter((x) => x !== t)) : caption;
}

/** Plain-text (not regex) find and replace of every occurrence. */
export function replaceText(caption: string, find: string, replacement: string): string {
  return find ? caption.split(find).join(replacement) : caption;
}

/** Tag → number of captions that have it, most frequent first (ties by name). */
export function tagFrequency(captions: readonly string[]): { tag: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const caption of captions) {
    for (const tag of new Set(splitTags(caption))) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}
