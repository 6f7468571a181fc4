// Why a file was not imported. Codes are stable (the UI groups and explains them); the message
// names the file's actual problem.

export const SKIP_REASONS = [
  /** Zero bytes. */
  'empty',
  /** Not an image type we read (by extension or content), or an image variant we cannot decode. */
  'unsupported',
  /** Claims to be an image but its bytes do not decode (truncated, damaged, wrong extension). */
  'corrupt',
  /** Over the pixel or file-size limit (decompression-bomb guard). */
  'too-large',
  /** The file system refused to read it. */
  'unreadable',
  /** A caption sidecar with no image of the same name next to it. */
  'orphan-caption',
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

export class ImageError extends Error {
  constructor(
    readonly reason: SkipReason,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}
