// How a generated caption meets the one an image already has: overwrite, append (new tags
// only) or only-empty, with an optional trigger word kept at the front.
export const CAPTION_MODES = ['overwrite', 'append', 'only-empty'] as const;
export type CaptionMode = (typeof CAPTION_MODES)[number];

export interface MergeOptions {
  mode: CaptionMode;
  /** Trigger word(s) put first, once (e.g. `sks style`). */
  trigger?: string;
}

// Case is kept: captions are the artist's text.
const tagsOf = (caption: string) =>
  caption
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/**
 * The caption to store, or null to leave the image alone (only-empty on a captioned image).
 * Append adds the generated pieces the caption lacks (comma-separated, case-insensitive).
 */
export function mergeCaption(existing: string, generated: string, o: MergeOptions): string | null {
  if (!(CAPTION_MODES as readonly string[]).includes(o.mode)) {
    throw new Error(`caption mode "${o.mode}" is not one of ${CAPTION_MODES.join(', ')}`);
  }
  if (o.mode === 'only-empty' && existing.trim()) return null;
  let pieces = o.mode === 'append' ? tagsOf(existing) : [];
  const have = new Set(pieces.map((p) => p.toLowerCase()));
  for (const p of tagsOf(generated)) {
    if (!have.has(p.toLowerCase())) {
      pieces.push(p);
      have.add(p.toLowerCase());
    }
  }
  const trigger = o.trigger?.trim();
  if (trigger) {
    pieces = [trigger, ...pieces.filter((p) => p.toLowerCase() !== trigger.toLowerCase())];
  }
  return pieces.join(', ');
}
